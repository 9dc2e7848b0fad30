"""Bundled scenarios and the large-cluster generator: what a user of `svcscope --demo` or `svcscope sim` finds."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.conftest import wait_for
from tui.kube import proxy_config
from tui.sim import scenario
from tui.sim.cluster import SimCluster
from tui.sim.controllers import Controllers
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

SVC, POD, SLICE, NODE = BY_KIND["Service"], BY_KIND["Pod"], BY_KIND["EndpointSlice"], BY_KIND["Node"]
DEPLOY, DS, CM = BY_KIND["Deployment"], BY_KIND["DaemonSet"], BY_KIND["ConfigMap"]
ALPHA = "[bcdfghjklmnpqrstvwxz2456789]"


def loaded(name: str) -> Store:
    st = Store()
    scenario.load_into(st, name)
    Controllers(st).sync()
    return st


def endpoints(st: Store, ns: str, svc: str) -> list[dict[str, Any]]:
    return [e for s in st.list(SLICE, ns)[0] if s["metadata"]["labels"].get("kubernetes.io/service-name") == svc
            for e in s.get("endpoints") or []]


@pytest.fixture(scope="module")
def tutorial() -> Store:
    return loaded("tutorial")


def test_tutorial_dev_namespace(tutorial: Store) -> None:
    pods = tutorial.list(POD, "dev")[0]
    assert len(pods) == 3
    h = pods[0]["metadata"]["labels"]["pod-template-hash"]
    for p in pods:
        assert re.fullmatch(f"pc-deployment-{h}-{ALPHA}{{5}}", p["metadata"]["name"])
        assert p["metadata"]["labels"]["app"] == "nginx-pod"
        assert p["spec"]["containers"][0]["image"] == "nginx:1.17.1"
        assert p["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
        assert p["status"]["phase"] == "Running"
    assert len({p["spec"]["nodeName"] for p in pods}) >= 2  # spread over the worker nodes
    pod_ips = {p["status"]["podIP"] for p in pods}
    for name in ("service-clusterip", "service-headliness", "service-nodeport"):
        eps = endpoints(tutorial, "dev", name)
        assert {e["addresses"][0] for e in eps} == pod_ips and all(e["conditions"]["ready"] for e in eps)
    clusterip = tutorial.get(SVC, "dev", "service-clusterip")["spec"]
    assert clusterip["type"] == "ClusterIP" and clusterip["clusterIP"].startswith("10.")
    assert clusterip["ports"] == [{"port": 80, "targetPort": 80, "protocol": "TCP"}]
    assert tutorial.get(SVC, "dev", "service-headliness")["spec"]["clusterIP"] == "None"
    nodeport = tutorial.get(SVC, "dev", "service-nodeport")["spec"]
    assert nodeport["type"] == "NodePort" and nodeport["ports"][0]["nodePort"] == 30002
    status = tutorial.get(DEPLOY, "dev", "pc-deployment")["status"]
    assert status["readyReplicas"] == 3 and status["replicas"] == 3


def test_tutorial_nodes(tutorial: Store) -> None:
    nodes = tutorial.list(NODE)[0]
    assert [n["metadata"]["name"] for n in nodes] == ["node1", "node2", "node3"]
    ips = [next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP") for n in nodes]
    assert ips == ["192.168.10.11", "192.168.10.12", "192.168.10.13"]
    assert [n["spec"]["podCIDR"] for n in nodes] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert all(n["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.32.") for n in nodes)
    assert all({c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"] == "True" for n in nodes)
    assert len({n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}) == 3


def test_tutorial_kubernetes_and_dns(tutorial: Store) -> None:
    k8s = tutorial.get(SVC, "default", "kubernetes")["spec"]
    assert k8s["clusterIP"] == "10.96.0.1" and k8s["ports"][0]["port"] == 443 and "selector" not in k8s
    assert [e["addresses"] for e in endpoints(tutorial, "default", "kubernetes")] == [["192.168.10.11"]]
    dns = tutorial.get(SVC, "kube-system", "kube-dns")["spec"]
    assert dns["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in dns["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    coredns = tutorial.list(POD, "kube-system", lambda p: p["metadata"]["labels"].get("k8s-app") == "kube-dns")[0]
    assert len(coredns) == 2
    [sl] = [s for s in tutorial.list(SLICE, "kube-system")[0]
            if s["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"]
    assert len(sl["endpoints"]) == 2 and [p["name"] for p in sl["ports"]] == ["dns", "dns-tcp", "metrics"]
    corefile = tutorial.get(CM, "kube-system", "coredns")["data"]["Corefile"]
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in corefile
    kubelet = yaml.safe_load(tutorial.get(CM, "kube-system", "kubelet-config")["data"]["kubelet"])
    assert kubelet["clusterDomain"] == "cluster.local" and kubelet["clusterDNS"] == ["10.96.0.10"]


def test_tutorial_kube_proxy(tutorial: Store) -> None:
    cm = tutorial.get(CM, "kube-system", "kube-proxy")
    assert sorted(cm["data"]) == ["config.conf", "kubeconfig.conf"]
    _, cfg = proxy_config.parse_configmap(dict(cm))
    assert (cfg.mode, cfg.scheduler_raw, cfg.strict_arp) == ("ipvs", "", False)
    assert cfg.raw["kind"] == "KubeProxyConfiguration" and cfg.raw["apiVersion"] == "kubeproxy.config.k8s.io/v1alpha1"
    ds = tutorial.get(DS, "kube-system", "kube-proxy")
    container = ds["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("registry.k8s.io/kube-proxy:v1.32.")
    assert "--config=/var/lib/kube-proxy/config.conf" in container["command"]
    assert "--hostname-override=$(NODE_NAME)" in container["command"]
    pods = tutorial.list(POD, "kube-system", lambda p: p["metadata"]["labels"].get("k8s-app") == "kube-proxy")[0]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node1", "node2", "node3"]
    assert all(re.fullmatch(f"kube-proxy-{ALPHA}{{5}}", p["metadata"]["name"]) for p in pods)
    assert ds["status"]["numberReady"] == 3


def test_tutorial_loads_the_same_every_time(tutorial: Store) -> None:
    again = loaded("tutorial")
    for res in (SVC, POD, SLICE):
        names = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in tutorial.list(res)[0]]
        assert names == [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in again.list(res)[0]]
    ips = [s["spec"].get("clusterIP") for s in tutorial.list(SVC)[0]]
    assert ips == [s["spec"].get("clusterIP") for s in again.list(SVC)[0]]


def test_broken_scenario() -> None:
    st = loaded("broken")
    [placeholder] = [s for s in st.list(SLICE, "broken")[0]
                     if s["metadata"]["labels"]["kubernetes.io/service-name"] == "no-pods"]
    assert placeholder["endpoints"] is None
    unready = endpoints(st, "broken", "all-unready")
    assert len(unready) == 2 and not any(e["conditions"]["ready"] for e in unready)
    [wrong] = [s for s in st.list(SLICE, "broken")[0]
               if s["metadata"]["labels"]["kubernetes.io/service-name"] == "wrong-port-name"]
    assert "ports" not in wrong and len(wrong["endpoints"]) == 2
    lb = st.get(SVC, "broken", "pending-lb")
    assert lb["spec"]["type"] == "LoadBalancer" and lb["status"] == {"loadBalancer": {}}
    assert endpoints(st, "broken", "selectorless") == []


def test_scenario_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'tutorail': choose one of tutorial, empty, broken"):
        scenario.load_into(Store(), "tutorail")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: {name: [\n")
    with pytest.raises(ValueError, match="is not valid YAML"):
        scenario.load_into(Store(), str(bad))
    odd = tmp_path / "odd.yaml"
    odd.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    with pytest.raises(ValueError, match="does not serve kind 'Secret'"):
        scenario.load_into(Store(), str(odd))
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: Web}\nspec: {ports: [{port: 80}]}\n")
    with pytest.raises(ValueError, match="cannot create Service 'Web': Service \"Web\" is invalid: metadata.name"):
        scenario.load_into(Store(), str(invalid))


def test_tutorial_through_the_api() -> None:
    """The real client sees the tutorial's endpoints, and a new Service gets its slice, over HTTP."""
    with SimCluster(scenario="tutorial") as sim:
        api = sim.api_client()
        core, disco = client.CoreV1Api(api), client.DiscoveryV1Api(api)
        svc = core.read_namespaced_service("service-nodeport", "dev")
        assert svc.spec.ports[0].node_port == 30002
        core.create_namespaced_service("dev", {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "nginx-pod"}, "ports": [{"port": 8080, "targetPort": 80}]}})

        def ready() -> int:
            items = disco.list_namespaced_endpoint_slice("dev", label_selector="kubernetes.io/service-name=web").items
            return sum(1 for s in items for e in s.endpoints or [] if e.conditions.ready)

        assert wait_for(lambda: ready() == 3, message="the new Service's slice has the 3 tutorial pods")


# -- the generator --------------------------------------------------------------------------------------------------

def test_generator_small() -> None:
    st = Store()
    scenario.generate_into(st, 40, 3)
    assert st.count(SVC) == 40 + 2  # plus kubernetes and kube-dns
    apps = st.list(SVC, where=lambda s: s["metadata"]["name"].startswith("app-"))[0]
    types = {s["spec"]["type"] for s in apps}
    assert types == {"ClusterIP", "NodePort", "LoadBalancer"}
    assert any(s["spec"]["clusterIP"] == "None" for s in apps)
    eps = [e for s in st.list(SLICE)[0] if s["metadata"]["name"].startswith("app-") for e in s["endpoints"]]
    assert len(eps) == 120 and all(e["conditions"]["ready"] for e in eps)
    ctl = Controllers(st)
    ctl.sync()
    rv = st.resource_version
    ctl.sync()
    assert st.resource_version == rv
    # what the controllers keep is what the generator wrote: no Service's slices changed
    assert all(len([e for s in st.list(SLICE, a["metadata"]["namespace"])[0]
                    if s["metadata"]["labels"]["kubernetes.io/service-name"] == a["metadata"]["name"]
                    for e in s["endpoints"]]) == 3 for a in apps)


def test_generator_ten_thousand_services(capsys: pytest.CaptureFixture[str]) -> None:
    st = Store()
    started = time.perf_counter()
    took = scenario.generate_into(st, 10_000, 5)
    apps = st.list(SVC, where=lambda s: s["metadata"]["name"].startswith("app-"))[0]
    assert len(apps) == 10_000
    slices = [s for s in st.list(SLICE)[0] if s["metadata"]["name"].startswith("app-")]
    assert sum(len(s["endpoints"]) for s in slices) == 50_000
    nodes = st.count(NODE)
    assert st.count(POD) == 50_000 + nodes + 2  # and kube-proxy on every node, and CoreDNS
    assert len(st.list(POD, "kube-system")[0]) == nodes + 2
    node_ports = [p["nodePort"] for s in apps for p in s["spec"]["ports"] if "nodePort" in p]
    assert len(node_ports) == len(set(node_ports)) > 1000
    with capsys.disabled():
        print(f"\n[generator] 10,000 Services x 5 pods: {took:.1f} s "
              f"(wall {time.perf_counter() - started:.1f} s incl. checks)")
