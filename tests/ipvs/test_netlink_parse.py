"""The netlink decoders on encoded messages: pyroute2's ipvsmsg encoded, parsed back through pyroute2's Marshal
(as the reader receives them), then decoded by both the generic and the fast (layout) decoders; and on the raw
replies Debian's 6.1 kernel sent (fixtures/netlink.json), which must print exactly as ipvsadm printed them."""

from __future__ import annotations

import socket
import sys
from dataclasses import replace

import pytest
from pyroute2.ipvs import IPVSDest, IPVSService
from pyroute2.netlink.generic.ipvs import ipvsmsg
from pyroute2.netlink.marshal import Marshal

from tui.ipvs import ipvsadm
from tui.ipvs import nlattrs as nl
from tui.ipvs.netlink import RawReply
from tui.ipvs.model import AF_INET, AF_INET6, IPVSTable, Stats

FAMILY = 0x1D


class kernelmsg(ipvsmsg):
    """pyroute2's ipvsmsg with addresses and the netmask as raw bytes, as the kernel sends them (16-byte union
    nf_inet_addr; an IPv6 prefix length in host order)."""

    class service(ipvsmsg.service):
        nla_map = tuple((n, "cdata" if n in ("IPVS_SVC_ATTR_ADDR", "IPVS_SVC_ATTR_NETMASK") else t)
                        for n, t in ipvsmsg.service.nla_map)

    class dest(ipvsmsg.dest):
        nla_map = tuple((n, "cdata" if n == "IPVS_DEST_ATTR_ADDR" else t) for n, t in ipvsmsg.dest.nla_map)


def addr16(af: int, text: str) -> bytes:
    return socket.inet_pton(af, text).ljust(16, b"\0")


def encode(cmd: int, nest: str, attrs: list, seq: int = 1) -> bytes:
    msg = kernelmsg()
    msg["cmd"], msg["version"] = cmd, 1
    msg["header"]["type"], msg["header"]["flags"], msg["header"]["sequence_number"] = FAMILY, 2, seq
    msg["attrs"] = [(nest, {"attrs": attrs})]
    msg.encode()
    return msg.data


def received(data: bytes) -> list[bytes]:
    """What the reader gets from pyroute2: Marshal with our raw message class for the IPVS family."""
    m = Marshal()
    m.msg_map[FAMILY] = RawReply
    return [msg.raw for msg in m.parse(data)]


def decode_both(kind: str, raw: bytes, af: int = AF_INET):
    attr = nl.CMD_ATTR_SERVICE if kind == "service" else nl.CMD_ATTR_DEST
    s, e = nl.nested_payload(raw, 0, len(raw), attr)
    if kind == "service":
        generic = nl.parse_service(raw, s, e)
        fast = nl.decode_service(nl.service_decoder(), raw, s, e, {}, {})
    else:
        generic = nl.parse_dest(raw, s, e, af)
        fast = nl.decode_dest(nl.dest_decoder(), raw, s, e, af, {}, {})
    assert fast == generic
    return generic


def stats_attrs(*values: int) -> dict:
    names = ["CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES", "CPS", "INPPS", "OUTPPS", "INBPS", "OUTBPS"]
    return {"attrs": [(f"IPVS_STATS_ATTR_{n}", v) for n, v in zip(names, values)]}


def service_attrs(af=AF_INET, address="10.96.0.1", port=443, proto=6, sched="rr", flags=0x2, timeout=0,
                  netmask=b"\xff\xff\xff\xff", stats64=None, stats=None, pe=None, fwmark=0) -> list:
    a: list = [("IPVS_SVC_ATTR_AF", af)]
    if fwmark:
        a.append(("IPVS_SVC_ATTR_FWMARK", fwmark))
    else:
        a += [("IPVS_SVC_ATTR_PROTOCOL", proto), ("IPVS_SVC_ATTR_ADDR", addr16(af, address)),
              ("IPVS_SVC_ATTR_PORT", port)]
    a += [("IPVS_SVC_ATTR_SCHED_NAME", sched)]
    if pe:
        a.append(("IPVS_SVC_ATTR_PE_NAME", pe))
    a += [("IPVS_SVC_ATTR_FLAGS", {"flags": flags, "mask": 0xFFFFFFFF}), ("IPVS_SVC_ATTR_TIMEOUT", timeout),
          ("IPVS_SVC_ATTR_NETMASK", netmask)]
    if stats is not None:
        a.append(("IPVS_SVC_ATTR_STATS", stats))
    if stats64 is not None:
        a.append(("IPVS_SVC_ATTR_STATS64", stats64))
    return a


def dest_attrs(af=AF_INET, address="10.244.1.5", port=8080, fwd=0, weight=1, uth=0, lth=0, active=0, inact=0,
               persist=0, family=True, stats64=None, tun=False) -> list:
    a = [("IPVS_DEST_ATTR_ADDR", addr16(af, address)), ("IPVS_DEST_ATTR_PORT", port),
         ("IPVS_DEST_ATTR_FWD_METHOD", fwd), ("IPVS_DEST_ATTR_WEIGHT", weight)]
    if tun:
        # pyroute2 declares TUN_PORT a host-order uint16; the kernel sends it big-endian (nla_put_be16)
        a += [("IPVS_DEST_ATTR_TUN_TYPE", 1), ("IPVS_DEST_ATTR_TUN_PORT", socket.htons(6080)),
              ("IPVS_DEST_ATTR_TUN_FLAGS", 2)]
    a += [("IPVS_DEST_ATTR_U_THRESH", uth), ("IPVS_DEST_ATTR_L_THRESH", lth), ("IPVS_DEST_ATTR_ACTIVE_CONNS", active),
          ("IPVS_DEST_ATTR_INACT_CONNS", inact), ("IPVS_DEST_ATTR_PERSIST_CONNS", persist)]
    if family:
        a.append(("IPVS_DEST_ATTR_ADDR_FAMILY", af))
    if stats64 is not None:
        a.append(("IPVS_DEST_ATTR_STATS64", stats64))
    return a


def test_ipv4_service_with_persistence():
    raw, = received(encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(flags=0x1 | 0x2 | 0x4, timeout=10800,
                                                                     netmask=b"\xff\xff\xff\x00", proto=17,
                                                                     port=53)))
    vs = decode_both("service", raw).service
    assert (vs.protocol, vs.address, vs.port, vs.af, vs.fwmark) == ("UDP", "10.96.0.1", 53, AF_INET, 0)
    assert vs.persistent and vs.hashed and vs.one_packet and vs.timeout == 10800
    assert vs.netmask_text == "255.255.255.0" and not vs.default_netmask


def test_pyroute2_helpers_would_have_lost_those_values():
    """The trap the reader avoids: IPVSService.from_message keeps its class defaults."""
    data = encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(flags=0x3, timeout=10800, sched="wrr"))
    m = Marshal()
    m.msg_map[FAMILY] = ipvsmsg
    helper = IPVSService.from_message(next(iter(m.parse(data))))
    assert helper["timeout"] == 0 and helper["flags"] == {"flags": 0, "mask": 0xFFFF}
    raw, = received(data)
    assert decode_both("service", raw).service.timeout == 10800
    ddata = encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(fwd=0, uth=50))
    dhelper = IPVSDest.from_message(next(iter(m.parse(ddata))))
    assert dhelper["fwd_method"] == 3 and dhelper["u_thresh"] == 0  # Route and 0: not what was sent
    draw, = received(ddata)
    rs = decode_both("dest", draw)
    assert rs.forward == "Masq" and rs.u_threshold == 50


def test_ipv6_service_prefix_is_host_order():
    raw, = received(encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(
        af=AF_INET6, address="2001:db8::10", port=80, sched="mh", flags=0x1 | 0x2 | 0x10, timeout=60,
        netmask=(64).to_bytes(4, sys.byteorder))))
    vs = decode_both("service", raw).service
    assert vs.address == "2001:db8::10" and vs.netmask == 64 and vs.sched_flag_names == ("mh-port",)
    assert vs.endpoint == "TCP [2001:db8::10]:80"


def test_fwmark_service_carries_only_family_and_mark():
    raw, = received(encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(fwmark=42, sched="lc")))
    reply = decode_both("service", raw)
    assert (reply.service.fwmark, reply.service.protocol, reply.service.address) == (42, "", "")
    # the request for its real servers names it by family and mark only
    assert [t for t, _, _ in nl.iter_attrs(reply.key_attrs, 4, len(reply.key_attrs))] == [nl.SVC_AF, nl.SVC_FWMARK]


def test_stats64_preferred_over_32_bit_stats():
    big = 2 ** 40 + 7
    raw, = received(encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(
        stats=stats_attrs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        stats64=stats_attrs(big, big + 1, big + 2, big + 3, big + 4, 11, 12, 13, 14, 15))))
    vs = decode_both("service", raw).service
    assert vs.stats == Stats(big, big + 1, big + 2, big + 3, big + 4, 11, 12, 13, 14, 15)


def test_32_bit_stats_alone_are_used():
    raw, = received(encode(4, "IPVS_CMD_ATTR_SERVICE", service_attrs(stats=stats_attrs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))))
    assert decode_both("service", raw).service.stats == Stats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)


@pytest.mark.parametrize("fwd, name", [(0, "Masq"), (1, "Local"), (2, "Tunnel"), (3, "Route")])
def test_every_forwarding_method(fwd, name):
    raw, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(fwd=fwd)))
    assert decode_both("dest", raw).forward == name


def test_dest_thresholds_connections_and_tunnel():
    raw, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(
        weight=65535, uth=1000, lth=100, active=3, inact=9, persist=2, tun=True, fwd=2,
        stats64=stats_attrs(5, 25, 25, 1796, 4296, 0, 1, 1, 42, 102))))
    rs = decode_both("dest", raw)
    assert (rs.weight, rs.u_threshold, rs.l_threshold) == (65535, 1000, 100)
    assert (rs.active_conns, rs.inactive_conns, rs.persistent_conns) == (3, 9, 2)
    assert (rs.tun_type, rs.tun_port, rs.tun_flags) == (1, 6080, 2)
    assert rs.stats == Stats(5, 25, 25, 1796, 4296, 0, 1, 1, 42, 102)


def test_dest_without_family_takes_the_services():
    raw, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(af=AF_INET6, address="fd00::2", family=False)))
    assert decode_both("dest", raw, AF_INET6).address == "fd00::2"


def test_a_different_shape_after_the_first_is_not_misread():
    """The fast decoder learns a layout from the first nest; a later nest of another shape gets its own."""
    dec = nl.dest_decoder()
    first, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(address="10.0.0.1", weight=1)))
    other, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(address="10.0.0.2", weight=7, tun=True)))
    same_size, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs(af=AF_INET6, address="fd00::9", weight=3)))
    results = []
    for raw in (first, other, same_size, first):
        s, e = nl.nested_payload(raw, 0, len(raw), nl.CMD_ATTR_DEST)
        results.append(nl.decode_dest(dec, raw, s, e, AF_INET, {}, {}))
    assert [(r.address, r.weight, r.tun_port) for r in results] == [
        ("10.0.0.1", 1, None), ("10.0.0.2", 7, 6080), ("fd00::9", 3, None), ("10.0.0.1", 1, None)]


def test_truncated_attribute_is_a_parse_error():
    raw, = received(encode(8, "IPVS_CMD_ATTR_DEST", dest_attrs()))
    s, e = nl.nested_payload(raw, 0, len(raw), nl.CMD_ATTR_DEST)
    broken = bytearray(raw)
    broken[s:s + 2] = (200).to_bytes(2, sys.byteorder)  # the first attribute claims more bytes than there are
    with pytest.raises(nl.NetlinkParseError):
        nl.parse_dest(bytes(broken), s, e, AF_INET)
    with pytest.raises(nl.NetlinkParseError):
        nl.decode_dest(nl.dest_decoder(), bytes(broken), s, e, AF_INET, {}, {})


def kernel_table(kernel_netlink: dict, fast: bool) -> IPVSTable:
    sdec, ddec, cache, addrs = nl.service_decoder(), nl.dest_decoder(), {}, {}
    services = []
    for svc_hex, dest_hexes in zip(kernel_netlink["services"], kernel_netlink["dests"]):
        raw = bytes.fromhex(svc_hex)
        s, e = nl.nested_payload(raw, 0, len(raw), nl.CMD_ATTR_SERVICE)
        reply = nl.decode_service(sdec, raw, s, e, cache, addrs) if fast else nl.parse_service(raw, s, e)
        dests = []
        for dh in dest_hexes:
            d = bytes.fromhex(dh)
            s, e = nl.nested_payload(d, 0, len(d), nl.CMD_ATTR_DEST)
            dests.append(nl.decode_dest(ddec, d, s, e, reply.service.af, cache, addrs) if fast
                         else nl.parse_dest(d, s, e, reply.service.af))
        services.append(replace(reply.service, real_servers=tuple(dests)))
    return IPVSTable(tuple(services), "netlink")


@pytest.mark.parametrize("fast", [False, True])
def test_kernel_replies_print_exactly_as_ipvsadm_printed_them(kernel_netlink, fixture_text, fast):
    table = kernel_table(kernel_netlink, fast)
    assert ipvsadm.render(table) == fixture_text("ipvsadm_Ln_exact.txt")
    assert ipvsadm.render(table, stats=True) == fixture_text("ipvsadm_Ln_stats_exact.txt")


def test_kernel_replies_decode_the_same_both_ways(kernel_netlink):
    fast, generic = kernel_table(kernel_netlink, True), kernel_table(kernel_netlink, False)
    assert fast.virtual_servers == generic.virtual_servers and len(fast.virtual_servers) == 11


def test_kernel_info_reply(kernel_netlink):
    raw = bytes.fromhex(kernel_netlink["info"][0])
    a = nl.attr_map(raw, nl.MSG_HDR_LEN, len(raw))
    assert nl.uint_attr(raw, a[nl.INFO_VERSION]) == 0x010201 and nl.uint_attr(raw, a[nl.INFO_CONN_TAB_SIZE]) == 4096
