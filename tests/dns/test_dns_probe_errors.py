"""Every way a DNS query fails gives one clear line, never an exception: silence, nobody listening, error statuses,
truncation without TCP, and garbage on the wire."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.dns import digfmt
from tui.dns.probe import DigResult, DnsServer, ProbeError, explain, probe

from dnskit import free_port, run_dig


def _answer(query: bytes, rcode: int = dns.rcode.NOERROR, tc: bool = False, records: int = 1) -> bytes:
    q = dns.message.from_wire(query)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    if tc:
        r.flags |= dns.flags.TC
    elif rcode == dns.rcode.NOERROR:
        for i in range(records):
            r.answer.append(dns.rrset.from_text(q.question[0].name, 5, "IN", "A", f"10.0.0.{i + 1}"))
    return r.to_wire()


def _one_line(err: object) -> str:
    assert isinstance(err, ProbeError), err
    assert err.message and "\n" not in err.message
    assert "Traceback" not in err.message
    rendered = digfmt.render(err)
    assert rendered.count("\n") == 1
    return err.message


def test_timeout_from_a_server_that_never_answers(tiny_server):
    silent = tiny_server(lambda q: None)
    err = probe("web.default.svc.cluster.local", "A", silent.server, timeout=0.3, tries=2)
    line = _one_line(err)
    assert err.kind == "timeout"
    assert f"127.0.0.1#{silent.port}" in line and "no answer" in line and "2 tries" in line
    assert silent.received == 2  # it really asked twice
    ref = run_dig(silent.port, "web.default.svc.cluster.local", "A", "+timeout=1", "+tries=1")
    assert ref.rc == 9 and "timed out" in ref.text


def test_connection_refused_when_nothing_listens():
    port = free_port()
    err = probe("web.default.svc.cluster.local", "A", DnsServer("127.0.0.1", port), timeout=5)
    line = _one_line(err)
    assert err.kind == "refused" and "connection refused" in line and "no DNS server listens" in line
    err_tcp = probe("web.default.svc.cluster.local", "A", DnsServer("127.0.0.1", port), tcp=True)
    assert _one_line(err_tcp) and err_tcp.kind == "refused" and "TCP connection" in err_tcp.message
    ref = run_dig(port, "web.default.svc.cluster.local", "A", "+tries=1")
    assert ref.rc == 9 and "connection refused" in ref.text


def test_error_statuses_are_answers_with_a_sentence(tiny_server):
    for rcode, name in ((dns.rcode.SERVFAIL, "SERVFAIL"), (dns.rcode.REFUSED, "REFUSED"),
                        (dns.rcode.NXDOMAIN, "NXDOMAIN")):
        srv = tiny_server(lambda q, rc=rcode: _answer(q, rc))
        r = probe("web.default.svc.cluster.local", "A", srv.server)
        assert isinstance(r, DigResult) and r.status == name and not r.answer
        line = explain(r)
        assert name in line and "\n" not in line
        ref = run_dig(srv.port, "web.default.svc.cluster.local", "A")
        assert ref.status == r.status and ref.flags == r.flags
    assert "CoreDNS" in explain(probe("x.", "A", tiny_server(lambda q: _answer(q, dns.rcode.SERVFAIL)).server))


def test_truncated_answer_and_tcp_refused(tiny_server):
    udp_only = tiny_server(lambda q: _answer(q, tc=True))  # TC set, and no TCP listener on that port
    err = probe("big.default.svc.cluster.local", "A", udp_only.server)
    line = _one_line(err)
    assert err.kind == "truncated" and "truncated (TC)" in line and "connection refused" in line
    assert isinstance(err.partial, DigResult) and "tc" in err.partial.flags
    ref = run_dig(udp_only.port, "big.default.svc.cluster.local", "A", "+tries=1")
    assert ref.truncated and ref.rc == 9 and "connection refused" in ref.text


def test_truncated_answer_retried_over_tcp_gets_the_full_one(tiny_server):
    both = tiny_server(lambda q: _answer(q, tc=True),
                       tcp=lambda q: (lambda w: len(w).to_bytes(2, "big") + w)(_answer(q, records=3)))
    r = probe("big.default.svc.cluster.local", "A", both.server)
    assert isinstance(r, DigResult) and r.truncated_udp and r.transport == "TCP"
    assert [rec.rdata for rec in r.answer] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert digfmt.render(r).startswith(";; Truncated, retrying in TCP mode.\n")


def test_malformed_answers(tiny_server):
    def short(q: bytes) -> bytes:
        return q[:2] + b"\x81"

    def counts_lie(q: bytes) -> bytes:  # says one answer follows, sends none
        w = bytearray(_answer(q, records=0))
        w[7] = 1
        return bytes(w)

    def trailing(q: bytes) -> bytes:
        return _answer(q) + b"\x00junk"

    def bad_label(q: bytes) -> bytes:  # a compression pointer that points forward, past the end
        w = bytearray(q[:12]) + b"\xc0\xff\x00\x01\x00\x01"
        w[2] |= 0x80
        return bytes(w)

    for make, words in ((short, "shorter than a DNS header"), (counts_lie, "bytes received"),
                        (trailing, "junk after the end"), (bad_label, "bytes received")):
        srv = tiny_server(make)
        err = probe("web.default.svc.cluster.local", "A", srv.server, timeout=2)
        line = _one_line(err)
        assert err.kind == "malformed" and "not a valid DNS message" in line and words in line, line


def test_tcp_connection_closed_mid_answer(tiny_server):
    srv = tiny_server(lambda q: _answer(q, tc=True), tcp=lambda q: b"\x01\x00" + q[:10])
    err = probe("web.default.svc.cluster.local", "A", srv.server)
    line = _one_line(err)
    assert err.kind == "truncated" and "closed the TCP connection after 10 of 256 bytes" in line


def test_answers_to_other_queries_are_ignored(tiny_server):
    def wrong_then_right(q: bytes) -> bytes:
        return bytes([q[0] ^ 0xFF, q[1]]) + _answer(q)[2:]

    only_wrong = tiny_server(wrong_then_right)
    err = probe("web.default.svc.cluster.local", "A", only_wrong.server, timeout=0.3, tries=1)
    assert _one_line(err) and err.kind == "timeout" and "answer(s) to other queries ignored" in err.message


def test_bad_names_and_types_are_one_line():
    srv = DnsServer("127.0.0.1", 9)
    assert _one_line(probe("a" * 64 + ".example", "A", srv)).startswith("'aaaa")
    assert probe("a..b", "A", srv).kind == "badname"
    err = probe("web.default.svc.cluster.local", "NOPE", srv)
    assert _one_line(err) and err.kind == "badtype" and "A, AAAA, SRV" in err.message
    assert probe("x.", "AXFR", srv).kind == "badtype"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=300), keep_id=st.booleans())
def test_garbage_never_escapes_as_an_exception(tiny_server, junk, keep_id):
    srv = tiny_server(lambda q: (q[:2] + junk) if keep_id else junk)
    out = probe("web.default.svc.cluster.local", "A", srv.server, timeout=0.2, tries=1)
    assert isinstance(out, (DigResult, ProbeError))
    assert digfmt.render(out)  # and it renders
    assert explain(out)
    srv.close()
