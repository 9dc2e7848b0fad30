"""IPVS generic-netlink messages: their attributes (include/uapi/linux/ip_vs.h) decoded into the model.

Values come from the IPVS_SVC_ATTR_* / IPVS_DEST_ATTR_* attributes themselves, decoded with `struct`, never through
pyroute2's IPVSService/IPVSDest.from_message(), which keep class defaults (timeout 0, flags 0, forwarding method
Route, thresholds 0) instead of what the kernel sent (reference §5). STATS64 is preferred over the 32-bit STATS.

Two decoders give the same result: `parse_service`/`parse_dest` walk the attributes one by one (the reference, and
the fallback); `decode_service`/`decode_dest` decode a whole nest with one struct per attribute layout, which is what
lets a Python reader keep pace with ipvsadm on 10,000 services.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

from tui.ipvs.model import AF_INET, AF_INET6, RealServer, Stats, VirtualServer, forward_name, protocol_name

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

NLMSGHDR = struct.Struct("=IHHII")  # struct nlmsghdr
NLATTR = struct.Struct("=HH")  # struct nlattr
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
I32 = struct.Struct("=i")
_U64 = struct.Struct("=Q")
_BE16 = struct.Struct(">H")
_GENL_HDR_LEN = 4
MSG_HDR_LEN = NLMSGHDR.size + _GENL_HDR_LEN

NETLINK_GENERIC = 16


class NetlinkParseError(ValueError):
    """A reply that is not what the kernel's IPVS family sends."""


# -- attribute decoding ---------------------------------------------------------------------------------------------

def iter_attrs(buf: bytes | memoryview, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each netlink attribute in buf[start:end]."""
    off = start
    while off + 4 <= end:
        length, typ = NLATTR.unpack_from(buf, off)
        if length < 4 or off + length > end:
            raise NetlinkParseError(f"malformed netlink attribute (length {length} at offset {off})")
        yield typ & _NLA_TYPE_MASK, off + 4, off + length
        off += (length + 3) & ~3


def attr_map(buf: bytes | memoryview, start: int, end: int) -> dict[int, tuple[int, int]]:
    return {t: (s, e) for t, s, e in iter_attrs(buf, start, end)}


def uint_attr(buf: bytes | memoryview, span: tuple[int, int]) -> int:
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
            values[t] = uint_attr(buf, (s, e))
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
    af = uint_attr(buf, a[SVC_AF])
    key = [_nla(SVC_AF, _U16.pack(af))]
    fwmark = uint_attr(buf, a[SVC_FWMARK]) if SVC_FWMARK in a else 0
    if fwmark:
        protocol, address, port = "", "", 0
        key.append(_nla(SVC_FWMARK, _U32.pack(fwmark)))
    else:
        for need in (SVC_PROTOCOL, SVC_ADDR, SVC_PORT):
            if need not in a:
                raise NetlinkParseError("a service with neither a firewall mark nor protocol, address and port")
        proto = uint_attr(buf, a[SVC_PROTOCOL])
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
        flags=flags, timeout=uint_attr(buf, a[SVC_TIMEOUT]) if SVC_TIMEOUT in a else 0,
        netmask=netmask, pe_name=_string(buf, a[SVC_PE_NAME]) if SVC_PE_NAME in a else "", stats=stats)
    return ServiceReply(vs, _nla(CMD_ATTR_SERVICE, b"".join(key)))  # no NLA_F_NESTED, as libnl sends it


def parse_dest(buf: bytes | memoryview, start: int, end: int, service_af: int) -> RealServer:
    """The payload of IPVS_CMD_ATTR_DEST -> a real server. Kernels before 4.x send no family: the service's then."""
    a = attr_map(buf, start, end)
    for need in (DEST_ADDR, DEST_PORT):
        if need not in a:
            raise NetlinkParseError("a real server without address or port")
    af = uint_attr(buf, a[DEST_ADDR_FAMILY]) if DEST_ADDR_FAMILY in a else service_af

    def opt(t: int) -> int | None:
        return uint_attr(buf, a[t]) if t in a else None

    if DEST_STATS64 in a:
        stats = parse_stats(buf, a[DEST_STATS64])
    elif DEST_STATS in a:
        stats = parse_stats(buf, a[DEST_STATS])
    else:
        stats = None
    weight = I32.unpack_from(buf, a[DEST_WEIGHT][0])[0] if DEST_WEIGHT in a else 0
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
    return NLATTR.pack(length, typ) + payload + b"\0" * ((4 - length % 4) % 4)


def genl_body(cmd: int, attrs: bytes = b"") -> bytes:
    return bytes((cmd, GENL_VERSION, 0, 0)) + attrs


def nested_payload(buf: bytes | memoryview, msg_start: int, msg_end: int, attr: int) -> tuple[int, int] | None:
    """Where the attributes nested in top-level attribute `attr` of one genl message lie."""
    for t, s, e in iter_attrs(buf, msg_start + MSG_HDR_LEN, msg_end):
        if t == attr:
            return s, e
    return None


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
    mask: int  # 0xFF at every byte of every attribute header, the nest read as one little-endian number
    expected: int  # the example's header bytes under that mask
    where: dict  # attribute type -> value index, or for a nest {inner type -> value index}
    order: list  # [(attribute type, offset of its end relative to the nest start)] at the top level
    build: Callable | None = None

    def matches(self, buf: bytes | memoryview, start: int) -> bool:
        """Every attribute header (length and type) equal to the example's: one big-integer comparison."""
        whole = buf if start == 0 and len(buf) == self.size else buf[start:start + self.size]
        return int.from_bytes(whole, "little") & self.mask == self.expected


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
            length, typ = NLATTR.unpack_from(buf, off)
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
    mask = 0
    for h in headers:
        mask |= 0xFFFFFFFF << (8 * h)
    example = int.from_bytes(bytes(buf[start:end]), "little")
    return _Layout(st.size, st.unpack_from, mask, example & mask, where, order)


def _stats_lines(w: dict, *types: int) -> list[str]:
    """Source lines setting `stats` to the interned Stats of a nest (None if the layout has no complete one)."""
    for t in types:
        inner = w.get(t)
        if isinstance(inner, dict) and all(k in inner for k in range(1, 11)):
            vals = ", ".join(f"v[{inner[k]}]" for k in range(1, 11))
            return [f"sv = ({vals},)", "stats = cache.get(sv)", "if stats is None:", "    stats = intern(sv, cache)"]
    return ["stats = None"]


def _address_lines(index: int, target: str) -> list[str]:
    """Source lines setting `target` to the text of address v[index] (remembered per read, see _address)."""
    return [f"raw = v[{index}]", "hit = addrs.get(raw)",
            f"{target} = hit[1] if hit is not None and hit[0] == af else address(af, raw, addrs)"]


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
        *_address_lines(w[DEST_ADDR], "addr"),
        *_stats_lines(w, DEST_STATS64, DEST_STATS),
        "return RealServer(",
        f"    addr, frm(v[{w[DEST_PORT]}], 'big'), af,",
        f"    {_opt(w, DEST_FWD_METHOD, repr('Masq'), 'FORWARD[v[{}] & 7]')},",
        "    weight - 0x100000000 if weight & 0x80000000 else weight,",
        f"    {_opt(w, DEST_ACTIVE_CONNS, '0')}, {_opt(w, DEST_INACT_CONNS, '0')},",
        f"    {_opt(w, DEST_PERSIST_CONNS, 'None')}, {_opt(w, DEST_U_THRESH, 'None')},",
        f"    {_opt(w, DEST_L_THRESH, 'None')}, stats,",
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
        body += ["fwmark = 0", *_address_lines(w[SVC_ADDR], "addr"),
                 f"protocol, port = protocol_name(v[{w[SVC_PROTOCOL]}]), frm(v[{w[SVC_PORT]}], 'big')"]
    if SVC_NETMASK in w:
        body.append(f"netmask = frm(v[{w[SVC_NETMASK]}][:4], 'big' if af == AF_INET else BYTEORDER)")
    else:
        body.append("netmask = 0xFFFFFFFF if af == AF_INET else 128")
    flags = f"v[{w[SVC_FLAGS][0]}] & v[{w[SVC_FLAGS][1]}]" if SVC_FLAGS in w else "0"
    text = "v[{}].split(b'\\0', 1)[0].decode('ascii', 'replace')"
    body += [
        *_stats_lines(w, SVC_STATS64, SVC_STATS),
        "vs = VirtualServer(protocol, addr, port, af, fwmark,",
        f"    {_opt(w, SVC_SCHED_NAME, repr(''), text)}, {flags}, {_opt(w, SVC_TIMEOUT, '0')}, netmask,",
        f"    {_opt(w, SVC_PE_NAME, repr(''), text)}, stats)",
        f"return ServiceReply(vs, KEY_HEAD + bytes(buf[start:start + {key_len}]))",
    ]
    return _generate("build_service", "v, buf, start, cache, addrs", body,
                     {"KEY_HEAD": NLATTR.pack(4 + key_len, CMD_ATTR_SERVICE)})


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


def service_decoder() -> _Decoder:
    return _Decoder(frozenset({SVC_STATS, SVC_STATS64}), _SVC_RAW, frozenset({SVC_FLAGS}), _service_builder)


def dest_decoder() -> _Decoder:
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
