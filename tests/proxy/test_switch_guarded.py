"""The guarded parts of a switch, through the real client against the sim: read-only, preflight, a concurrent edit,
the backup, and the typed events a screen draws from."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.proxy.cluster import NO_IPVS_MODULES, seed
from tests.proxy.kubeadm_config import with_mode
from tui.kube.guard import Guard, ReadOnlyError
from tui.kube.proxy_config import ConfigChange, parse
from tui.kube.proxy_switch import (
    DiffReady,
    PreflightDone,
    ProxySwitch,
    StepFinished,
    StepStarted,
    state_dir,
)
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import KubeProxyPods

FIXED = datetime(2026, 11, 27, 15, 5, 38, tzinfo=timezone.utc)


def switch_for(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path, events: list, node: str = "node1",
               read_only: bool = False) -> ProxySwitch:
    return ProxySwitch(sim.api_client(), guard=Guard(read_only=read_only), node_env=kp.node_env(node),
                       this_node=node, locator=kp.locator(), state_path=tmp_path / "state", on_event=events.append,
                       clock=lambda: FIXED, poll_interval=0.05, rollout_timeout=30)



def config_text(sim: SimCluster) -> str:
    return k8s.CoreV1Api(sim.api_client()).read_namespaced_config_map("kube-proxy", "kube-system").data["config.conf"]


def test_read_only_blocks_with_the_reason_before_reading(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    seed(sim.api_client(), "iptables")
    events: list = []
    sw = switch_for(sim, kp, tmp_path, events, read_only=True)
    with pytest.raises(ReadOnlyError,
                       match="switching kube-proxy to mode ipvs is blocked: svcscope was started with --read-only"):
        sw.run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True)
    with pytest.raises(ReadOnlyError, match="rolling back kube-proxy's configuration is blocked"):
        sw.rollback()
    assert events == [] and parse(config_text(sim)).mode == "iptables"


def test_failed_preflight_blocks_and_writes_nothing(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    seed(sim.api_client(), "iptables", {"node1": NO_IPVS_MODULES})
    events: list = []
    confirmed: list = []
    out = switch_for(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"),
                                                    confirm=lambda m, r: confirmed.append(m) or True)
    assert out.blocked and not out.ok and confirmed == []
    assert out.message.startswith(
        "preflight for ipvs failed on 2 check(s) (kernel module ip_vs, kernel module ip_vs_rr)")
    pre = next(e.preflight for e in events if isinstance(e, PreflightDone))
    assert [c.status for c in pre.checks][:2] == ["fail", "fail"]
    assert parse(config_text(sim)).mode == "iptables"
    assert k8s.CoreV1Api(sim.api_client()).list_namespaced_config_map(
        "kube-system", label_selector="svcscope.io/backup-of=kube-proxy").items == []


def test_declined_confirmation_changes_nothing(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    seed(sim.api_client(), "iptables")
    events: list = []
    seen: list = []
    out = switch_for(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"),
                                                    confirm=lambda m, r: seen.append((m.preview, r.message)) and False)
    assert out.declined and not out.ok
    preview, dry = seen[0]
    assert "-mode: iptables # iptables until" in preview and "+mode: ipvs # iptables until" in preview
    assert dry == "the API server accepts the change (server-side dry run)"
    assert [e.step for e in events if isinstance(e, StepStarted)] == ["read", "preflight", "dry-run"]
    assert next(e for e in events if isinstance(e, DiffReady)).diff == preview
    assert parse(config_text(sim)).mode == "iptables"


def test_concurrent_edit_between_read_and_patch_is_a_clear_conflict(sim: SimCluster, kp: KubeProxyPods,
                                                                    tmp_path: Path) -> None:
    """Someone edits the ConfigMap while the admin reads the diff: svcscope's patch must not overwrite it."""
    seed(sim.api_client(), "iptables")
    core = k8s.CoreV1Api(sim.api_client())
    their_text = with_mode("nftables").replace("syncPeriod: 30s", "syncPeriod: 45s")

    def someone_else_edits(mutation, dry_run) -> bool:
        cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
        cm.data["config.conf"] = their_text
        core.replace_namespaced_config_map("kube-proxy", "kube-system", cm)
        return True

    events: list = []
    out = switch_for(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=someone_else_edits)
    assert out.conflict and not out.ok and not out.rolled_back
    assert out.message.startswith("the kube-proxy ConfigMap was changed by someone else since svcscope read it")
    assert out.message.endswith("nothing was written: run the switch again to see their change in the diff")
    assert config_text(sim) == their_text  # their edit is intact: nothing lost
    # The backup was taken before the write and holds what svcscope read.
    assert out.backup is not None and out.backup.name == "kube-proxy-backup-20261127-150538"
    backup = core.read_namespaced_config_map(out.backup.name, "kube-system")
    assert backup.data["config.conf"] == with_mode("iptables")
    assert [s for s, _ in out.steps] == ["read", "preflight", "dry-run", "backup", "apply"]


def test_backup_lands_in_the_cluster_and_the_state_dir(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    seed(sim.api_client(), "ipvs")
    events: list = []
    sw = switch_for(sim, kp, tmp_path, events)
    state = sw.read()
    first = sw.backup(state)
    second = sw.backup(state)  # the same second: a distinct name, never an overwrite
    assert (first.name, second.name) == ("kube-proxy-backup-20261127-150538", "kube-proxy-backup-20261127-150538-1")
    assert first.file == tmp_path / "state" / "kube-proxy-backups" / "kube-proxy-backup-20261127-150538.config.conf"
    assert first.file.read_text() == state.text
    meta = json.loads(first.file.with_suffix(".json").read_text())
    assert meta["resourceVersion"] == state.resource_version and meta["data"] == state.data
    assert sw.latest_backup().name == second.name and sw.latest_backup().mode == "ipvs"


def test_state_dir_follows_xdg() -> None:
    assert state_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/home/a"}) == Path("/x/state/svcscope")
    assert state_dir({"HOME": "/home/a"}) == Path("/home/a/.local/state/svcscope")


def test_nothing_to_do_when_already_configured(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    seed(sim.api_client(), "ipvs")
    events: list = []
    out = switch_for(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True)
    assert out.ok and out.message == "kube-proxy is already configured with mode ipvs; nothing to do"
    assert [e.step for e in events if isinstance(e, StepFinished)] == ["read"]
