"""This node's IPVS table over generic netlink, read with pyroute2's AsyncIPVS.

Two traps of pyroute2 0.9 (reference §5) are avoided by reading the raw attributes ourselves:
`IPVSService.from_message()`/`IPVSDest.from_message()` keep class defaults (timeout 0, flags 0, forwarding method
Route, thresholds 0) instead of what the kernel sent, and its `target(...)` address decoding looks for a family
attribute the kernel sends after the address. So values come from the IPVS_SVC_ATTR_* / IPVS_DEST_ATTR_* attributes
(include/uapi/linux/ip_vs.h) decoded with `struct`, STATS64 preferred over the 32-bit STATS.

How a read goes: AsyncIPVS (inside the caller's running loop) resolves the IPVS family, asks GET_INFO and dumps the
services, keeping each reply's raw bytes. The kernel has no "all real servers" dump: ipvsadm, like us, asks one dest
dump per service. Ten thousand of those round trips through pyroute2's request machinery cost more per request than
the kernel does, so they run as a tight send/recv loop on a private netlink socket of the same family in a worker
thread, which also keeps the caller's event loop free while a large table is read.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from pyroute2 import AsyncIPVS
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.exceptions import NetlinkError

from tui.ipvs.model import (
    AF_INET, AF_INET6, IPVSTable, RealServer, Stats, VirtualServer, forward_name, protocol_name, utc_now,
)

# Commands and attributes (include/uapi/linux/ip_vs.h).
CMD_GET_SERVICE, CMD_GET_DEST, CMD_GET_INFO = 4, 8, 15
GENL_VERSION = 1
CMD_ATTR_SERVICE, CMD_ATTR_DEST = 1, 2
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED_NAME, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK, \
    SVC_STATS, SVC_PE_NAME, SVC_STATS64 = range(1, 13)
DEST_ADDR, DEST_PORT, DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH, DEST_ACTIVE_CONNS, \
    DEST_INACT_CONNS, DEST_PERSIST_CONNS, DEST_STATS, DEST_ADDR_FAMILY, DEST_STATS64, DEST_TUN_TYPE, \
    DEST_TUN_PORT, DEST_TUN_FLAGS = range(1, 16)
INFO_VERSION, INFO_CONN_TAB_SIZE = 1, 2
NLA_F_NESTED = 0x8000
_NLA_TYPE_MASK = 0x3FFF

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_NLA = struct.Struct("=HH")  # struct nlattr
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_U64 = struct.Struct("=Q")
_BE16 = struct.Struct(">H")
_GENL_HDR_LEN = 4
_MSG_HDR_LEN = _HDR.size + _GENL_HDR_LEN

NETLINK_GENERIC = 16


class NetlinkReadError(Exception):
    """The kernel refused or failed a netlink request; `code` is the errno."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class IPVSNotInKernel(NetlinkReadError):
    """The generic netlink family "IPVS" does not exist: ip_vs is not loaded (or not built)."""


class IPVSPermissionDenied(NetlinkReadError):
    """Every IPVS netlink command needs CAP_NET_ADMIN (GENL_ADMIN_PERM)."""


class NetlinkParseError(ValueError):
    """A reply that is not what the kernel's IPVS family sends."""


# -- attribute decoding ---------------------------------------------------------------------------------------------

def iter_attrs(buf: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each netlink attribute in buf[start:end]."""
    off = start
    while off + 4 <= end:
        length, typ = _NLA.unpack_from(buf, off)
        if length < 4 or off + length > end:
            raise NetlinkParseError(f"malformed netlink attribute (length {length} at offset {off})")
        yield typ & _NLA_TYPE_MASK, off + 4, off + length
        off += (length + 3) & ~3


def attr_map(buf: bytes | memoryview, start: int, end: int) -> dict[int, tuple[int, int]]:
    return {t: (s, e) for t, s, e in iter_attrs(buf, start, end)}


def _uint(buf: bytes | memoryview, span: tuple[int, int]) -> int:
    s, e = span
    n = e - s
    if n == 4:
        return _U32.unpack_from(buf, s)[0]
    if n == 8:
        return _U64.unpack_from(buf, s)[0]
    if n == 2:
        return _U16.unpack_from(buf, s)[0]
    if n == 1:
        return buf[s]
    raise NetlinkParseError(f"an integer attribute of {n} bytes")


def _string(buf: bytes | memoryview, span: tuple[int, int]) -> str:
    raw = bytes(buf[span[0]:span[1]])
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def parse_stats(buf: bytes | memoryview, span: tuple[int, int]) -> Stats:
    """IPVS_*_ATTR_STATS (u32 counters, u64 bytes) or STATS64 (all u64): widths are read from the attributes."""
    values = [0] * 11
    for t, s, e in iter_attrs(buf, span[0], span[1]):
        if 1 <= t <= 10:
            values[t] = _uint(buf, (s, e))
    return Stats(*values[1:])


def _addr(buf: bytes | memoryview, span: tuple[int, int], af: int) -> str:
    s, e = span
    need = 16 if af == AF_INET6 else 4
    if e - s < need:
        raise NetlinkParseError(f"an address attribute of {e - s} bytes for family {af}")
    return socket.inet_ntop(af, bytes(buf[s:s + need]))


@dataclass(frozen=True, slots=True)
class ServiceReply:
    """One decoded service and the attributes that identify it, to ask for its real servers."""

    service: VirtualServer
    key_attrs: bytes  # the IPVS_CMD_ATTR_SERVICE nest for a GET_DEST dump


def parse_service(buf: bytes | memoryview, start: int, end: int) -> ServiceReply:
    """The payload of IPVS_CMD_ATTR_SERVICE (its attributes) -> the service, without real servers."""
    a = attr_map(buf, start, end)
    if SVC_AF not in a:
        raise NetlinkParseError("a service without IPVS_SVC_ATTR_AF")
    af = _uint(buf, a[SVC_AF])
    key = [_nla(SVC_AF, _U16.pack(af))]
    fwmark = _uint(buf, a[SVC_FWMARK]) if SVC_FWMARK in a else 0
    if fwmark:
        protocol, address, port = "", "", 0
        key.append(_nla(SVC_FWMARK, _U32.pack(fwmark)))
    else:
        for need in (SVC_PROTOCOL, SVC_ADDR, SVC_PORT):
            if need not in a:
                raise NetlinkParseError("a service with neither a firewall mark nor protocol, address and port")
        proto = _uint(buf, a[SVC_PROTOCOL])
        protocol = protocol_name(proto)
        address = _addr(buf, a[SVC_ADDR], af)
        s, e = a[SVC_PORT]
        port = _BE16.unpack_from(buf, s)[0]
        key += [_nla(SVC_PROTOCOL, _U16.pack(proto)), _nla(SVC_ADDR, bytes(buf[a[SVC_ADDR][0]:a[SVC_ADDR][1]])),
                _nla(SVC_PORT, bytes(buf[s:e]))]
    flags = 0
    if SVC_FLAGS in a:
        s, e = a[SVC_FLAGS]
        if e - s >= 8:
            f, mask = struct.unpack_from("=II", buf, s)
            flags = f & mask
    netmask = 0xFFFFFFFF if af == AF_INET else 128
    if SVC_NETMASK in a:
        s, e = a[SVC_NETMASK]
        raw = bytes(buf[s:s + 4])
        # IPv4: a netmask in network order; IPv6: the prefix length, kept in host order in the same __be32.
        netmask = int.from_bytes(raw, "big") if af == AF_INET else int.from_bytes(raw, sys.byteorder)
    if SVC_STATS64 in a:
        stats = parse_stats(buf, a[SVC_STATS64])
    elif SVC_STATS in a:
        stats = parse_stats(buf, a[SVC_STATS])
    else:
        stats = None
    vs = VirtualServer(
        protocol=protocol, address=address, port=port, af=af, fwmark=fwmark,
        scheduler=_string(buf, a[SVC_SCHED_NAME]) if SVC_SCHED_NAME in a else "",
        flags=flags, timeout=_uint(buf, a[SVC_TIMEOUT]) if SVC_TIMEOUT in a else 0,
        netmask=netmask, pe_name=_string(buf, a[SVC_PE_NAME]) if SVC_PE_NAME in a else "", stats=stats)
    return ServiceReply(vs, _nla(CMD_ATTR_SERVICE, b"".join(key)))  # no NLA_F_NESTED, as libnl sends it


def parse_dest(buf: bytes | memoryview, start: int, end: int, service_af: int) -> RealServer:
    """The payload of IPVS_CMD_ATTR_DEST -> a real server. Kernels before 4.x send no family: the service's then."""
    a = attr_map(buf, start, end)
    for need in (DEST_ADDR, DEST_PORT):
        if need not in a:
            raise NetlinkParseError("a real server without address or port")
    af = _uint(buf, a[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in a else service_af

    def opt(t: int) -> int | None:
        return _uint(buf, a[t]) if t in a else None

    if DEST_STATS64 in a:
        stats = parse_stats(buf, a[DEST_STATS64])
    elif DEST_STATS in a:
        stats = parse_stats(buf, a[DEST_STATS])
    else:
        stats = None
    weight = _I32.unpack_from(buf, a[DEST_WEIGHT][0])[0] if DEST_WEIGHT in a else 0
    tun_port = None
    if DEST_TUN_PORT in a:
        tun_port = _BE16.unpack_from(buf, a[DEST_TUN_PORT][0])[0]
    return RealServer(
        address=_addr(buf, a[DEST_ADDR], af), port=_BE16.unpack_from(buf, a[DEST_PORT][0])[0], af=af,
        forward=forward_name((opt(DEST_FWD_METHOD) or 0) & 0x7), weight=weight,
        active_conns=opt(DEST_ACTIVE_CONNS) or 0, inactive_conns=opt(DEST_INACT_CONNS) or 0,
        persistent_conns=opt(DEST_PERSIST_CONNS), u_threshold=opt(DEST_U_THRESH), l_threshold=opt(DEST_L_THRESH),
        stats=stats, tun_type=opt(DEST_TUN_TYPE), tun_port=tun_port, tun_flags=opt(DEST_TUN_FLAGS))


def _nla(typ: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, typ) + payload + b"\0" * ((4 - length % 4) % 4)


def _genl(cmd: int, attrs: bytes = b"") -> bytes:
    return bytes((cmd, GENL_VERSION, 0, 0)) + attrs


def nested_payload(buf: bytes | memoryview, msg_start: int, msg_end: int, attr: int) -> tuple[int, int] | None:
    """Where the attributes nested in top-level attribute `attr` of one genl message lie."""
    for t, s, e in iter_attrs(buf, msg_start + _MSG_HDR_LEN, msg_end):
        if t == attr:
            return s, e
    return None


# -- pyroute2 glue: raw messages through AsyncIPVS's request machinery ----------------------------------------------

class _RawReply(dict):
    """What pyroute2's Marshal builds for each IPVS reply: the header decoded, the body left as raw bytes for the
    decoders above (pyroute2's own ipvsmsg decoding is both slow and, for addresses, wrong)."""

    def __init__(self, data: bytes | None = None, offset: int = 0, **_: object) -> None:
        super().__init__()
        self.data = data or b""
        self.offset = offset
        self.raw = b""

    def decode(self) -> None:
        length, mtype, flags, seq, pid = _HDR.unpack_from(self.data, self.offset)
        self["header"] = {"length": length, "type": mtype, "flags": flags, "sequence_number": seq, "pid": pid,
                          "error": None}
        self.raw = bytes(self.data[self.offset:self.offset + length])


class _RawRequest(dict):
    """A request pyroute2's NetlinkRequest can send: it fills the header, we supply the genl body."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self["header"] = {}
        self.body = body
        self.data = b""

    def reset(self) -> None:
        pass

    def encode(self) -> None:
        h = self["header"]
        self.data = _HDR.pack(_HDR.size + len(self.body), h["type"], h["flags"], h["sequence_number"],
                              h["pid"]) + self.body


def _netlink_error(e: BaseException, what: str) -> NetlinkReadError:
    code = getattr(e, "code", None) or getattr(e, "errno", None) or 0
    if code in (errno.EPERM, errno.EACCES):
        return IPVSPermissionDenied(code, f"{what}: operation not permitted (needs CAP_NET_ADMIN)")
    if code in (errno.ENOENT, errno.ENOTSUP):
        return IPVSNotInKernel(code, f"{what}: the kernel has no IPVS netlink family (ip_vs is not loaded)")
    return NetlinkReadError(code, f"{what}: {os.strerror(code) if code else e}")


# -- fast decoding: one struct per attribute layout -----------------------------------------------------------------
#
# The kernel writes every service and every real server with the same attributes in the same order and sizes
# (ip_vs_genl_fill_service/_dest), so after walking one nest attribute by attribute, the next ones of the same shape
# decode with a single struct.unpack_from and a builder generated for that shape (as dataclasses and namedtuple
# generate their methods). Each nest's attribute headers are compared with the example's (one masked integer
# comparison), so a nest of any other shape is never misread: it gets its own layout, or the generic decoder.

_INT_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SVC_RAW = frozenset({SVC_ADDR, SVC_PORT, SVC_SCHED_NAME, SVC_NETMASK, SVC_PE_NAME})
_DEST_RAW = frozenset({DEST_ADDR, DEST_PORT, DEST_TUN_PORT})
_FORWARD = tuple(forward_name(i) for i in range(8))


@dataclass(slots=True)
class _Layout:
    size: int
    unpack: Callable[[bytes | memoryview, int], tuple]  # the payload values only (headers are skipped)
    headers: Callable[[bytes | memoryview, int], tuple]  # every attribute header as one 32-bit number
    expected: tuple  # the example's headers
    where: dict  # attribute type -> value index, or for a nest {inner type -> value index}
    order: list  # [(attribute type, offset of its end relative to the nest start)] at the top level
    build: Callable | None = None

    def matches(self, buf: bytes | memoryview, start: int) -> bool:
        return self.headers(buf, start) == self.expected


def _compile(buf: bytes | memoryview, start: int, end: int, nests: frozenset, raw: frozenset,
             pairs: frozenset) -> _Layout | None:
    fmt = ["="]
    headers: list[int] = []  # offsets of attribute headers, relative to start
    order: list[tuple[int, int]] = []
    i = 0

    def walk(s: int, e: int, into: dict, top: bool) -> bool:
        nonlocal i
        off = s
        while off + 4 <= e:
            length, typ = _NLA.unpack_from(buf, off)
            if length < 4 or off + length > e:
                return False
            fmt.append("4x")
            headers.append(off - start)
            t, plen = typ & _NLA_TYPE_MASK, length - 4
            if top and t in nests:
                inner: dict = {}
                if not walk(off + 4, off + length, inner, False):
                    return False
                into[t] = inner
            elif top and t in pairs and plen == 8:
                fmt.append("II")
                into[t] = (i, i + 1)
                i += 2
            elif (top and t in raw) or plen not in _INT_FMT:
                if plen:
                    fmt.append(f"{plen}s")
                    into[t] = i
                    i += 1
            else:
                fmt.append(_INT_FMT[plen])
                into[t] = i
                i += 1
            nxt = min(off + ((length + 3) & ~3), e)
            if nxt - off - length:
                fmt.append(f"{nxt - off - length}x")
            if top:
                order.append((t, nxt - start))
            off = nxt
        return off == e

    where: dict = {}
    if not walk(start, end, where, True):
        return None
    st = struct.Struct("".join(fmt))
    if st.size != end - start:
        return None
    hfmt, at = ["="], 0
    for h in headers:
        hfmt.append(f"{h - at}xI" if h > at else "I")
        at = h + 4
    hst = struct.Struct("".join(hfmt))
    return _Layout(st.size, st.unpack_from, hst.unpack_from, hst.unpack_from(buf, start), where, order)


def _stats_expr(w: dict, *types: int) -> str:
    """Source text that interns the Stats of a nest, or None if the layout has no complete stats nest."""
    for t in types:
        inner = w.get(t)
        if isinstance(inner, dict) and all(k in inner for k in range(1, 11)):
            vals = ", ".join(f"v[{inner[k]}]" for k in range(1, 11))
            return f"intern(({vals},), cache)"
    return "None"


def _interned_stats(values: tuple, cache: dict) -> Stats:
    """Equal counters share one Stats object (most entries of a big table are idle: all zeros)."""
    s = cache.get(values)
    if s is None:
        s = cache[values] = Stats(*values)
    return s


def _address(af: int, raw: bytes, cache: dict) -> str:
    """inet_ntop, remembered per read: the same pod addresses recur under many virtual servers."""
    hit = cache.get(raw)
    if hit is not None and hit[0] == af:
        return hit[1]
    text = socket.inet_ntop(af, raw[:16] if af == AF_INET6 else raw[:4])
    cache[raw] = (af, text)
    return text


_GLOBALS = {"RealServer": RealServer, "VirtualServer": VirtualServer, "ServiceReply": ServiceReply,
            "intern": _interned_stats, "address": _address, "FORWARD": _FORWARD, "protocol_name": protocol_name,
            "frm": int.from_bytes, "BYTEORDER": sys.byteorder, "AF_INET": AF_INET}


def _generate(name: str, args: str, body: list[str], extra: dict | None = None) -> Callable:
    src = f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body)
    ns = dict(_GLOBALS, **(extra or {}))
    exec(src, ns)  # noqa: S102 - source built above from integers and fixed names only
    return ns[name]


def _opt(w: dict, t: int, default: str, fmt: str = "v[{}]") -> str:
    i = w.get(t)
    return default if i is None else fmt.format(i)


BIG = "frm(v[{}], 'big')"


def _dest_builder(lay: _Layout) -> Callable | None:
    w = lay.where
    ints = (DEST_FWD_METHOD, DEST_WEIGHT, DEST_U_THRESH, DEST_L_THRESH, DEST_ACTIVE_CONNS, DEST_INACT_CONNS,
            DEST_PERSIST_CONNS, DEST_ADDR_FAMILY, DEST_TUN_TYPE, DEST_TUN_FLAGS, DEST_ADDR, DEST_PORT, DEST_TUN_PORT)
    if w.get(DEST_ADDR) is None or w.get(DEST_PORT) is None or any(
            not isinstance(w[t], int) for t in ints if t in w):
        return None
    body = [
        f"af = {_opt(w, DEST_ADDR_FAMILY, 'service_af')}",
        "weight = " + _opt(w, DEST_WEIGHT, "0"),
        "return RealServer(",
        f"    address(af, v[{w[DEST_ADDR]}], addrs), frm(v[{w[DEST_PORT]}], 'big'), af,",
        f"    {_opt(w, DEST_FWD_METHOD, repr('Masq'), 'FORWARD[v[{}] & 7]')},",
        "    weight - 0x100000000 if weight & 0x80000000 else weight,",
        f"    {_opt(w, DEST_ACTIVE_CONNS, '0')}, {_opt(w, DEST_INACT_CONNS, '0')},",
        f"    {_opt(w, DEST_PERSIST_CONNS, 'None')}, {_opt(w, DEST_U_THRESH, 'None')},",
        f"    {_opt(w, DEST_L_THRESH, 'None')}, {_stats_expr(w, DEST_STATS64, DEST_STATS)},",
        f"    {_opt(w, DEST_TUN_TYPE, 'None')}, {_opt(w, DEST_TUN_PORT, 'None', BIG)},",
        f"    {_opt(w, DEST_TUN_FLAGS, 'None')})",
    ]
    return _generate("build_dest", "v, service_af, cache, addrs", body)


def _service_builder(lay: _Layout) -> Callable | None:
    w = lay.where
    if SVC_AF not in w or not (SVC_FWMARK in w or all(t in w for t in (SVC_PROTOCOL, SVC_ADDR, SVC_PORT))):
        return None
    if SVC_FLAGS in w and not isinstance(w[SVC_FLAGS], tuple):
        return None
    types = [t for t, _ in lay.order]
    if types[:2] == [SVC_AF, SVC_FWMARK]:
        key_len = lay.order[1][1]
    elif types[:4] == [SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT]:
        key_len = lay.order[3][1]
    else:
        return None
    body = [f"af = v[{w[SVC_AF]}]"]
    if SVC_FWMARK in w:
        body += [f"fwmark = v[{w[SVC_FWMARK]}]", "protocol, addr, port = '', '', 0"]
    else:
        body += ["fwmark = 0",
                 f"protocol, addr, port = protocol_name(v[{w[SVC_PROTOCOL]}]), "
                 f"address(af, v[{w[SVC_ADDR]}], addrs), frm(v[{w[SVC_PORT]}], 'big')"]
    if SVC_NETMASK in w:
        body.append(f"netmask = frm(v[{w[SVC_NETMASK]}][:4], 'big' if af == AF_INET else BYTEORDER)")
    else:
        body.append("netmask = 0xFFFFFFFF if af == AF_INET else 128")
    flags = f"v[{w[SVC_FLAGS][0]}] & v[{w[SVC_FLAGS][1]}]" if SVC_FLAGS in w else "0"
    text = "v[{}].split(b'\\0', 1)[0].decode('ascii', 'replace')"
    body += [
        "vs = VirtualServer(protocol, addr, port, af, fwmark,",
        f"    {_opt(w, SVC_SCHED_NAME, repr(''), text)}, {flags}, {_opt(w, SVC_TIMEOUT, '0')}, netmask,",
        f"    {_opt(w, SVC_PE_NAME, repr(''), text)}, {_stats_expr(w, SVC_STATS64, SVC_STATS)})",
        f"return ServiceReply(vs, KEY_HEAD + bytes(buf[start:start + {key_len}]))",
    ]
    return _generate("build_service", "v, buf, start, cache, addrs", body,
                     {"KEY_HEAD": _NLA.pack(4 + key_len, CMD_ATTR_SERVICE)})


class _Decoder:
    """Decodes nests of one kind (services or real servers) fast, falling back to the generic decoder."""

    def __init__(self, nests: frozenset, raw: frozenset, pairs: frozenset, make: Callable) -> None:
        self._shape = (nests, raw, pairs)
        self._make = make
        self._layouts: list[_Layout] = []

    def layout(self, buf: bytes | memoryview, start: int, end: int) -> _Layout | None:
        n = end - start
        for lay in self._layouts:
            if lay.size == n and lay.matches(buf, start):
                return lay
        lay = _compile(buf, start, end, *self._shape)
        if lay is None:
            return None
        lay.build = self._make(lay)
        if lay.build is None:
            return None
        self._layouts.insert(0, lay)
        del self._layouts[8:]
        return lay


def _service_decoder() -> _Decoder:
    return _Decoder(frozenset({SVC_STATS, SVC_STATS64}), _SVC_RAW, frozenset({SVC_FLAGS}), _service_builder)


def _dest_decoder() -> _Decoder:
    return _Decoder(frozenset({DEST_STATS, DEST_STATS64}), _DEST_RAW, frozenset(), _dest_builder)


def decode_service(dec: _Decoder, buf: bytes | memoryview, start: int, end: int, cache: dict,
                   addrs: dict) -> ServiceReply:
    lay = dec.layout(buf, start, end)
    if lay is None:
        return parse_service(buf, start, end)
    return lay.build(lay.unpack(buf, start), buf, start, cache, addrs)  # type: ignore[misc]


def decode_dest(dec: _Decoder, buf: bytes | memoryview, start: int, end: int, service_af: int, cache: dict,
                addrs: dict) -> RealServer:
    lay = dec.layout(buf, start, end)
    if lay is None:
        return parse_dest(buf, start, end, service_af)
    return lay.build(lay.unpack(buf, start), service_af, cache, addrs)  # type: ignore[misc]


# -- the dumps: a private socket, a tight loop, a worker thread -----------------------------------------------------

_DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP


class _Dumper:
    """Blocking generic-netlink dumps on a private socket (used from one worker thread at a time)."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_GENERIC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.buf = bytearray(1 << 18)
        self.view = memoryview(self.buf)
        self.seq = 0

    def dump(self, body: bytes, what: str) -> Iterator[tuple[int, int]]:
        """Send one dump request; yield (start, end) in self.buf of the nest in each reply. A position is valid only
        until the next one is asked for (the buffer is reused)."""
        self.seq += 1
        seq, buf, recv_into = self.seq, self.buf, self.sock.recv_into
        self.sock.send(_HDR.pack(_HDR.size + len(body), self.family, _DUMP_FLAGS, seq, 0) + body)
        unpack_hdr, unpack_nla = _HDR.unpack_from, _NLA.unpack_from
        while True:
            n = recv_into(buf)
            off = 0
            while off + 16 <= n:
                length, mtype, _flags, mseq, _pid = unpack_hdr(buf, off)
                if length < 16 or off + length > n:
                    raise NetlinkParseError(f"a truncated netlink message ({length} bytes)")
                if mseq == seq:
                    if mtype == NLMSG_DONE:
                        return
                    if mtype == NLMSG_ERROR:
                        code = -_I32.unpack_from(buf, off + 16)[0]
                        if code:
                            raise _netlink_error(OSError(code, os.strerror(code)), what)
                        return
                    if mtype == self.family and length >= _MSG_HDR_LEN + 4:
                        nla_len, _t = unpack_nla(buf, off + _MSG_HDR_LEN)
                        if nla_len >= 4 and _MSG_HDR_LEN + nla_len <= length:
                            yield off + _MSG_HDR_LEN + 4, off + _MSG_HDR_LEN + nla_len
                off += (length + 3) & ~3

    def close(self) -> None:
        self.sock.close()


def read_services(family: int, cancel: threading.Event | None = None) -> list[VirtualServer]:
    """The whole table, blocking: one service dump, then one real-server dump per service."""
    dumper = _Dumper(family)
    try:
        cache: dict = {}
        addrs: dict = {}
        sdec, ddec = _service_decoder(), _dest_decoder()
        view = dumper.view
        replies = [decode_service(sdec, view, s, e, cache, addrs)
                   for s, e in dumper.dump(_genl(CMD_GET_SERVICE), "listing IPVS services")]
        head = bytes((CMD_GET_DEST, GENL_VERSION, 0, 0))
        for reply in replies:
            if cancel is not None and cancel.is_set():
                break
            vs, af = reply.service, reply.service.af
            # Still being built, not yet shared: the one place a model object is changed after construction.
            vs.real_servers = tuple(decode_dest(ddec, view, s, e, af, cache, addrs)
                                    for s, e in dumper.dump(head + reply.key_attrs, "listing real servers"))
        return [r.service for r in replies]
    finally:
        dumper.close()


class NetlinkReader:
    """Reads the IPVS table of this network namespace. Create and use it inside a running event loop; `read()` may
    be called again and again (one AsyncIPVS socket is kept); `close()` when done."""

    def __init__(self, clock: Callable = utc_now) -> None:
        self._clock = clock
        self._ipvs: AsyncIPVS | None = None
        self._family = 0

    async def _open(self) -> AsyncIPVS:
        if self._ipvs is None:
            ipvs = AsyncIPVS()
            try:
                await ipvs.setup_endpoint()  # binds and resolves the "IPVS" generic netlink family
            except (NetlinkError, OSError) as e:
                ipvs.close()
                raise _netlink_error(e, "looking up the IPVS netlink family") from e
            ipvs.marshal.msg_map[ipvs.prid] = _RawReply
            self._ipvs, self._family = ipvs, ipvs.prid
        return self._ipvs

    async def _request(self, body: bytes, flags: int, what: str) -> list[bytes]:
        ipvs = await self._open()
        try:
            replies = await ipvs.nlm_request(_RawRequest(body), msg_type=self._family, msg_flags=flags)
            return [m.raw async for m in replies if isinstance(m, _RawReply) and m.raw]
        except (NetlinkError, OSError) as e:
            raise _netlink_error(e, what) from e

    async def read(self) -> IPVSTable:
        info = await self._request(_genl(CMD_GET_INFO), NLM_F_REQUEST, "asking IPVS for its version")
        version, size = "1.2.1", 4096
        for raw in info:
            a = attr_map(raw, _MSG_HDR_LEN, len(raw))
            if INFO_VERSION in a:
                v = _uint(raw, a[INFO_VERSION])
                version = f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
            if INFO_CONN_TAB_SIZE in a:
                size = _uint(raw, a[INFO_CONN_TAB_SIZE])
        read_at = self._clock()
        cancel = threading.Event()
        try:
            services = await asyncio.to_thread(read_services, self._family, cancel)
        except BaseException:
            cancel.set()
            raise
        return IPVSTable(virtual_servers=tuple(services), source="netlink", read_at=read_at,
                         version=version, conn_tab_size=size)

    def close(self) -> None:
        if self._ipvs is not None:
            self._ipvs.close()
            self._ipvs = None


async def read_netlink(clock: Callable = utc_now) -> IPVSTable:
    """One read with a fresh socket (for one-shot use)."""
    reader = NetlinkReader(clock)
    try:
        return await reader.read()
    finally:
        reader.close()
