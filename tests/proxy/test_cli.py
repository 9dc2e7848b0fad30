"""`svcscope proxy-mode` as an admin runs it: a subprocess against the sim through a kubeconfig."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from kubernetes import client as k8s

from tests.conftest import wait_for
from tests.proxy.cluster import IPVS_MODULES, NO_IPVS_MODULES, kube_proxy_pods, seed, settled
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import KubeProxyPods

REPO = Path(__file__).resolve().parents[2]
HOME = tempfile.TemporaryDirectory(prefix="svcscope-home-")  # backups land in $HOME/.local/state, not in the repo


def svcscope(*args: str, timeout: float = 120, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": HOME.name, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tui", "proxy-mode", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout, stdin=subprocess.DEVNULL)



def test_status_shows_configured_and_running_per_node(sim: SimCluster, sim_kubeconfig: Path,
                                                      kp: KubeProxyPods) -> None:
    api = sim.api_client()
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES})
    pods = settled(api, 2, ready=1)
    wait_for(lambda: next(p for p in kube_proxy_pods(api) if p.node_name == "node2").crash_looping,
             timeout=60, message="node2 crash looping")
    res = svcscope("--kubeconfig", str(sim_kubeconfig), "--node", "node1",
                   "--metrics-address", kp.addresses()["node1"])
    assert res.returncode == 8, res.stderr  # a pod is not Ready
    lines = res.stdout.splitlines()
    assert lines[1].startswith("configured: mode ipvs; ipvs scheduler rr, strictARP false, syncPeriod 30s")
    assert "excludeCIDRs 10.103.0.0/16; metrics 127.0.0.1:10249" in lines[1]
    assert lines[2].split() == ["NODE", "POD", "STATUS", "RESTARTS", "RUNNING"]
    assert lines[3].split() == ["node1", pods["node1"].name, "Running", "0", "ipvs/rr"]
    assert lines[4].split()[:3] == ["node2", pods["node2"].name, "CrashLoopBackOff"]

    js = svcscope("--kubeconfig", str(sim_kubeconfig), "--node", "node1",
                  "--metrics-address", kp.addresses()["node1"], "-o", "json")
    data = json.loads(js.stdout)
    assert data["configured"]["mode"] == "ipvs"
    assert [(n["node"], n["runningMode"], n["ready"]) for n in data["nodes"]] == [
        ("node1", "ipvs", True), ("node2", "", False)]


def test_status_flags_a_node_running_another_mode(sim: SimCluster, sim_kubeconfig: Path, kp: KubeProxyPods) -> None:
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    seed(api, "iptables", {"node1": IPVS_MODULES})
    settled(api, 1)
    cm = core.read_namespaced_config_map("kube-proxy", "kube-system")  # edited by hand, pods not restarted
    cm.data["config.conf"] = cm.data["config.conf"].replace("mode: iptables", "mode: nftables")
    core.replace_namespaced_config_map("kube-proxy", "kube-system", cm)
    res = svcscope("--kubeconfig", str(sim_kubeconfig), "--node", "node1",
                   "--metrics-address", kp.addresses()["node1"])
    assert res.returncode == 8
    row = next(ln for ln in res.stdout.splitlines() if ln.startswith("node1"))
    assert row.split()[4] == "iptables" and row.endswith("! differs from configured nftables")


def test_status_is_0_when_configured_and_running_agree(sim: SimCluster, sim_kubeconfig: Path,
                                                       kp: KubeProxyPods) -> None:
    api = sim.api_client()
    seed(api, "nftables", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    settled(api, 2)
    res = svcscope("--kubeconfig", str(sim_kubeconfig), "--node", "node1",
                   "--metrics-address", kp.addresses()["node1"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert [ln.split()[4] for ln in res.stdout.splitlines()[3:5]] == ["nftables", "?"]  # node2 is not this node


def test_read_only_blocks_the_switch_with_the_reason(sim: SimCluster, sim_kubeconfig: Path) -> None:
    seed(sim.api_client(), "iptables")
    res = svcscope("--kubeconfig", str(sim_kubeconfig), "--set", "ipvs", "--yes", "--read-only")
    assert res.returncode == 6
    assert res.stderr.strip() == ("svcscope proxy-mode: switching kube-proxy to mode ipvs is blocked: svcscope was "
                                  "started with --read-only; nothing was changed.")
    cm = k8s.CoreV1Api(sim.api_client()).read_namespaced_config_map("kube-proxy", "kube-system")
    assert "mode: iptables" in cm.data["config.conf"]


def test_without_a_terminal_the_switch_needs_yes(sim: SimCluster, sim_kubeconfig: Path, kp: KubeProxyPods) -> None:
    seed(sim.api_client(), "iptables")
    res = svcscope("--kubeconfig", str(sim_kubeconfig), "--set", "nftables", "--node", "node1",
                   "--metrics-address", kp.addresses()["node1"])
    assert res.returncode == 7
    assert "add --yes to confirm without a terminal" in res.stderr
    assert "+mode: nftables # iptables until the IPVS rollout (CHG-1042)" in res.stdout
    assert "[dry-run] ok: the API server accepts the change (server-side dry run)" in res.stdout


def test_usage_errors_and_an_unreachable_cluster(tmp_path: Path) -> None:
    res = svcscope("--set", "ipvs", "--rollback")
    assert res.returncode == 2 and "cannot be combined" in res.stderr
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    res = svcscope("--kubeconfig", str(kubeconfig))
    assert res.returncode == 1
    assert res.stderr.startswith("svcscope proxy-mode: ") and "Traceback" not in res.stderr
    assert "check that the cluster is reachable" in res.stderr or "cannot reach" in res.stderr
