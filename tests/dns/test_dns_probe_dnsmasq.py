"""The probe against a DNS server nobody here wrote (dnsmasq), field by field against dig asking the same server."""

from __future__ import annotations

import pytest

from dnskit import normalise_dig
from tui.dns import digfmt
from tui.dns.probe import DigResult, probe

CASES = [
    ("web.default.svc.cluster.local", "A"),  # a ClusterIP Service
    ("hl.default.svc.cluster.local", "A"),  # headless: one A per ready endpoint
    ("hl.default.svc.cluster.local", "AAAA"),
    ("db-0.hl.default.svc.cluster.local", "A"),  # an endpoint hostname
    ("_http._tcp.web.default.svc.cluster.local", "SRV"),
    ("_pg._tcp.hl.default.svc.cluster.local", "SRV"),  # endpoints x named ports, with additional A records
    ("10.0.96.10.in-addr.arpa", "PTR"),
    ("5.1.244.10.in-addr.arpa", "PTR"),
    ("ext.default.svc.cluster.local", "CNAME"),
    ("ext.default.svc.cluster.local", "A"),  # the CNAME chain followed by the server
    ("dns-version.cluster.local", "TXT"),
    ("notes.default.svc.cluster.local", "TXT"),  # several strings
    ("nope.default.svc.cluster.local", "A"),  # NXDOMAIN
    ("web.default.svc.cluster.local", "TXT"),  # NODATA
    ("example.com", "A"),  # REFUSED: not dnsmasq's zone, no upstream
    ("web.default.svc.cluster.local", "ANY"),
]


def _rows(records) -> list[tuple[str, int, str, str, str]]:
    return sorted((r.name, r.ttl, r.rdclass, r.rdtype, r.rdata) for r in records)


@pytest.mark.parametrize("name,qtype", CASES)
def test_probe_matches_dig_field_by_field(dnsmasq, dig, name, qtype):
    mine = probe(name, qtype, dnsmasq.server)
    ref = dig(dnsmasq.port, name, qtype)
    assert isinstance(mine, DigResult), mine
    assert ref.rc == 0, ref.text
    assert mine.status == ref.status
    assert mine.flags == ref.flags
    assert mine.counts == ref.counts
    assert mine.size == ref.size
    assert mine.transport == ref.transport == ("TCP" if qtype == "ANY" else "UDP")
    assert _rows(mine.answer) == sorted(ref.sections.get("ANSWER", []))
    assert _rows(mine.authority) == sorted(ref.sections.get("AUTHORITY", []))
    assert _rows(mine.additional) == sorted(ref.sections.get("ADDITIONAL", []))
    assert (mine.edns is not None) == (ref.edns is not None)


def test_headless_answer_carries_every_endpoint(dnsmasq):
    r = probe("hl.default.svc.cluster.local", "A", dnsmasq.server)
    assert isinstance(r, DigResult)
    assert sorted(rec.value for rec in r.answer) == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]
    assert {rec.ttl for rec in r.answer} == {5}
    srv = probe("_pg._tcp.hl.default.svc.cluster.local", "SRV", dnsmasq.server)
    assert isinstance(srv, DigResult)
    assert sorted(rec.value for rec in srv.answer) == [
        "5432 10-244-2-7.hl.default.svc.cluster.local.", "5432 db-0.hl.default.svc.cluster.local.",
        "5432 db-1.hl.default.svc.cluster.local."]


def test_ptr_for_an_ip_address_asks_the_reverse_name(dnsmasq):
    r = probe("10.244.1.6", "PTR", dnsmasq.server)
    assert isinstance(r, DigResult)
    assert r.qname == "6.1.244.10.in-addr.arpa."
    assert [rec.rdata for rec in r.answer] == ["db-1.hl.default.svc.cluster.local."]


@pytest.mark.parametrize("name,qtype", CASES)
def test_digfmt_prints_what_dig_prints(dnsmasq, dig, name, qtype):
    mine = probe(name, qtype, dnsmasq.server)
    ref = dig(dnsmasq.port, name, qtype)
    assert normalise_dig(digfmt.render(mine)) == normalise_dig(ref.text)


@pytest.mark.parametrize("name,qtype", CASES)
def test_short_form_matches_dig_short(dnsmasq, dig, name, qtype):
    mine = probe(name, qtype, dnsmasq.server)
    ref = dig(dnsmasq.port, name, qtype, "+short")
    assert sorted(digfmt.render(mine, short=True).splitlines()) == sorted(ref.text.splitlines())


def test_truncated_udp_answer_is_retried_over_tcp_like_dig(dnsmasq, dig):
    mine = probe("big.default.svc.cluster.local", "A", dnsmasq.server, bufsize=512)
    ref = dig(dnsmasq.port, "big.default.svc.cluster.local", "A", "+bufsize=512")
    assert isinstance(mine, DigResult)
    assert ref.truncated and mine.truncated_udp
    assert mine.transport == ref.transport == "TCP"
    assert len(mine.answer) == 60 and mine.counts == ref.counts
    assert mine.size == ref.size
    assert normalise_dig(digfmt.render(mine)) == normalise_dig(ref.text)
    # Without EDNS the 512-byte limit applies as well.
    plain = probe("big.default.svc.cluster.local", "A", dnsmasq.server, bufsize=None)
    assert isinstance(plain, DigResult) and plain.truncated_udp and plain.edns is None
    assert len(plain.answer) == 60


def test_tcp_only_query_matches_dig_tcp(dnsmasq, dig):
    mine = probe("hl.default.svc.cluster.local", "A", dnsmasq.server, tcp=True)
    ref = dig(dnsmasq.port, "hl.default.svc.cluster.local", "A", "+tcp")
    assert isinstance(mine, DigResult)
    assert mine.transport == ref.transport == "TCP" and not mine.truncated_udp
    assert _rows(mine.answer) == sorted(ref.sections["ANSWER"])
    assert mine.size == ref.size
