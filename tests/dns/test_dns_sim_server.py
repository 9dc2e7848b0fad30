"""The simulated cluster's DNS answers as the spec and CoreDNS's kubernetes plugin say, over real UDP and TCP,
inside a running SimCluster; dig reads it the same way the probe does."""

from __future__ import annotations

from typing import Iterator

import pytest

from dnskit import coredns_pod, endpoint, normalise_dig, port, run_dig, service_obj, slice_obj, wait_for
from tui.dns import digfmt
from tui.dns.probe import DigResult, DnsServer, ProbeError, probe
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns
from tui.sim.resources import BY_KIND

SVC, SLICE, POD = BY_KIND["Service"], BY_KIND["EndpointSlice"], BY_KIND["Pod"]
Z = "cluster.local."


@pytest.fixture
def sim() -> Iterator[tuple[SimCluster, SimDns]]:
    cluster = SimCluster(scenario="empty")
    dns_server = SimDns(cluster.store)
    cluster.add_component(dns_server)
    cluster.start()
    st = cluster.store
    st.create(SVC, service_obj("default", "web", "10.96.0.11", [port("http", 80), port("", 8080)]))
    st.create(SVC, service_obj("default", "db", "None", [port("pg", 5432)]))
    st.create(SLICE, slice_obj("default", "db", [
        endpoint("10.244.1.5", hostname="db-0"), endpoint("10.244.1.6", hostname="db-1"),
        endpoint("10.244.2.7"), endpoint("10.244.2.8", ready=False, hostname="db-3")], [port("pg", 5432)]))
    st.create(SLICE, slice_obj("default", "db", [endpoint("fd00:10:244::5")], [port("pg", 5432)],
                               address_type="IPv6"))
    st.create(SVC, service_obj("default", "empty", "None", [port("http", 80)]))
    st.create(SLICE, slice_obj("default", "empty", [endpoint("10.244.3.1", ready=False)], [port("http", 80)]))
    st.create(SVC, service_obj("default", "ext", type_="ExternalName", external_name="example.com"))
    st.create(SVC, service_obj("default", "alias", type_="ExternalName", external_name="web.default.svc.cluster.local"))
    yield cluster, dns_server
    cluster.stop()


def ask(d: SimDns, name: str, qtype: str = "A", **kw) -> DigResult:
    r = probe(name, qtype, DnsServer("127.0.0.1", d.port), timeout=10, **kw)
    assert isinstance(r, DigResult), r
    return r


def values(r: DigResult) -> list[str]:
    return sorted(rec.rdata for rec in r.answer)


def test_clusterip_service_records(sim):
    _, d = sim
    a = ask(d, f"web.default.svc.{Z}")
    assert a.status == "NOERROR" and values(a) == ["10.96.0.11"]
    assert "aa" in a.flags and "ra" not in a.flags and {r.ttl for r in a.answer} == {5}
    srv = ask(d, f"_http._tcp.web.default.svc.{Z}", "SRV")
    assert values(srv) == ["0 100 80 web.default.svc.cluster.local."]
    assert [(r.name, r.rdata) for r in srv.additional] == [("web.default.svc.cluster.local.", "10.96.0.11")]
    bare = ask(d, f"web.default.svc.{Z}", "SRV")  # CoreDNS lists every port at the bare name
    assert values(bare) == ["0 50 80 web.default.svc.cluster.local.", "0 50 8080 web.default.svc.cluster.local."]
    assert values(ask(d, "10.96.0.11", "PTR")) == ["web.default.svc.cluster.local."]
    nodata = ask(d, f"web.default.svc.{Z}", "AAAA")
    assert nodata.status == "NOERROR" and not nodata.answer
    assert [r.rdtype for r in nodata.authority] == ["SOA"]
    assert ask(d, f"_http._udp.web.default.svc.{Z}", "SRV").status == "NXDOMAIN"


def test_headless_service_records(sim):
    _, d = sim
    a = ask(d, f"db.default.svc.{Z}")
    assert values(a) == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]  # db-3 is not ready
    assert values(ask(d, f"db.default.svc.{Z}", "AAAA")) == ["fd00:10:244::5"]
    assert values(ask(d, f"db-0.db.default.svc.{Z}")) == ["10.244.1.5"]
    assert values(ask(d, f"10-244-2-7.db.default.svc.{Z}")) == ["10.244.2.7"]  # no hostname: dashed IP
    assert ask(d, f"db-3.db.default.svc.{Z}").status == "NXDOMAIN"
    srv = ask(d, f"_pg._tcp.db.default.svc.{Z}", "SRV")
    assert values(srv) == ["0 25 5432 10-244-2-7.db.default.svc.cluster.local.",
                           "0 25 5432 db-0.db.default.svc.cluster.local.",
                           "0 25 5432 db-1.db.default.svc.cluster.local.",
                           "0 25 5432 fd00-10-244--5.db.default.svc.cluster.local."]
    assert sorted(r.rdata for r in srv.additional) == ["10.244.1.5", "10.244.1.6", "10.244.2.7", "fd00:10:244::5"]
    assert values(ask(d, "10.244.1.6", "PTR")) == ["db-1.db.default.svc.cluster.local."]
    assert values(ask(d, "10.244.2.7", "PTR")) == ["10-244-2-7.db.default.svc.cluster.local."]
    assert ask(d, "10.244.2.8", "PTR").status == "NXDOMAIN"


def test_no_ready_endpoint_is_nxdomain_with_soa(sim):
    _, d = sim
    r = ask(d, f"empty.default.svc.{Z}")
    assert r.status == "NXDOMAIN" and not r.answer
    assert [(x.name, x.rdtype) for x in r.authority] == [(Z, "SOA")]
    assert r.authority[0].rdata.startswith("ns.dns.cluster.local. hostmaster.cluster.local. ")


def test_externalname_version_pods_and_other_zones(sim):
    _, d = sim
    ext = ask(d, f"ext.default.svc.{Z}")
    assert [(r.rdtype, r.rdata) for r in ext.answer] == [("CNAME", "example.com.")]
    alias = ask(d, f"alias.default.svc.{Z}")  # a CNAME into the zone is followed
    assert [(r.name, r.rdtype, r.rdata) for r in alias.answer] == [
        (f"alias.default.svc.{Z}", "CNAME", f"web.default.svc.{Z}"), (f"web.default.svc.{Z}", "A", "10.96.0.11")]
    assert values(ask(d, f"dns-version.{Z}", "TXT")) == ['"1.1.0"']
    assert values(ask(d, f"10-244-9-9.default.pod.{Z}")) == ["10.244.9.9"]  # pods insecure
    assert ask(d, "example.com").status == "REFUSED"
    assert ask(d, f"default.svc.{Z}").status == "NOERROR"  # the namespace exists: NODATA
    assert ask(d, f"nope.svc.{Z}").status == "NXDOMAIN"
    assert values(ask(d, Z, "SOA"))[0].startswith("ns.dns.cluster.local.")


def test_dig_reads_the_sim_like_the_probe(sim):
    _, d = sim
    for name, qtype in ((f"db.default.svc.{Z}", "A"), (f"_pg._tcp.db.default.svc.{Z}", "SRV"),
                        (f"empty.default.svc.{Z}", "A"), ("11.0.96.10.in-addr.arpa", "PTR")):
        mine = ask(d, name, qtype)
        ref = run_dig(d.port, name, qtype)
        assert (mine.status, mine.flags, mine.counts, mine.size) == (ref.status, ref.flags, ref.counts, ref.size)
        assert sorted((r.name, r.ttl, r.rdclass, r.rdtype, r.rdata) for r in mine.answer + mine.authority) == \
            sorted(ref.sections.get("ANSWER", []) + ref.sections.get("AUTHORITY", []))
        assert ";; WARNING: recursion requested but not available" in ref.text
        assert normalise_dig(digfmt.render(mine)) == normalise_dig(ref.text)


def test_large_headless_answer_is_truncated_then_served_over_tcp(sim):
    cluster, d = sim
    cluster.store.create(SVC, service_obj("default", "many", "None", [port("http", 80)]))
    cluster.store.create(SLICE, slice_obj("default", "many", [endpoint(f"10.244.5.{i}") for i in range(1, 61)],
                                          [port("http", 80)]))
    r = ask(d, f"many.default.svc.{Z}", bufsize=512)
    assert r.truncated_udp and r.transport == "TCP" and len(r.answer) == 60
    ref = run_dig(d.port, f"many.default.svc.{Z}", "A", "+bufsize=512")
    assert ref.truncated and ref.transport == "TCP" and ref.counts == r.counts


def test_store_changes_show_at_once_and_stale_knob_freezes_them(sim):
    cluster, d = sim
    st = cluster.store
    st.mutate(SLICE, "default", "db-ipv4", lambda o: o["endpoints"].pop(0))  # db-0 goes away
    assert values(ask(d, f"db.default.svc.{Z}")) == ["10.244.1.6", "10.244.2.7"]
    d.freeze()
    st.mutate(SLICE, "default", "db-ipv4", lambda o: o["endpoints"].pop(0))
    assert values(ask(d, f"db.default.svc.{Z}")) == ["10.244.1.6", "10.244.2.7"]  # stale
    d.thaw()
    assert values(ask(d, f"db.default.svc.{Z}")) == ["10.244.2.7"]


def test_slow_and_failing_knobs(sim):
    _, d = sim
    d.set_delay(1.5)
    late = probe(f"web.default.svc.{Z}", "A", DnsServer("127.0.0.1", d.port), timeout=0.3, tries=1)
    assert isinstance(late, ProbeError) and late.kind == "timeout"
    slow = ask(d, f"web.default.svc.{Z}", tries=1)
    assert slow.query_ms >= 1400
    slow_tcp = ask(d, f"web.default.svc.{Z}", tcp=True)
    assert slow_tcp.query_ms >= 1400
    d.set_delay(0)
    d.set_failure("SERVFAIL")
    assert ask(d, f"web.default.svc.{Z}").status == "SERVFAIL"
    d.set_failure(None)
    assert ask(d, f"web.default.svc.{Z}").status == "NOERROR"


def test_each_coredns_pod_has_its_own_port_and_can_differ(sim):
    cluster, d = sim
    st = cluster.store
    st.create(SVC, service_obj("kube-system", "kube-dns", "10.96.0.10", [port("dns", 53, "UDP")]))
    st.create(POD, coredns_pod("coredns-a", "10.244.0.2"))
    st.create(POD, coredns_pod("coredns-b", "10.244.0.3"))
    wait_for(lambda: {"10.244.0.2", "10.244.0.3", "10.96.0.10"} <= set(d.address_map), what="pods in the map")
    amap = d.address_map
    assert amap["10.96.0.10"] == ("127.0.0.1", d.port)
    assert len({amap["10.244.0.2"], amap["10.244.0.3"], amap["10.96.0.10"]}) == 3
    pod_a = DnsServer(*amap["10.244.0.2"], name="10.244.0.2")
    pod_b = DnsServer(*amap["10.244.0.3"], name="10.244.0.3")
    d.freeze("coredns-b")
    st.mutate(SLICE, "default", "db-ipv4", lambda o: o["endpoints"].pop(0))
    a = probe(f"db.default.svc.{Z}", "A", pod_a)
    b = probe(f"db.default.svc.{Z}", "A", pod_b)
    assert isinstance(a, DigResult) and isinstance(b, DigResult)
    assert values(a) == ["10.244.1.6", "10.244.2.7"]
    assert values(b) == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]
    # The Service's port hands queries to the pods in turn, so a stale pod shows through it now and then.
    seen = {tuple(values(ask(d, f"db.default.svc.{Z}"))) for _ in range(4)}
    assert len(seen) == 2
    assert {q[0] for q in list(d.queries)[-4:]} == {"coredns-a", "coredns-b"}
    # ns.dns.<zone> is the DNS Service itself
    assert values(ask(d, f"ns.dns.{Z}")) == ["10.96.0.10"]
    st.delete(POD, "kube-system", "coredns-b")
    wait_for(lambda: "10.244.0.3" not in d.address_map, what="the deleted pod to leave the map")
    gone = probe(f"db.default.svc.{Z}", "A", pod_b, timeout=1, tries=1)
    assert isinstance(gone, ProbeError) and gone.kind in ("refused", "timeout")


def test_garbage_queries(sim):
    _, d = sim
    reply, _ = d.answer(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff")  # a question cut short
    assert reply is not None and reply[:2] == b"\x12\x34" and reply[3] & 0x0F == 1  # FORMERR
    assert d.answer(b"\x00\x01") == (None, 0.0)
