"""The emulated kube-proxy: each node's pod runs the mode its ConfigMap said when it started, crashes where it cannot,
and answers /proxyMode and /configz on its node's loopback address like kube-proxy."""

from __future__ import annotations

import json
import urllib.request

from kubernetes import client as k8s

from tests.conftest import wait_for
from tests.proxy.cluster import IPVS_MODULES, NO_IPVS_MODULES, kube_proxy_pods, seed, settled
from tests.proxy.kubeadm_config import with_mode
from tui.kube.preflight import run_preflight
from tui.kube.proxy_switch import fetch_running
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import MODE_ANNOTATION, KubeProxyPods


def test_pod_runs_the_mode_of_its_start_and_serves_it(sim: SimCluster, kp: KubeProxyPods) -> None:
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": IPVS_MODULES})
    pods = settled(api, 2)
    assert dict(pods["node1"].annotations)[MODE_ANNOTATION] == "ipvs" and pods["node1"].restarts == 0
    url = kp.addresses()["node1"]
    running = fetch_running(url)
    assert (running.mode, running.scheduler or "rr", running.error) == ("ipvs", "rr", "")
    with urllib.request.urlopen(url + "/configz") as resp:
        cfg = json.loads(resp.read())["kubeproxy.config.k8s.io"]
    assert (cfg["Mode"], cfg["IPVS"]["SyncPeriod"], cfg["IPVS"]["ExcludeCIDRs"]) == ("ipvs", "30s", ["10.103.0.0/16"])

    # kube-proxy does not reload its ConfigMap: the running pods keep ipvs after the ConfigMap says nftables.
    cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
    cm.data["config.conf"] = with_mode("nftables")
    core.replace_namespaced_config_map("kube-proxy", "kube-system", cm)
    assert fetch_running(kp.addresses()["node2"]).mode == "ipvs"
    # A pod started now (the DaemonSet replaces a deleted one) reads the new mode.
    core.delete_namespaced_pod(pods["node2"].name, "kube-system")
    wait_for(lambda: fetch_running(kp.addresses()["node2"]).mode == "nftables", timeout=60,
             message="node2's new kube-proxy runs nftables")
    assert fetch_running(url).mode == "ipvs"


def test_pod_crash_loops_where_its_mode_cannot_run(sim: SimCluster, kp: KubeProxyPods) -> None:
    api = sim.api_client()
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES})
    pods = settled(api, 2, ready=1)
    assert pods["node1"].ready and not pods["node2"].ready
    p = wait_for(lambda: next((v for v in kube_proxy_pods(api) if v.node_name == "node2" and v.restarts >= 2), None),
                 timeout=60, message="node2's restarts growing")
    assert p.crash_looping and p.waiting_reason == "CrashLoopBackOff"
    term = p.raw["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert term["message"].startswith("can't use the IPVS proxier: ")
    running = fetch_running(kp.addresses()["node2"])
    assert running.mode == "" and "does not answer" in running.error
    assert fetch_running(kp.addresses()["node1"]).mode == "ipvs"


def test_emulated_node_tree_feeds_the_preflight(sim: SimCluster, kp: KubeProxyPods) -> None:
    seed(sim.api_client(), "iptables", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES, "node3": None})
    assert not run_preflight("ipvs", env=kp.node_env("node1")).blocked
    assert not run_preflight("ipvs", scheduler="mh", env=kp.node_env("node3")).blocked  # no annotation: every module
    pre = run_preflight("ipvs", env=kp.node_env("node2"))
    assert [c.name for c in pre.failed] == ["kernel module ip_vs", "kernel module ip_vs_rr"]
    assert not run_preflight("nftables", env=kp.node_env("node2")).blocked  # netfilter is on every node
