"""The model printed exactly as `ipvsadm -Ln --exact` and `ipvsadm -Ln --stats --exact` print it (ipvsadm 1.31).

Byte for byte, including what ipvsadm does by accident: it sorts with glibc's qsort() and comparators that subtract
unsigned 32-bit addresses into an int (libipvs ipvs_cmp_services/ipvs_cmp_dests), so addresses more than 2^31
apart compare the "wrong" way round (192.168.1.5 sorts before 10.0.0.1) and the comparison is not even transitive.
The result then depends on the sort algorithm: glibc's qsort is a top-down merge sort (msort.c: halves of n/2 and
n - n/2, merging while cmp <= 0), which `_msort` reproduces on the kernel's order. When no wrap-around can happen the
comparator is an ordinary total order and a stable sort gives the same result faster.
"""

from __future__ import annotations

import socket
from typing import Callable, Iterable, Sequence, TypeVar

from tui.ipvs.model import (
    AF_INET6, FORWARD_METHODS, PROTOCOL_NUMBERS, SCHED_FLAGS, F_ONEPACKET, F_PERSISTENT, IPVSTable, RealServer,
    Stats, VirtualServer,
)

T = TypeVar("T")

_TITLE = ("Prot LocalAddress:Port Scheduler Flags\n"
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
_STATS_TITLE = "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n" % (
    "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")


class NoStatistics(ValueError):
    """`--stats` asked of a table whose source has no per-service statistics (/proc)."""


def _int32(x: int) -> int:
    """C's conversion of an unsigned 32-bit difference to int."""
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def _u32(x: int) -> int:
    return x & 0xFFFFFFFF


def _words(af: int, address: str) -> tuple[int, int, int, int]:
    """The address as libipvs holds it (union nf_inet_addr, 16 bytes), as four host-order 32-bit words."""
    if not address:
        return (0, 0, 0, 0)
    packed = socket.inet_pton(af, address).ljust(16, b"\0")
    return (int.from_bytes(packed[0:4], "big"), int.from_bytes(packed[4:8], "big"),
            int.from_bytes(packed[8:12], "big"), int.from_bytes(packed[12:16], "big"))


def _msort(items: list[T], cmp: Callable[[T, T], int]) -> list[T]:
    """glibc's msort_with_tmp: split at n/2, sort both halves, merge taking from the left while cmp <= 0."""
    n = len(items)
    if n <= 1:
        return items
    n1 = n // 2
    a, b = _msort(items[:n1], cmp), _msort(items[n1:], cmp)
    out: list[T] = []
    i = j = 0
    while i < len(a) and j < len(b):
        if cmp(a[i], b[j]) <= 0:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    out.extend(a[i:])
    out.extend(b[j:])
    return out


def _spread_ok(values: Iterable[int]) -> bool:
    """True when every pairwise unsigned difference fits in an int (no comparison can wrap)."""
    vals = list(values)
    return not vals or max(vals) - min(vals) < 0x80000000


_SvcKey = tuple[int, int, int, tuple[int, int, int, int], int]


def _svc_key(vs: VirtualServer) -> _SvcKey:
    if vs.fwmark:
        return (vs.fwmark, vs.af, 0, (0, 0, 0, 0), 0)
    return (0, vs.af, PROTOCOL_NUMBERS.get(vs.protocol, 0), _words(vs.af, vs.address), vs.port)


def _cmp_services(k1: _SvcKey, k2: _SvcKey) -> int:
    r = _int32(k1[0] - k2[0])
    if r:
        return r
    r = k1[1] - k2[1]
    if r:
        return r
    r = k1[2] - k2[2]
    if r:
        return r
    if k1[1] == AF_INET6:
        for i in range(4):
            r = _int32(k1[3][i] - k2[3][i])
            if r:
                break
    else:
        r = _int32(k1[3][0] - k2[3][0])
    if r:
        return r
    return k1[4] - k2[4]


def sort_services(services: Sequence[VirtualServer]) -> list[VirtualServer]:
    """Virtual servers in ipvsadm's listing order."""
    keyed = [(_svc_key(vs), vs) for vs in services]
    v4 = [k[3][0] for k, _ in keyed if k[1] != AF_INET6]
    v6 = [k[3] for k, _ in keyed if k[1] == AF_INET6]
    if _spread_ok(k[0] for k, _ in keyed) and _spread_ok(v4) and all(_spread_ok(w[i] for w in v6) for i in range(4)):
        return [vs for _, vs in sorted(keyed, key=lambda kv: kv[0])]
    return [vs for _, vs in _msort(keyed, lambda a, b: _cmp_services(a[0], b[0]))]


_DestKey = tuple[int, tuple[int, int, int, int], int]


def _cmp_dests(k1: _DestKey, k2: _DestKey) -> int:
    r = 0
    if k1[0] == AF_INET6:
        for i in range(4):
            r = _int32(k1[1][i] - k2[1][i])
            if r:
                break
    else:
        r = _int32(k1[1][0] - k2[1][0])
    if r:
        return r
    return k1[2] - k2[2]


def sort_dests(dests: Sequence[RealServer]) -> list[RealServer]:
    """Real servers of one virtual server in ipvsadm's listing order."""
    if len(dests) <= 1:
        return list(dests)
    keyed = [((rs.af, _words(rs.af, rs.address), rs.port), rs) for rs in dests]
    afs = {k[0] for k, _ in keyed}
    if len(afs) == 1 and all(_spread_ok(k[1][i] for k, _ in keyed) for i in (range(4) if AF_INET6 in afs else (0,))):
        if AF_INET6 in afs:
            return [rs for _, rs in sorted(keyed, key=lambda kv: (kv[0][1], kv[0][2]))]
        return [rs for _, rs in sorted(keyed, key=lambda kv: (kv[0][1][0], kv[0][2]))]
    return [rs for _, rs in _msort(keyed, lambda a, b: _cmp_dests(a[0], b[0]))]


def largenum(i: int, exact: bool = True) -> str:
    """ipvsadm's print_largenum: at least 9 columns; K/M/G/T suffixes unless --exact."""
    if exact:
        s = str(i)
        return s.rjust(9 if len(s) <= 8 else len(s) + 1)
    if i < 100_000_000:
        return f"{i:9d}"
    if i < 1_000_000_000:
        return f"{i // 1000:8d}K"
    if i < 100_000_000_000:
        return f"{i // 1_000_000:8d}M"
    if i < 100_000_000_000_000:
        return f"{i // 1_000_000_000:8d}G"
    return f"{i // 1_000_000_000_000:8d}T"


def _svc_name(vs: VirtualServer) -> str:
    if vs.fwmark:
        return f"FWM  {vs.fwmark}" + (" IPv6" if vs.af == AF_INET6 else "")
    proto = vs.protocol if vs.protocol in ("TCP", "UDP", "SCTP") else "?"
    name = "%-4s %s" % (proto, vs.endpoint.split(" ", 1)[1])
    return name if vs.af == AF_INET6 else name[:33]


def _dest_name(rs: RealServer) -> str:
    return rs.endpoint if rs.af == AF_INET6 else rs.endpoint[:28]


def _service_line(vs: VirtualServer) -> str:
    line = f"{_svc_name(vs)} {vs.scheduler}"
    if vs.flags & SCHED_FLAGS:
        line += f" ({','.join(vs.sched_flag_names)})"
    if vs.flags & F_PERSISTENT:
        line += f" persistent {_u32(vs.timeout)}"
        if not vs.default_netmask:
            line += f" mask {vs.netmask_text}"
        if vs.pe_name:
            line += f" pe {vs.pe_name}"
    if vs.flags & F_ONEPACKET:
        line += " ops"
    return line


def _stats_cells(s: Stats, exact: bool) -> str:
    return "".join(largenum(v, exact) for v in (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes))


def render(table: IPVSTable, *, stats: bool = False, exact: bool = True) -> str:
    """`ipvsadm -Ln [--stats] [--exact]` for this table, ending with a newline as ipvsadm's output does."""
    out = [f"IP Virtual Server version {table.version} (size={table.conn_tab_size})\n"]
    out.append(_STATS_TITLE if stats else _TITLE)
    for vs in sort_services(table.virtual_servers):
        dests = sort_dests(vs.real_servers)
        if stats:
            if vs.stats is None or any(rs.stats is None for rs in dests):
                raise NoStatistics(f"the {table.source} source has no per-service statistics, so there is no "
                                   "--stats view of it: read it over netlink (as root or with CAP_NET_ADMIN)")
            out.append("%-33s" % _svc_name(vs) + _stats_cells(vs.stats, exact) + "\n")
            for rs in dests:
                assert rs.stats is not None
                out.append("  -> %-28s" % _dest_name(rs) + _stats_cells(rs.stats, exact) + "\n")
            continue
        out.append(_service_line(vs) + "\n")
        for rs in dests:
            fwd = rs.forward if rs.forward in FORWARD_METHODS else "(null)"
            out.append("  -> %-28s %-7s %-6d %-10u %-10u\n" % (
                _dest_name(rs), fwd, rs.weight, _u32(rs.active_conns), _u32(rs.inactive_conns)))
    return "".join(out)
