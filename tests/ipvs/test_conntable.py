"""The IPVS connection table parser against text a real kernel printed (IPv4, IPv6, UDP, persistence templates,
firewall-mark templates) and against anything else, fuzzed: entries, or a ConnParseError naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.ipvs.model import AF_INET, AF_INET6
from tui.ipvs.conntable import ConnParseError, ConnTableUnavailable, parse_ip_vs_conn, read_conn_table

FIXTURES = Path(__file__).with_name("fixtures")
HEADER = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"


def test_kernel_text_parses_every_kind_of_entry():
    conns = parse_ip_vs_conn((FIXTURES / "proc_ip_vs_conn.txt").read_text())
    kinds = {(c.protocol, c.af, c.template) for c in conns}
    assert ("TCP", AF_INET, False) in kinds and ("TCP", AF_INET6, False) in kinds
    assert ("UDP", AF_INET, False) in kinds and ("TCP", AF_INET, True) in kinds
    v6 = [c for c in conns if c.af == AF_INET6]
    assert v6 and all(c.virtual == "fd00:96::1" and c.virtual_port == 80 for c in v6)
    assert {c.dest_endpoint for c in v6} == {"[fd00:244:1::10]:8080", "[fd00:244:2::10]:8080"}
    assert all(c.client == "fd00:96::1" and c.client_port > 0 for c in v6)  # the node talks from the VIP itself
    rr = [c for c in conns if c.virtual == "10.96.50.1" and c.protocol == "TCP"]
    assert {c.dest_endpoint for c in rr} == {"10.244.1.10:80", "10.244.2.10:80"}
    assert all(c.state == "TIME_WAIT" and 0 < c.expires <= 120 for c in rr)
    (template,) = [c for c in conns if c.virtual == "10.96.50.2" and c.template]
    assert template.state == "ASSURED" and template.expires > 120  # the affinity timeout, 600 s
    udp = [c for c in conns if c.protocol == "UDP"]
    assert udp and udp[0].state == "UDP" and udp[0].dest_port == 53


def test_hand_written_lines_field_by_field():
    text = HEADER + (
        "TCP 0A603201 ABA4 0A603201 0050 0AF4030A 0050 ESTABLISHED     898\n"
        "TCP 2001:0db8:0000:0000:0000:0000:0000:0001 1F90 fd00:0096:0000:0000:0000:0000:0000:000a 01BB "
        "0AF4030A 20FB SYN_RECV         59\n"
        "UDP 0A000001 13C4 0A00000B 13C4 0AF40606 13C4 UDP             179 sip 3848234@host\n"
        "IP  0A000001 0000 00000007 0000 0AF40606 0050 NONE            299\n")
    a, b, c, fwm = parse_ip_vs_conn(text)
    assert fwm.protocol == "IP" and fwm.template and fwm.virtual == "0.0.0.7"  # a mark's template: the mark as address
    assert (a.client, a.client_port, a.virtual, a.virtual_port, a.dest, a.dest_port, a.state, a.expires) == (
        "10.96.50.1", 0xABA4, "10.96.50.1", 80, "10.244.3.10", 80, "ESTABLISHED", 898)
    assert (b.af, b.client, b.virtual, b.virtual_port) == (AF_INET6, "2001:db8::1", "fd00:96::a", 443)
    assert b.dest_endpoint == "10.244.3.10:8443"  # an IPv6 service with an IPv4 real server (mixed families)
    assert c.pe == "sip 3848234@host" and c.protocol == "UDP"


def test_the_sync_file_is_the_same_table_with_an_origin_column():
    plain = parse_ip_vs_conn((FIXTURES / "proc_ip_vs_conn.txt").read_text())
    sync = parse_ip_vs_conn((FIXTURES / "proc_ip_vs_conn_sync.txt").read_text(), "/proc/net/ip_vs_conn_sync")
    def key(c):
        return (c.protocol, c.client, c.client_port, c.virtual, c.virtual_port, c.dest, c.dest_port, c.state)
    assert sorted(map(key, sync)) == sorted(map(key, plain)) and len(plain) == 10


def test_sync_file_with_its_origin_column():
    text = ("Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n"
            "TCP 0A603201 ABA4 0A603201 0050 0AF4030A 0050 ESTABLISHED LOCAL      898\n")
    (conn,) = parse_ip_vs_conn(text, "/proc/net/ip_vs_conn_sync")
    assert conn.expires == 898 and conn.pe == ""


def test_an_empty_table_is_just_the_header():
    assert parse_ip_vs_conn(HEADER) == ()


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("garbage\n", "line 1 is not the kernel's header"),
    (HEADER + "TCP 0A603201 ABA4\n", "line 2 is not in the kernel's format (a connection line has at least 9"),
    (HEADER + "TCP 0A6032 ABA4 0A603201 0050 0AF4030A 0050 NONE 1\n", "an address is neither"),
    (HEADER + "TCP 0A603201 ABA4Z 0A603201 0050 0AF4030A 0050 NONE 1\n", "a port is not 4 hex digits"),
    (HEADER + "TCP 0A603201 ABA4 0A603201 0050 0AF4030A 0050 NONE -1\n", "expiry is not a number"),
    (HEADER + "TCP 0A603201 ABA4 2001:0db8:0000:0000:0000:0000:0000:0001 0050 0AF4030A 0050 NONE 1\n",
     "different families"),
])
def test_bad_text_is_named(text, words):
    with pytest.raises(ConnParseError) as info:
        parse_ip_vs_conn(text, "/proc/net/ip_vs_conn")
    assert words in str(info.value) and "/proc/net/ip_vs_conn" in str(info.value)


def test_no_table_is_said_in_words(tmp_path):
    with pytest.raises(ConnTableUnavailable) as info:
        read_conn_table(str(tmp_path))
    assert "ip_vs is not loaded" in str(info.value) and "which real server" in str(info.value)
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "ip_vs_conn").write_text("nonsense\n")
    with pytest.raises(ConnTableUnavailable) as info:
        read_conn_table(str(tmp_path))
    assert "cannot read the IPVS connection table" in str(info.value) and "line 1" in str(info.value)


_token = st.one_of(
    st.sampled_from(["TCP", "UDP", "IP", "0A603201", "ABA4", "0050", "NONE", "ESTABLISHED", "119", "LOCAL",
                     "2001:0db8:0000:0000:0000:0000:0000:0001", "fd00::1", "::", "-1", "99999999999"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
_line = st.lists(_token, max_size=12).map(" ".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line, max_size=6), st.booleans())
def test_fuzzed_text_parses_or_is_named_never_crashes(lines, header):
    text = (HEADER if header else "") + "\n".join(lines)
    try:
        conns = parse_ip_vs_conn(text)
    except ConnParseError as exc:
        assert "/proc/net/ip_vs_conn" in str(exc)
        return
    for c in conns:
        assert 0 <= c.client_port < 65536 and 0 <= c.dest_port < 65536 and c.expires >= 0
        assert c.af in (AF_INET, AF_INET6)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_at_all(text):
    try:
        parse_ip_vs_conn(text)
    except ConnParseError:
        pass
