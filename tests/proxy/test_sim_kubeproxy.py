"""The emulated kube-proxy: pods run the mode their ConfigMap said when they started, crash where they cannot, and
answer /proxyMode and /configz on their node's loopback address like kube-proxy."""

from __future__ import annotations

import json
import urllib.request

from kubernetes import client as k8s

from tests.conftest import wait_for
from tests.proxy.cluster import IPVS_MODULES, NO_IPVS_MODULES, seed
from tests.proxy.kubeadm_config import with_mode
from tui.kube.models import PodView
from tui.kube.preflight import run_preflight
from tui.kube.proxy_switch import fetch_running
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import MODE_ANNOTATION, KubeProxyPods, can_run



def start_pod(core: k8s.CoreV1Api, name: str, node: str) -> None:
    """A kube-proxy pod bound to `node`, as the DaemonSet controller creates it."""
    core.create_namespaced_pod("kube-system", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {"nodeName": node, "hostNetwork": True,
                 "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.32.0"}]}})


def pod(core: k8s.CoreV1Api, name: str) -> PodView:
    return PodView.from_api(json.loads(core.read_namespaced_pod(name, "kube-system", _preload_content=False).data))


def test_can_run_follows_the_node_modules() -> None:
    lacking = {"metadata": {"annotations": {"sim.svcscope.io/kernel-modules": NO_IPVS_MODULES}}}
    ok, why = can_run("ipvs", "", lacking)
    assert not ok and why == "can't use the IPVS proxier: ipvs not supported by the kernel"
    assert can_run("iptables", "", lacking) == (True, "")
    assert can_run("nftables", "", lacking) == (True, "")
    no_wrr = {"metadata": {"annotations": {"sim.svcscope.io/kernel-modules": "ip_vs,ip_vs_rr,nf_conntrack,ip_set"}}}
    assert can_run("ipvs", "rr", no_wrr)[0] and not can_run("ipvs", "wrr", no_wrr)[0]
    assert can_run("ipvs", "", {"metadata": {}}) == (True, "")  # no annotation: every module


def test_pod_runs_the_mode_of_its_start_and_serves_it(sim: SimCluster, kp: KubeProxyPods) -> None:
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES})
    start_pod(core, "kube-proxy-a", "node1")
    p = wait_for(lambda: (v := pod(core, "kube-proxy-a")).ready and v, message="kube-proxy-a Ready")
    assert dict(p.annotations)[MODE_ANNOTATION] == "ipvs" and p.restarts == 0
    url = kp.addresses()["node1"]
    running = fetch_running(url)
    assert (running.mode, running.scheduler or "rr", running.error) == ("ipvs", "rr", "")
    with urllib.request.urlopen(url + "/configz") as resp:
        assert json.loads(resp.read())["kubeproxy.config.k8s.io"]["Mode"] == "ipvs"

    # kube-proxy does not reload its ConfigMap: the running pod keeps ipvs after the ConfigMap says nftables.
    cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
    cm.data["config.conf"] = with_mode("nftables")
    core.replace_namespaced_config_map("kube-proxy", "kube-system", cm)
    assert fetch_running(url).mode == "ipvs"
    start_pod(core, "kube-proxy-b", "node2")  # a pod started now reads the new mode
    wait_for(lambda: pod(core, "kube-proxy-b").ready, message="kube-proxy-b Ready")
    assert fetch_running(kp.addresses()["node2"]).mode == "nftables"


def test_pod_crash_loops_where_its_mode_cannot_run(sim: SimCluster, kp: KubeProxyPods) -> None:
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    seed(api, "ipvs", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES})
    start_pod(core, "kube-proxy-c", "node2")
    p = wait_for(lambda: (v := pod(core, "kube-proxy-c")).restarts >= 2 and v, message="restarts growing")
    assert p.crash_looping and not p.ready and p.waiting_reason == "CrashLoopBackOff"
    term = p.raw["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert term["message"].startswith("can't use the IPVS proxier: ")
    running = fetch_running(kp.addresses()["node2"])
    assert running.mode == "" and "does not answer" in running.error


def test_emulated_node_tree_feeds_the_preflight(sim: SimCluster, kp: KubeProxyPods) -> None:
    seed(sim.api_client(), "iptables", {"node1": IPVS_MODULES, "node2": NO_IPVS_MODULES})
    assert not run_preflight("ipvs", env=kp.node_env("node1")).blocked
    pre = run_preflight("ipvs", env=kp.node_env("node2"))
    assert [c.name for c in pre.failed] == ["kernel module ip_vs", "kernel module ip_vs_rr"]
