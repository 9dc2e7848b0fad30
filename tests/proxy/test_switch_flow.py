"""The whole switch in the sim, through the real client over HTTP: every direction, a crashing rollout rolled back,
a forced preflight, a scheduler change, the fallback when the DaemonSet cannot be patched, and an on-demand rollback.

kube-proxy pods come from the sim's DaemonSet controller (node by node on a rollout restart) and are started by its
kubelet; what each runs is read back from its node's emulated /proxyMode and /configz, as on a real node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from kubernetes import client as k8s

from tests.conftest import wait_for
from tests.proxy.cluster import IPVS_MODULES, NO_IPVS_MODULES, kube_proxy_pods, seed, settled
from tui.kube.guard import Guard
from tui.kube.proxy_config import ConfigChange, parse
from tui.kube.proxy_switch import NodeProgress, ProxySwitch, RolloutProgress, StepStarted, fetch_running
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy import KubeProxyEmulator, ensure_emulator
from tui.sim.kubeproxy_pods import MODE_ANNOTATION, SCHEDULER_ANNOTATION, KubeProxyPods, ensure_kube_proxy
from tui.sim.rbac import READ_VERBS, RbacRules, Rule

THREE = {"node1": IPVS_MODULES, "node2": IPVS_MODULES, "node3": IPVS_MODULES}


def make_switch(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path, events: list, node: str = "node1",
                api: k8s.ApiClient | None = None) -> ProxySwitch:
    return ProxySwitch(api or sim.api_client(), guard=Guard(), node_env=kp.node_env(node), this_node=node,
                       locator=kp.locator(), state_path=tmp_path / "state", on_event=events.append,
                       poll_interval=0.1, rollout_timeout=90)


def running_modes(kp: KubeProxyPods, nodes: list[str]) -> dict[str, str]:
    return {n: fetch_running(kp.addresses()[n]).mode for n in nodes}


def web_service(api: k8s.ApiClient) -> None:
    """A Service with two endpoints (selectorless, its EndpointSlice written as an operator would)."""
    core = k8s.CoreV1Api(api)
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise
    core.create_namespaced_service("dev", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                           "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    k8s.DiscoveryV1Api(api).create_namespaced_endpoint_slice("dev", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-manual", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "node1"},
                      {"addresses": ["10.244.2.7"], "conditions": {"ready": True}, "nodeName": "node2"}]})


def schedulers(emulator: KubeProxyEmulator) -> set[str]:
    return {vs.scheduler for vs in emulator.table.virtual_servers}


def test_every_direction(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    """iptables -> ipvs -> nftables -> iptables, each verified on every node by kube-proxy's own answer."""
    api = sim.api_client()
    seed(api, "iptables", THREE)
    before = settled(api, 3)
    nodes = sorted(THREE)
    assert running_modes(kp, nodes) == {n: "iptables" for n in nodes}
    seen_uids = {p.uid for p in before.values()}
    for target in ("ipvs", "nftables", "iptables"):
        events: list = []
        out = make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode=target), confirm=lambda m, r: True)
        assert out.ok, out.message
        assert out.message.startswith(f"switched kube-proxy to mode {target}: kube-proxy runs {target} (3 node(s) "
                                      "confirmed by /proxyMode)")
        after = settled(api, 3).values()
        assert not ({p.uid for p in after} & seen_uids), "every kube-proxy pod was replaced"
        seen_uids |= {p.uid for p in after}
        assert {dict(p.annotations)[MODE_ANNOTATION] for p in after} == {target}
        assert running_modes(kp, nodes) == {n: target for n in nodes}
        assert [s for s, _ in out.steps] == ["read", "preflight", "dry-run", "backup", "apply", "restart",
                                             "rollout", "verify"]
        progress = [e for e in events if isinstance(e, RolloutProgress)]
        assert progress[-1].done == progress[-1].total == 3
        # Node by node: the rollout never had two nodes without a Ready kube-proxy at once.
        assert all(sum(1 for p in e.nodes if not p.ready) <= 1 for e in progress)
        assert {e.node for e in events if isinstance(e, NodeProgress) and e.done} == set(nodes)


def test_crashing_rollout_is_rolled_back(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    """node2 lacks ip_vs: its new kube-proxy crash loops, the switch rolls back, every node runs iptables again."""
    api = sim.api_client()
    seed(api, "iptables", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES, "node3": IPVS_MODULES})
    settled(api, 3)
    events: list = []
    out = make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True)
    assert not out.ok and out.rolled_back
    assert "kube-proxy on node2 is in CrashLoopBackOff" in out.message
    assert "rolled back to kube-proxy-backup-" in out.message
    steps = [s for s, _ in out.steps]
    assert steps[:7] == ["read", "preflight", "dry-run", "backup", "apply", "restart", "rollout"]
    assert steps[7:] == ["rollback-dry-run", "rollback", "restart", "rollout", "verify-rollback"]
    assert out.steps[6][1].ok is False and out.steps[-1][1].ok
    cm = k8s.CoreV1Api(api).read_namespaced_config_map("kube-proxy", "kube-system")
    assert parse(cm.data["config.conf"]).mode == "iptables"
    after = settled(api, 3).values()
    assert {dict(p.annotations)[MODE_ANNOTATION] for p in after} == {"iptables"}
    assert all(not p.crash_looping for p in after)
    assert running_modes(kp, ["node1", "node2", "node3"]) == {n: "iptables" for n in ("node1", "node2", "node3")}


def test_failed_preflight_can_be_forced_and_the_crash_is_still_caught(sim: SimCluster, kp: KubeProxyPods,
                                                                      tmp_path: Path) -> None:
    api = sim.api_client()
    seed(api, "iptables", {"node1": NO_IPVS_MODULES, "node2": IPVS_MODULES})
    settled(api, 2)
    events: list = []
    blocked = make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True)
    assert blocked.blocked and not blocked.ok
    forced = make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True,
                                                        force=True)
    assert dict(forced.steps)["preflight"].message.endswith("; overridden with --force")
    assert not forced.ok and forced.rolled_back and "kube-proxy on node1 is in CrashLoopBackOff" in forced.message
    settled(api, 2)
    assert running_modes(kp, ["node1", "node2"]) == {"node1": "iptables", "node2": "iptables"}


def test_scheduler_and_strict_arp_change(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    """rr -> wrr: kube-proxy's /configz and the node's emulated IPVS table follow once the pods restarted."""
    api = sim.api_client()
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    emulator = ensure_emulator(sim, "node1")
    web_service(api)
    settled(api, 2)
    assert fetch_running(kp.addresses()["node1"]).scheduler in ("", "rr")
    wait_for(lambda: schedulers(emulator) == {"rr"}, timeout=30, message="the IPVS table in rr")
    assert [len(vs.real_servers) for vs in emulator.table.virtual_servers] == [2]
    events: list = []
    out = make_switch(sim, kp, tmp_path, events).run(ConfigChange(scheduler="wrr", strict_arp=True),
                                                     confirm=lambda m, r: True)
    assert out.ok, out.message
    assert out.message.startswith("switched kube-proxy to IPVS scheduler wrr, strictARP true: kube-proxy runs ipvs")
    after = settled(api, 2).values()
    assert {dict(p.annotations)[SCHEDULER_ANNOTATION] for p in after} == {"wrr"}
    for node in ("node1", "node2"):
        running = fetch_running(kp.addresses()[node])
        assert (running.mode, running.scheduler) == ("ipvs", "wrr")
    cfg = parse(k8s.CoreV1Api(api).read_namespaced_config_map("kube-proxy", "kube-system").data["config.conf"])
    assert (cfg.scheduler, cfg.strict_arp, cfg.mode) == ("wrr", True, "ipvs")
    wait_for(lambda: schedulers(emulator) == {"wrr"}, timeout=30, message="the IPVS table in wrr")


def test_ipvs_table_appears_and_disappears_with_the_mode(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    api = sim.api_client()
    seed(api, "iptables", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    emulator = ensure_emulator(sim, "node1")
    web_service(api)
    settled(api, 2)
    assert emulator.table.virtual_servers == ()
    events: list = []
    assert make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode="ipvs"), confirm=lambda m, r: True).ok
    wait_for(lambda: schedulers(emulator) == {"rr"}, timeout=30, message="IPVS rules once kube-proxy runs ipvs")
    assert make_switch(sim, kp, tmp_path, events).run(ConfigChange(mode="nftables"), confirm=lambda m, r: True).ok
    wait_for(lambda: emulator.table.virtual_servers == (), timeout=30, message="no IPVS rules in nftables mode")


@pytest.fixture
def sim_no_ds_patch() -> Iterator[SimCluster]:
    """A cluster whose user may do everything except patch DaemonSets (RBAC), so a rollout restart is refused."""
    rules = RbacRules([Rule(READ_VERBS), Rule(("*",), resources=("configmaps", "pods", "nodes", "namespaces")),
                       Rule(("create",), resources=("daemonsets",))])
    cluster = SimCluster(scenario="empty", rbac=rules).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_restart_falls_back_to_deleting_pods_node_by_node(sim_no_ds_patch: SimCluster, tmp_path: Path) -> None:
    sim = sim_no_ds_patch
    kp = ensure_kube_proxy(sim)
    api = sim.api_client()
    seed(api, "iptables", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    settled(api, 2)
    events: list = []
    out = make_switch(sim, kp, tmp_path, events, api=api).run(ConfigChange(mode="nftables"), confirm=lambda m, r: True)
    assert out.ok, out.message
    restart = dict(out.steps)["restart"]
    assert "the rollout restart was refused" in restart.message
    assert restart.message.endswith("falling back to deleting the pods labelled k8s-app=kube-proxy node by node")
    settled(api, 2)
    assert running_modes(kp, ["node1", "node2"]) == {"node1": "nftables", "node2": "nftables"}


def test_rollback_on_demand(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    api = sim.api_client()
    seed(api, "iptables", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    settled(api, 2)
    events: list = []
    sw = make_switch(sim, kp, tmp_path, events)
    assert sw.run(ConfigChange(mode="nftables"), confirm=lambda m, r: True).ok
    settled(api, 2)
    out = sw.rollback(confirm=lambda m, r: "-mode: nftables" in m.preview and "+mode: iptables" in m.preview)
    assert out.ok and out.rolled_back, out.message
    assert out.message.startswith("kube-proxy runs iptables again: kube-proxy runs iptables")
    settled(api, 2)
    assert running_modes(kp, ["node1", "node2"]) == {"node1": "iptables", "node2": "iptables"}
    assert [e.step for e in events if isinstance(e, StepStarted)][-4:] == ["rollback", "restart", "rollout", "verify"]


def test_a_stalled_rollout_times_out_and_says_so(sim: SimCluster, kp: KubeProxyPods, tmp_path: Path) -> None:
    """New pods that never get Ready (nor crash) stall the rollout: it fails after the timeout without progress,
    and the rollback, stalled the same way, is reported as failed too rather than hanging."""
    api = sim.api_client()
    seed(api, "iptables", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    settled(api, 2)
    # From now on the DaemonSet's pods start unready (the kubelet emulation's readiness knob); that change of the
    # template is itself a rollout, which stalls at its first node.
    unready = {"spec": {"template": {"metadata": {"annotations": {"sim.svcscope.io/ready": "false"}}}}}
    k8s.AppsV1Api(api).patch_namespaced_daemon_set("kube-proxy", "kube-system", unready,
                                                   _content_type="application/strategic-merge-patch+json")
    wait_for(lambda: any(not p.ready for p in kube_proxy_pods(api)), timeout=60, message="an unready kube-proxy")
    events: list = []
    sw = make_switch(sim, kp, tmp_path, events)
    sw.rollout_timeout = 3
    out = sw.run(ConfigChange(mode="nftables"), confirm=lambda m, r: True)
    assert not out.ok and not out.rolled_back
    assert out.message.startswith("the switch to mode nftables made no progress for 3s: node")
    assert "; the rollback failed too: the rollback to iptables made no progress for 3s" in out.message
