"""What the spec says each name must answer, and verdicts on real answers from the simulated cluster's DNS in the
situations admins meet: a scale-down, an unready pod, publishNotReadyAddresses, stale DNS, one CoreDNS pod off."""

from __future__ import annotations

from typing import Iterator

import pytest

from dnskit import coredns_pod, endpoint, port, service_obj, slice_obj, wait_for
from tui.dns.expect import Preset, expect, parse_name, presets
from tui.dns.probe import DigResult, DnsServer, ProbeError, probe
from tui.dns.verdict import judge
from tui.kube.models import ServiceView, SliceView
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns
from tui.sim.resources import BY_KIND

SVC, SLICE, POD = BY_KIND["Service"], BY_KIND["EndpointSlice"], BY_KIND["Pod"]
Z = "cluster.local"


def views(objs: list[dict]) -> tuple[list[ServiceView], list[SliceView]]:
    svcs = [ServiceView.from_api(o) for o in objs if "addressType" not in o]
    slices = [SliceView.from_api(o) for o in objs if "addressType" in o]
    return svcs, slices


OBJECTS = [
    service_obj("shop", "web", "10.96.0.11", [port("http", 80), port("metrics", 9090)]),
    service_obj("shop", "dual", "10.96.0.12", [port("http", 80)]),
    service_obj("shop", "db", "None", [port("pg", 5432)]),
    slice_obj("shop", "db", [endpoint("10.244.1.5", hostname="db-0", pod="db-0"),
                             endpoint("10.244.1.6", hostname="db-1", pod="db-1"),
                             endpoint("10.244.2.7", pod="db-2"),
                             endpoint("10.244.2.8", ready=False, serving=True, hostname="db-3", pod="db-3"),
                             endpoint("10.244.2.9", ready=False, serving=False, terminating=True, pod="db-4")],
              [port("pg", 5432)]),
    service_obj("shop", "pnr", "None", [port("http", 80)], publish_not_ready=True),
    slice_obj("shop", "pnr", [endpoint("10.244.3.1", ready=False, serving=True),
                              endpoint("10.244.3.2", ready=False, serving=False)], [port("http", 80)]),
    service_obj("shop", "none", "None", [port("http", 80)]),
    slice_obj("shop", "none", [endpoint("10.244.4.1", ready=False)], [port("http", 80)]),
    service_obj("shop", "ext", type_="ExternalName", external_name="api.example.com."),
]


def E(name: str, qtype: str = "A"):
    svcs, slices = views(OBJECTS)
    return expect(name, qtype, Z, svcs, slices)


def wanted(e) -> list[str]:
    return sorted(w.value for w in e.records)


def test_expectations_follow_the_spec():
    e = E("web.shop.svc.cluster.local")
    assert (e.status, wanted(e), e.service) == ("NOERROR", ["10.96.0.11"], ("shop", "web"))
    assert (E("web.shop.svc.cluster.local", "AAAA").status, wanted(E("web.shop.svc.cluster.local", "AAAA"))) == \
        ("NOERROR", [])
    assert wanted(E("_http._tcp.web.shop.svc.cluster.local", "SRV")) == ["80 web.shop.svc.cluster.local."]
    assert E("_http._udp.web.shop.svc.cluster.local", "SRV").status == "NXDOMAIN"
    assert wanted(E("10.96.0.11", "PTR")) == ["web.shop.svc.cluster.local."]
    assert E("11.0.96.10.in-addr.arpa.", "PTR").qname == "11.0.96.10.in-addr.arpa."
    # headless: the ready endpoints only
    assert wanted(E("db.shop.svc.cluster.local")) == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]
    assert wanted(E("db-1.db.shop.svc.cluster.local")) == ["10.244.1.6"]
    assert wanted(E("10-244-2-7.db.shop.svc.cluster.local")) == ["10.244.2.7"]
    assert E("db-3.db.shop.svc.cluster.local").status == "NXDOMAIN"
    assert wanted(E("_pg._tcp.db.shop.svc.cluster.local", "SRV")) == [
        "5432 10-244-2-7.db.shop.svc.cluster.local.", "5432 db-0.db.shop.svc.cluster.local.",
        "5432 db-1.db.shop.svc.cluster.local."]
    assert wanted(E("10.244.1.5", "PTR")) == ["db-0.db.shop.svc.cluster.local."]
    assert not E("10.244.2.8", "PTR").checkable  # not ready: the spec requires nothing
    # publishNotReadyAddresses publishes serving endpoints too, never unserving ones
    assert wanted(E("pnr.shop.svc.cluster.local")) == ["10.244.3.1"]
    # no ready endpoint: NXDOMAIN
    assert E("none.shop.svc.cluster.local").status == "NXDOMAIN"
    e = E("ext.shop.svc.cluster.local", "A")
    assert [(w.rdtype, w.value) for w in e.records] == [("CNAME", "api.example.com.")]
    assert wanted(E("dns-version.cluster.local", "TXT")) == ['"1.1.0"']
    assert E("missing.shop.svc.cluster.local").status == "NXDOMAIN"
    assert not E("example.com").checkable and not E("web.shop.svc.cluster.local", "ANY").checkable
    assert parse_name("_pg._tcp.db.shop.svc.cluster.local.", Z).kind == "srv"
    assert parse_name("10-1-2-3.shop.pod.cluster.local", Z).ip == "10.1.2.3"


def test_presets_list_every_name_of_a_service():
    svcs, slices = views(OBJECTS)
    db = next(s for s in svcs if s.name == "db")
    got = presets(db, slices, Z)
    assert Preset("db.shop.svc.cluster.local.", "A", "the Service name") in got
    assert Preset("_pg._tcp.db.shop.svc.cluster.local.", "SRV", "SRV of port pg") in got
    assert ("db-0.db.shop.svc.cluster.local.", "A") in [(p.name, p.qtype) for p in got]
    assert [p.name for p in got if p.qtype == "PTR"] == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]
    web = next(s for s in svcs if s.name == "web")
    assert [(p.name, p.qtype) for p in presets(web, slices, Z)] == [
        ("web.shop.svc.cluster.local.", "A"), ("_http._tcp.web.shop.svc.cluster.local.", "SRV"),
        ("_metrics._tcp.web.shop.svc.cluster.local.", "SRV"), ("10.96.0.11", "PTR")]


# -- verdicts on answers from the simulated cluster ------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[tuple[SimCluster, SimDns]]:
    sim = SimCluster(scenario="empty")
    d = SimDns(sim.store)
    sim.add_component(d)
    sim.start()
    for o in OBJECTS:
        sim.store.create(SLICE if "addressType" in o else SVC, o)
    sim.store.create(SVC, service_obj("kube-system", "kube-dns", "10.96.0.10", [port("dns", 53, "UDP")]))
    sim.store.create(POD, coredns_pod("coredns-a", "10.244.0.2"))
    sim.store.create(POD, coredns_pod("coredns-b", "10.244.0.3"))
    wait_for(lambda: {"10.244.0.2", "10.244.0.3"} <= set(d.address_map), what="CoreDNS pods served")
    yield sim, d
    sim.stop()


def check(sim: SimCluster, d: SimDns, name: str, qtype: str = "A", pods: bool = True, max_ttl: int | None = None):
    """Ask each CoreDNS pod (or the Service port) and judge against the store's current objects."""
    amap = d.address_map
    servers = [DnsServer(*amap[ip], name=ip, label=f"CoreDNS pod {pod}")
               for pod, ip in (("coredns-a", "10.244.0.2"), ("coredns-b", "10.244.0.3"))] if pods else \
        [DnsServer(*amap["10.96.0.10"], name="10.96.0.10", label="kube-dns Service")]
    outcomes = [probe(name, qtype, s, timeout=5) for s in servers]
    svcs = [ServiceView.from_api(o) for o in sim.store.list(SVC)[0]]
    slices = [SliceView.from_api(o) for o in sim.store.list(SLICE)[0]]
    return judge(expect(name, qtype, Z, svcs, slices), outcomes, max_ttl=max_ttl)


def test_the_sim_answers_every_name_as_the_spec_says(cluster):
    sim, d = cluster
    for name, qtype in [("web.shop.svc.cluster.local", "A"), ("_http._tcp.web.shop.svc.cluster.local", "SRV"),
                        ("10.96.0.11", "PTR"), ("db.shop.svc.cluster.local", "A"),
                        ("db-0.db.shop.svc.cluster.local", "A"), ("_pg._tcp.db.shop.svc.cluster.local", "SRV"),
                        ("10.244.1.6", "PTR"), ("none.shop.svc.cluster.local", "A"),
                        ("ext.shop.svc.cluster.local", "A"), ("dns-version.cluster.local", "TXT"),
                        ("web.shop.svc.cluster.local", "AAAA"), ("missing.shop.svc.cluster.local", "A")]:
        v = check(sim, d, name, qtype, max_ttl=5)
        assert v.ok is True, v.lines()
    ok = check(sim, d, "db.shop.svc.cluster.local")
    assert ok.lines()[0].startswith("CHECK db.shop.svc.cluster.local. A: OK (headless Service shop/db")
    assert any("10.244.1.5" in line and "db-0" in line for line in ok.lines())


def test_scale_down_is_followed_unless_dns_is_stale(cluster):
    sim, d = cluster
    drop = lambda o: o.__setitem__("endpoints", [e for e in o["endpoints"] if e["addresses"][0] != "10.244.1.6"])
    d.freeze()  # every CoreDNS pod stale
    sim.store.mutate(SLICE, "shop", "db-ipv4", drop)
    v = check(sim, d, "db.shop.svc.cluster.local")
    assert v.ok is False
    [diff] = v.differences
    assert (diff.kind, diff.value, diff.server) == ("unexpected", "10.244.1.6", "")
    assert "not a ready endpoint of shop/db in any EndpointSlice: a stale answer?" in diff.line()
    srv = check(sim, d, "_pg._tcp.db.shop.svc.cluster.local", "SRV")
    assert [(x.kind, x.value) for x in srv.differences] == [("unexpected", "5432 db-1.db.shop.svc.cluster.local.")]
    host = check(sim, d, "db-1.db.shop.svc.cluster.local")
    assert host.differences[0].kind == "status" and "the spec says NXDOMAIN" in host.differences[0].text
    d.thaw()
    assert check(sim, d, "db.shop.svc.cluster.local").ok is True
    # scaled to zero: NXDOMAIN, and a stale server still answering shows each address as unexpected
    d.freeze()
    sim.store.mutate(SLICE, "shop", "db-ipv4", lambda o: o.__setitem__("endpoints", []))
    v = check(sim, d, "db.shop.svc.cluster.local")
    kinds = sorted((x.kind, x.value) for x in v.differences)
    assert kinds == [("status", ""), ("unexpected", "10.244.1.5"), ("unexpected", "10.244.2.7")]
    d.thaw()
    assert check(sim, d, "db.shop.svc.cluster.local").ok is True


def test_an_unready_pod_leaves_dns_and_stale_dns_names_it(cluster):
    sim, d = cluster

    def unready(o):
        for e in o["endpoints"]:
            if e["addresses"][0] == "10.244.1.5":
                e["conditions"] = {"ready": False, "serving": False}

    d.freeze()
    sim.store.mutate(SLICE, "shop", "db-ipv4", unready)
    v = check(sim, d, "db.shop.svc.cluster.local")
    [diff] = v.differences
    assert diff.kind == "unexpected" and diff.value == "10.244.1.5"
    assert diff.text == "endpoint db-0 (pod db-0) is not ready in slice db-ipv4"
    d.thaw()
    assert check(sim, d, "db.shop.svc.cluster.local").ok is True


def test_publish_not_ready_addresses(cluster):
    sim, d = cluster
    # The sim's DNS, like CoreDNS, publishes only ready == true; publishNotReadyAddresses is the EndpointSlice
    # controller's job (it marks every endpoint ready). A slice that still says ready: false for a serving
    # endpoint of such a Service is exactly what the verdict must catch.
    v = check(sim, d, "pnr.shop.svc.cluster.local")
    assert v.ok is False
    assert [(x.kind, x.value) for x in v.differences] == [("status", ""), ("missing", "10.244.3.1")]
    assert "ready or serving endpoint 10.244.3.1" in v.differences[1].text
    sim.store.mutate(SLICE, "shop", "pnr-ipv4",
                     lambda o: o["endpoints"][0].__setitem__("conditions", {"ready": True, "serving": True}))
    assert check(sim, d, "pnr.shop.svc.cluster.local").ok is True


def test_one_coredns_pod_different(cluster):
    sim, d = cluster
    d.freeze("coredns-b")
    sim.store.mutate(SLICE, "shop", "db-ipv4", lambda o: o["endpoints"].pop(0))
    v = check(sim, d, "db.shop.svc.cluster.local")
    assert v.ok is False
    unexpected = [x for x in v.differences if x.kind == "unexpected"]
    assert [(x.value, x.server) for x in unexpected] == [("10.244.1.5", "CoreDNS pod coredns-b (10.244.0.3)")]
    [disagree] = [x for x in v.differences if x.kind == "disagree"]
    assert disagree.text == ("CoreDNS pods disagree: CoreDNS pod coredns-a (10.244.0.2) said NOERROR 10.244.1.6 "
                             "10.244.2.7; CoreDNS pod coredns-b (10.244.0.3) said NOERROR 10.244.1.5 10.244.1.6 "
                             "10.244.2.7")
    # one pod broken outright
    d.thaw("coredns-b")
    d.set_failure("SERVFAIL", "coredns-a")
    v = check(sim, d, "web.shop.svc.cluster.local")
    assert {x.kind for x in v.differences} == {"status", "missing", "disagree"}
    assert all(x.server == "CoreDNS pod coredns-a (10.244.0.2)" for x in v.differences if x.kind != "disagree")
    d.set_failure(None, "coredns-a")
    d.set_delay(3, "coredns-b")
    slow = check_with_timeout(d, "web.shop.svc.cluster.local")
    assert isinstance(slow, ProbeError) and slow.kind == "timeout"


def check_with_timeout(d: SimDns, name: str):
    host, p = d.address_map["10.244.0.3"]
    return probe(name, "A", DnsServer(host, p, "10.244.0.3", "CoreDNS pod coredns-b"), timeout=0.5, tries=1)


def test_verdict_of_errors_and_ttl():
    svcs, slices = views(OBJECTS)
    e = expect("web.shop.svc.cluster.local", "A", Z, svcs, slices)
    err = ProbeError(DnsServer("10.96.0.10", 53, label="kube-dns Service"), e.qname, "A", "timeout", "no answer")
    v = judge(e, [err])
    assert v.ok is False and v.differences[0].kind == "error" and "no answer" in v.differences[0].text
    unchecked = judge(expect("example.com", "A", Z, svcs, slices), [])
    assert unchecked.ok is None and unchecked.state == "UNCHECKED"
