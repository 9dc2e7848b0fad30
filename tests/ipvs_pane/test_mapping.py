"""Virtual server -> Service port and real server -> pod (tui.ipvs.mapping), on the shared models; and, as a whole,
every virtual server the kube-proxy emulator programs for the tutorial cluster maps back to the Service it was
programmed for."""

from __future__ import annotations

from tui.ipvs.mapping import NO_OBJECT, PodRef, canonical, pod_index, service_index
from tui.ipvs.model import AF_INET6, RealServer, VirtualServer
from tui.kube.models import ServiceView
from tui.sim.kubeproxy import emulate, node_ips
from tui.sim.resources import BY_KIND


def svc(name: str, *, ns: str = "dev", type: str = "ClusterIP", cluster_ip: str = "10.96.0.20",
        ports: list[dict] | None = None, external_ips: list[str] | None = None, lb: list[dict] | None = None,
        labels: dict | None = None, **spec) -> ServiceView:
    body = {"metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"type": type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                     **({"externalIPs": external_ips} if external_ips else {}), **spec},
            "status": {"loadBalancer": {"ingress": lb or []}}}
    return ServiceView.from_api(body)


def vs(address: str, port: int, protocol: str = "TCP", af: int = 2, fwmark: int = 0) -> VirtualServer:
    return VirtualServer(protocol, address, port, af=af, fwmark=fwmark)


WEB = svc("web", type="NodePort", ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                                         {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}],
          external_ips=["203.0.113.7"])
SHOP = svc("shop", ns="store", type="LoadBalancer", cluster_ip="10.96.0.30",
           ports=[{"port": 443, "protocol": "TCP", "nodePort": 31443}],
           lb=[{"ip": "198.51.100.9"}, {"hostname": "lb.example.com"}])


def test_cluster_ip_external_ip_and_lb_ingress_name_the_service_port():
    index = service_index([WEB, SHOP], node_ips=["192.168.10.11"])
    assert index.text(vs("10.96.0.20", 80)) == "dev/web:80"
    assert index.lookup(vs("10.96.0.20", 80)).via == "ClusterIP"
    assert index.text(vs("10.96.0.20", 53, "UDP")) == "dev/web:53"
    assert index.text(vs("10.96.0.20", 53, "TCP")) == NO_OBJECT  # the Service has no TCP 53
    ext = index.lookup(vs("203.0.113.7", 80))
    assert (ext.text, ext.via, ext.port_name) == ("dev/web:80", "externalIP", "http")
    lb = index.lookup(vs("198.51.100.9", 443))
    assert (lb.text, lb.via, lb.key) == ("store/shop:443", "LoadBalancer", ("store", "shop"))


def test_node_port_matches_on_the_node_ips_only_when_they_are_known():
    known = service_index([WEB, SHOP], node_ips=["192.168.10.11", "fd00::11"])
    ref = known.lookup(vs("192.168.10.11", 30080))
    assert (ref.text, ref.via) == ("dev/web:80", "NodePort")  # the Service port, not the node port
    assert known.text(vs("192.168.10.11", 30053, "UDP")) == "dev/web:53"
    assert known.text(vs("192.168.10.11", 31443)) == "store/shop:443"
    assert known.text(vs("192.168.10.99", 30080)) == NO_OBJECT  # not this node's address
    assert known.text(vs("192.168.10.11", 30081)) == NO_OBJECT  # no such node port
    unknown = service_index([WEB, SHOP])  # a real node: svcscope does not list Nodes
    assert unknown.text(vs("192.168.10.99", 30080)) == "dev/web:80"
    assert unknown.text(vs("10.96.0.30", 30080)) == NO_OBJECT  # a Service address is not a node address


def test_unknown_fwmark_headless_and_external_name_entries_show_a_dash():
    headless = svc("db", cluster_ip="None")
    ext = ServiceView.from_api({"metadata": {"name": "out", "namespace": "dev"},
                                "spec": {"type": "ExternalName", "externalName": "example.com"}})
    proxy_name = svc("custom", cluster_ip="10.96.0.40", labels={"service.kubernetes.io/service-proxy-name": "x"})
    index = service_index([headless, ext, proxy_name])
    assert index.text(vs("10.96.0.40", 80)) == NO_OBJECT  # kube-proxy programs nothing for it
    assert index.text(vs("10.1.2.3", 80)) == NO_OBJECT
    assert index.text(VirtualServer("", "", 0, fwmark=42)) == NO_OBJECT
    assert index.by_address == {}


def test_ipv6_addresses_match_in_any_spelling_and_the_first_claim_wins():
    six = svc("six", cluster_ip="fd00:0:0:0::a", ports=[{"port": 80, "protocol": "TCP"}])
    dup = svc("dup", cluster_ip="fd00::a", ports=[{"port": 80, "protocol": "TCP"}])
    index = service_index([six, dup])
    assert canonical("fd00:0:0:0::a") == "fd00::a"
    assert index.text(vs("fd00::a", 80, af=AF_INET6)) == "dev/six:80"


def slice_json(ns: str, endpoints: list[dict], ports=(8080,)) -> dict:
    return {"metadata": {"name": "s", "namespace": ns}, "addressType": "IPv4",
            "ports": [{"port": p, "protocol": "TCP"} for p in ports], "endpoints": endpoints}


def test_real_servers_name_their_pod_from_the_endpoint_target_ref():
    slices = [
        slice_json("dev", [{"addresses": ["10.244.1.5"], "targetRef": {"kind": "Pod", "name": "web-1",
                                                                        "namespace": "dev"}},
                           {"addresses": ["10.244.1.6"]}]),  # no targetRef: no pod to name
        # two host-network pods on one node address: only address and port tell them apart
        slice_json("kube-system", [{"addresses": ["192.168.10.11"], "targetRef": {"kind": "Pod", "name": "a"}}],
                   ports=(9100,)),
        slice_json("mon", [{"addresses": ["192.168.10.11"], "targetRef": {"kind": "Pod", "name": "b"}}],
                   ports=(9200,)),
    ]
    index = pod_index(slices)
    assert index.lookup(RealServer("10.244.1.5", 8080)) == PodRef("dev", "web-1")
    assert index.text(RealServer("10.244.1.5", 9999)) == "dev/web-1"  # by address when the port is not in a slice
    assert index.text(RealServer("10.244.1.6", 8080)) == NO_OBJECT
    assert index.text(RealServer("192.168.10.11", 9100)) == "kube-system/a"
    assert index.text(RealServer("192.168.10.11", 9200)) == "mon/b"
    assert index.text(RealServer("192.168.10.11", 6443)) == NO_OBJECT  # ambiguous by address alone


def test_every_emulated_virtual_server_maps_back_to_its_service(demo):
    """The emulator programs from the same Services: ClusterIP, NodePort on the node's IP; and each real server is
    an endpoint of that Service's slices, named by its pod when the endpoint has a targetRef."""
    sim, _ = demo
    with sim.store.lock:
        services = [ServiceView.from_api(o) for o in sim.store.list(BY_KIND["Service"])[0]]
        slices = sim.store.list(BY_KIND["EndpointSlice"])[0]
        nodes = sim.store.list(BY_KIND["Node"])[0]
    table = emulate(services, slices, nodes, "node1")
    index = service_index(services, node_ips(nodes, "node1"))
    pods = pod_index(slices)
    assert len(table.virtual_servers) >= 7
    seen = set()
    for v in table.virtual_servers:
        ref = index.lookup(v)
        assert ref is not None, v.endpoint
        seen.add((ref.key, ref.via))
        for rs in v.real_servers:
            owner = [s for s in slices if s["metadata"]["labels"].get("kubernetes.io/service-name") == ref.name
                     and s["metadata"]["namespace"] == ref.namespace]
            targets = {(e.get("targetRef") or {}).get("name") for s in owner for e in s["endpoints"]
                       if rs.address in e["addresses"]}
            assert targets, (v.endpoint, rs.endpoint)
            pod = pods.lookup(rs)
            assert (pod.name if pod else None) in targets
    assert (("dev", "service-nodeport"), "NodePort") in seen and (("dev", "service-nodeport"), "ClusterIP") in seen
    assert (("default", "kubernetes"), "ClusterIP") in seen
