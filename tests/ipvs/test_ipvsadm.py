"""ipvsadm's listing formats and its sort order (glibc's merge sort over libipvs's wrapping comparators)."""

from __future__ import annotations

import pytest

from tui.ipvs import ipvsadm
from tui.ipvs.model import AF_INET6, F_HASHED, F_ONEPACKET, F_PERSISTENT, F_SCHED1, F_SCHED3, IPVSTable, RealServer, \
    Stats, VirtualServer


def table(*services: VirtualServer) -> IPVSTable:
    return IPVSTable(services, "netlink")


@pytest.mark.parametrize("n, exact, text", [
    (0, True, "        0"), (12345678, True, " 12345678"), (123456789, True, " 123456789"),
    (2 ** 64 - 1, True, " 18446744073709551615"), (99999999, False, " 99999999"), (123456789, False, "  123456K"),
    (12345678901, False, "   12345M"), (12345678901234, False, "   12345G"), (123456789012345678, False, "  123456T"),
])
def test_largenum(n, exact, text):
    assert ipvsadm.largenum(n, exact) == text


def test_addresses_more_than_2_31_apart_sort_the_way_ipvsadm_sorts_them():
    """libipvs subtracts unsigned addresses into an int: 192.168.1.5 - 10.0.0.1 is negative there."""
    vs = VirtualServer("TCP", "10.96.0.1", 443, real_servers=tuple(
        RealServer(a, 8443) for a in ("10.0.0.1", "192.168.1.5", "10.244.1.5", "172.16.0.9")))
    assert [rs.address for rs in ipvsadm.sort_dests(vs.real_servers)] == [
        "172.16.0.9", "192.168.1.5", "10.0.0.1", "10.244.1.5"]  # what ipvsadm 1.31 on glibc 2.36 prints
    services = [VirtualServer("TCP", a, 80) for a in ("10.96.0.1", "192.168.99.1", "10.0.0.100")]
    assert [s.address for s in ipvsadm.sort_services(services)] == ["192.168.99.1", "10.0.0.100", "10.96.0.1"]


def test_close_addresses_sort_plainly_and_by_port():
    services = [VirtualServer("UDP", "10.96.0.10", 53), VirtualServer("TCP", "10.96.0.10", 53),
                VirtualServer("TCP", "10.96.0.2", 80), VirtualServer("TCP", "10.96.0.10", 9153),
                VirtualServer("", "", 0, fwmark=3), VirtualServer("TCP", "fd00::1", 80, af=AF_INET6)]
    assert [s.endpoint for s in ipvsadm.sort_services(services)] == [
        "TCP 10.96.0.2:80", "TCP 10.96.0.10:53", "TCP 10.96.0.10:9153", "UDP 10.96.0.10:53", "TCP [fd00::1]:80",
        "FWM 3"]


def test_merge_sort_is_glibcs_for_a_non_transitive_comparator():
    """With wrapping comparisons the order depends on the algorithm: this is glibc's top-down merge."""
    keys = [(3, 0), (1, 0x90000000), (2, 0x10000000)]
    cmp = lambda a, b: ipvsadm._int32(a[1] - b[1])  # noqa: E731
    # merge([a], merge([b],[c])): b vs c: 0x80000000 wraps negative -> b first; a vs b: 0x70000000 >0 -> b; a vs c: <0
    assert ipvsadm._msort(keys, cmp) == [(1, 0x90000000), (3, 0), (2, 0x10000000)]


def test_listing_lines():
    services = (
        VirtualServer("TCP", "2001:db8::10", 80, af=AF_INET6, scheduler="mh", flags=F_PERSISTENT | F_HASHED | 0x10,
                      timeout=60, netmask=64, real_servers=(RealServer("2001:db8::1:0:0:5", 8080, af=AF_INET6),)),
        VirtualServer("UDP", "10.96.0.11", 5060, scheduler="rr", flags=F_PERSISTENT | F_ONEPACKET, timeout=30,
                      pe_name="sip", real_servers=(RealServer("10.244.6.6", 5060, forward="Local", weight=0,
                                                              active_conns=3, inactive_conns=12),)),
        VirtualServer("TCP", "10.96.0.3", 80, scheduler="rr", flags=F_SCHED1 | F_SCHED3,
                      real_servers=(RealServer("10.0.0.1", 80, forward="method-5"),)),
        VirtualServer("", "", 0, af=AF_INET6, fwmark=7, scheduler="rr", flags=F_PERSISTENT, timeout=360, netmask=128),
        VirtualServer("SCTP", "10.96.0.20", 9999, scheduler="sh", flags=F_SCHED1 | F_SCHED3),
    )
    assert ipvsadm.render(table(*services)) == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        "TCP  10.96.0.3:80 rr (flag-1,flag-3)\n"
        "  -> 10.0.0.1:80                  (null)  1      0          0         \n"
        "UDP  10.96.0.11:5060 rr persistent 30 pe sip ops\n"
        "  -> 10.244.6.6:5060              Local   0      3          12        \n"
        "SCTP 10.96.0.20:9999 sh (sh-fallback)\n"
        "TCP  [2001:db8::10]:80 mh (mh-port) persistent 60 mask 64\n"
        "  -> [2001:db8::1:0:0:5]:8080     Masq    1      0          0         \n"
        "FWM  7 IPv6 rr persistent 360\n")


def test_stats_listing_with_wide_numbers():
    big = Stats(123456789012, 5, 6, 2 ** 40, 7)
    t = table(VirtualServer("TCP", "10.96.0.1", 443, stats=big,
                            real_servers=(RealServer("10.0.0.1", 6443, stats=big),)),
              VirtualServer("", "", 0, fwmark=42, stats=Stats()))
    assert ipvsadm.render(t, stats=True) == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
        "  -> RemoteAddress:Port\n"
        "TCP  10.96.0.1:443                123456789012        5        6 1099511627776        7\n"
        "  -> 10.0.0.1:6443                123456789012        5        6 1099511627776        7\n"
        "FWM  42                                  0        0        0        0        0\n")
    assert "     123G        5        6    1099G        7" in ipvsadm.render(t, stats=True, exact=False)


def test_stats_of_a_proc_table_are_refused_in_words():
    t = IPVSTable((VirtualServer("TCP", "10.96.0.1", 443, stats=None),), "proc")
    with pytest.raises(ipvsadm.NoStatistics, match="CAP_NET_ADMIN"):
        ipvsadm.render(t, stats=True)
