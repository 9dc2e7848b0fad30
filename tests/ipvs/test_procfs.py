"""The /proc reader against text the real kernel printed, and against anything else (fuzzed): a table or a
ProcParseError naming the line, never another exception."""

from __future__ import annotations

import gzip
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.ipvs import ipvsadm
from tui.ipvs.model import AF_INET6, F_ONEPACKET, F_PERSISTENT, IPVSTable
from tui.ipvs.procfs import PROC_LACKS, ProcParseError, detect_hz, parse_ip_vs, parse_ip_vs_stats, read_proc_table


def test_kernel_text_parses_into_the_model(fixture_text):
    version, size, services = parse_ip_vs(fixture_text("proc_ip_vs.txt"), hz=250)
    assert (version, size) == ("1.2.1", 4096)
    by = {vs.endpoint: vs for vs in services}
    dns = by["UDP 10.96.0.10:53"]
    assert dns.scheduler == "wrr" and dns.persistent and dns.one_packet and dns.flags == F_PERSISTENT | F_ONEPACKET
    assert dns.timeout == 3600  # 900000 jiffies at HZ=250
    assert dns.netmask_text == "255.255.255.0"
    assert [(rs.address, rs.forward, rs.weight) for rs in dns.real_servers] == [
        ("10.244.3.3", "Masq", 65535), ("10.244.2.2", "Tunnel", 5)]
    assert all(rs.persistent_conns is None and rs.u_threshold is None and rs.stats is None
               for rs in dns.real_servers)
    v6 = by["TCP [2001:db8::10]:80"]
    assert v6.af == AF_INET6 and v6.timeout == 60 and v6.netmask == 64  # printed as ntohl(64) = 40000000
    assert [rs.address for rs in v6.real_servers] == ["fd00::2", "2001:db8::1:0:0:5"]
    assert by["FWM 7 IPv6"].timeout == 360 and by["FWM 7 IPv6"].netmask == 128  # family inferred from the mask
    assert by["FWM 9"].netmask_text == "255.255.0.0" and by["FWM 9"].timeout == 120
    assert by["SCTP 10.96.0.20:9999"].real_servers[0].port == 9999
    web = by["TCP 10.0.0.100:80"]
    assert (web.real_servers[0].inactive_conns, web.real_servers[0].active_conns) == (4, 0)
    assert [rs.forward for rs in by["TCP 10.96.0.1:443"].real_servers] == ["Route", "Masq", "Masq"]


def test_rendered_like_ipvsadm_except_what_proc_lacks(fixture_text):
    """ipvsadm read the same table over netlink; /proc lacks scheduler flags and persistence engines only."""
    version, size, services = parse_ip_vs(fixture_text("proc_ip_vs.txt"), hz=250)
    ours = ipvsadm.render(IPVSTable(services, "proc", version=version, conn_tab_size=size))
    expected = fixture_text("ipvsadm_Ln_exact.txt")
    for lacking in (" (sh-fallback,sh-port)", " (mh-port)", " pe sip"):
        assert lacking in expected
        expected = expected.replace(lacking, "")
    assert ours == expected


def test_totals_from_ip_vs_stats(fixture_text):
    totals = parse_ip_vs_stats(fixture_text("proc_ip_vs_stats.txt"))
    # hex in /proc; the same traffic as `ipvsadm -Ln --stats` shows for TCP 10.0.0.100:80: 5 25 25 1796 4296
    assert (totals.conns, totals.inpkts, totals.outpkts, totals.inbytes, totals.outbytes) == (5, 25, 25, 1796, 4296)
    assert (totals.inpps, totals.inbps, totals.outbps) == (1, 0x2A, 0x66)


def test_read_proc_table_from_a_proc_directory(tmp_path, fixture_text):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "ip_vs").write_text(fixture_text("proc_ip_vs.txt"))
    (tmp_path / "net" / "ip_vs_stats").write_text(fixture_text("proc_ip_vs_stats.txt"))
    table = read_proc_table(str(tmp_path), hz=100, hz_source="test")
    assert table.source == "proc" and table.lacks == PROC_LACKS and table.hz == 100
    assert table.find("UDP", "10.96.0.10", 53).timeout == 9000  # the same jiffies at HZ=100
    assert table.totals is not None and table.totals.conns == 5


def test_ipv6_fwmark_without_persistence_takes_its_family_from_the_real_servers():
    text = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
            "FWM  00000005 rr \n  -> [fd00:0000:0000:0000:0000:0000:0000:0001]:0050      Masq    1      0          0\n"
            "FWM  00000006 rr \n  -> 0A000001:0050      Masq    1      0          0\n")
    _, _, (v6, v4) = parse_ip_vs(text, 250)
    assert (v6.af, v6.netmask, v4.af) == (AF_INET6, 128, socket.AF_INET)


@pytest.mark.parametrize("line, why", [
    ("TCP  0A600001:01BB rr  persistent 12 FFFF", "persistent"),
    ("TCP  0A6000:01BB rr", "virtual server address"),
    ("  -> 0A000001:1F90      Masq    1      0", "6 fields"),
    ("  -> 0A000001:1F90      Bridge  1      0          0", "forwarding method"),
    ("FWM  0000000G rr", "8 hex digits"),
    ("tcp  0A600001:01BB rr", "protocol"),
])
def test_bad_lines_are_named(line, why):
    header = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
    first = "" if line.startswith(("TCP", "FWM", "tcp")) else "TCP  0A600001:01BB rr\n"
    with pytest.raises(ProcParseError) as e:
        parse_ip_vs(header + first + line + "\n", 250)
    assert "line" in str(e.value) and why in str(e.value)


def test_a_real_server_before_any_virtual_server_is_an_error():
    with pytest.raises(ProcParseError, match="line 4.*before any virtual server"):
        parse_ip_vs("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
                    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
                    "  -> 0A000001:1F90      Masq    1      0          0\n", 250)


def _check(text: str) -> None:
    try:
        _, _, services = parse_ip_vs(text, 250)
    except ProcParseError as e:
        assert "/proc/net/ip_vs" in str(e)
        return
    for vs in services:  # a table that parses is a usable table
        assert vs.scheduler and (vs.fwmark or vs.protocol)
        ipvsadm.render(IPVSTable((vs,), "proc"))


@given(st.text(max_size=400))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_fuzzed_text_never_crashes(text):
    _check(text)


_HEADER = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
           "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
_TOKENS = st.sampled_from(["TCP", "UDP", "SCTP", "FWM", "->", "0A600001:01BB", "[2001:0db8::1]:0050", "[zz]:0050",
                           "0000002A", "rr", "wrr", "ops", "persistent", "900000", "FFFFFF00", "80000000", "Masq",
                           "Route", "Tunnel", "Local", "1", "0", "-1", "65535", "99999999999", "", "  ", "\t"])


@given(st.lists(st.lists(_TOKENS, max_size=8).map(" ".join), max_size=12))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_fuzzed_lines_after_a_valid_header_never_crash(lines):
    _check(_HEADER + "\n".join(lines) + "\n")


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_kernel_text_never_crashes(data):
    from pathlib import Path

    text = (Path(__file__).parent / "fixtures" / "proc_ip_vs.txt").read_text()
    pos = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 8))
    insert = data.draw(st.text(max_size=6))
    _check(text[:pos] + insert + text[pos + cut:])


def test_hz_from_the_kernel_config(tmp_path):
    detect_hz.cache_clear()
    (tmp_path / "config-6.1.0-test").write_text("CONFIG_HZ_250=y\nCONFIG_HZ=250\n")
    assert detect_hz(str(tmp_path), str(tmp_path), "6.1.0-test") == (250, f"CONFIG_HZ in {tmp_path}/config-6.1.0-test")


def test_hz_from_proc_config_gz(tmp_path):
    detect_hz.cache_clear()
    with gzip.open(tmp_path / "config.gz", "wt") as f:
        f.write("# CONFIG_HZ_100 is not set\nCONFIG_HZ=1000\n")
    assert detect_hz(str(tmp_path), str(tmp_path / "none"), "x")[0] == 1000


def test_hz_assumed_when_nothing_tells(tmp_path):
    detect_hz.cache_clear()
    (tmp_path / "schedstat").write_text("version 15\ntimestamp 4294894151\n")  # jiffies that never move
    hz, how = detect_hz(str(tmp_path), str(tmp_path), "x", sample=0.01)
    assert hz == 250 and how.startswith("assumed")
