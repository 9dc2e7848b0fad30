"""The IPVS screen's rows: each virtual server, its real servers beneath it, with the Kubernetes object each serves
and the rates between two reads. Pure (no Textual): the screen's worker calls `tree_rows` in its thread.

Cells, in TREE_COLUMNS order, mean one thing on a virtual server's row and its counterpart on a real server's:
SERVER (`TCP 10.96.0.1:443` / `  -> 10.244.1.2:8080`), SCHED/FWD, PERS/WT (persistence / weight), SERVICE/POD,
ACT(ive) and INACT(ive) connections (summed over the real servers on a virtual server's row), then CONN/S, PKT/S
and BYTES/S (in + out). The POD cell is the pod's name: its namespace is its Service's, named on the row above.
A rate the source cannot tell shows `?` (no statistics: /proc); one not known yet shows `-` (the first read).

Row keys sort into the tree: `((order, vs.key), ())` for a virtual server and `((order, vs.key), (rs order,
rs.key))` for each real server, where the orders put addresses in numeric order (10.96.0.9 before 10.96.0.10).
"""

from __future__ import annotations

import socket
from typing import Callable, Hashable, Iterator, TypeVar

from tui.ipvs.mapping import NO_OBJECT, PodIndex, ServiceIndex, ServiceRef
from tui.ipvs.model import AF_INET6, IPVSTable, RealServer, VirtualServer
from tui.ipvs.rates import NO_TRAFFIC, Rates, RateTracker
from tui.ipvs.rows import persistence_text, scheduler_text

TREE_COLUMNS: tuple[str, ...] = ("SERVER", "SCHED/FWD", "PERS/WT", "SERVICE/POD", "ACT", "INACT", "CONN/S", "PKT/S",
                                 "BYTES/S")
RS_PREFIX = "  -> "

R = TypeVar("R")
RowKey = tuple[tuple, tuple]
MakeRow = Callable[[RowKey, tuple[str, ...], str], R]


def human_rate(value: float) -> str:
    """0, 0.5, 12, 1.2K, 34M: short enough for a 7-column cell."""
    if not value:
        return "0"
    if value < 10:
        return f"{value:.1f}".rstrip("0").rstrip(".") if value else "0"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            shown = value / scale
            return f"{shown:.1f}{unit}" if shown < 10 else f"{shown:.0f}{unit}"
    return f"{value:.0f}"


_UNKNOWN = ("?", "?", "?")
_NOT_YET = ("-", "-", "-")
_ZERO = ("0", "0", "0")


def rate_cells(rates: Rates | None, has_stats: bool) -> tuple[str, str, str]:
    if not has_stats:
        return _UNKNOWN
    if rates is None:
        return _NOT_YET
    if rates is NO_TRAFFIC:
        return _ZERO
    return (human_rate(rates.cps), human_rate(rates.inpps + rates.outpps), human_rate(rates.inbps + rates.outbps))


def _packed(af: int, address: str) -> bytes:
    try:
        return socket.inet_pton(af, address)
    except (OSError, ValueError):
        return address.encode()


def vs_order(vs: VirtualServer) -> tuple:
    return (vs.is_fwmark, vs.fwmark, vs.af == AF_INET6, _packed(vs.af, vs.address), vs.port, vs.protocol)


def rs_order(rs: RealServer) -> tuple:
    return (rs.af == AF_INET6, _packed(rs.af, rs.address), rs.port)


def vs_key_of(row_key: RowKey) -> tuple:
    """The kernel key (VirtualServer.key) of the virtual server a row belongs to."""
    return row_key[0][1]


def rates_key_of(row_key: RowKey) -> Hashable:
    """The RateTracker key of a row's entry."""
    vs_key = row_key[0][1]
    return vs_key if not row_key[1] else (vs_key, row_key[1][1])


GroupCache = dict[tuple, tuple[VirtualServer, tuple, list]]


def tree_rows(table: IPVSTable, services: ServiceIndex, pods: PodIndex, tracker: RateTracker | None,
              make_row: MakeRow[R], cache: GroupCache | None = None) -> Iterator[R]:
    """Every virtual server and its real servers, as `make_row(key, cells, level)`; levels: "error" for a virtual
    server with no real server, "warning" for a real server at weight 0 (draining, or stuck: kubernetes#92019).

    With a `cache` kept between reads, a virtual server that is the same object as last time (the netlink reader
    and the emulator reuse unchanged entries), with the same rates, Service and pods, yields its previous rows: a
    quiet node of 10,000 virtual servers then costs a few lookups per group instead of 60,000 new rows."""
    for vs in table.virtual_servers:
        if cache is None:
            yield from _group_rows(vs, services, pods, tracker, make_row)
            continue
        key = vs.key
        shown = (services.lookup(vs), *(pods.lookup(rs) for rs in vs.real_servers))
        if tracker is not None:
            shown += (tracker.rates(key), *(tracker.rates((key, rs.key)) for rs in vs.real_servers))
        hit = cache.get(key)
        if hit is not None and hit[0] is vs and hit[1] == shown:
            yield from hit[2]
            continue
        group = list(_group_rows(vs, services, pods, tracker, make_row))
        cache[key] = (vs, shown, group)
        yield from group
    if cache is not None and len(cache) > len(table.virtual_servers):
        present = {vs.key for vs in table.virtual_servers}
        for gone in [k for k in cache if k not in present]:
            del cache[gone]


def _group_rows(vs: VirtualServer, services: ServiceIndex, pods: PodIndex, tracker: RateTracker | None,
                make_row: MakeRow[R]) -> Iterator[R]:
    """One virtual server's row and its real servers' rows."""
    vkey = (vs_order(vs), vs.key)
    rate = tracker.rates(vs.key) if tracker is not None else None
    active = sum(rs.active_conns for rs in vs.real_servers)
    inactive = sum(rs.inactive_conns for rs in vs.real_servers)
    cells = (vs.endpoint, scheduler_text(vs), persistence_text(vs), services.text(vs), str(active),
             str(inactive), *rate_cells(rate, vs.stats is not None))
    yield make_row((vkey, ()), cells, "" if vs.real_servers else "error")
    for rs in vs.real_servers:
        rate = tracker.rates((vs.key, rs.key)) if tracker is not None else None
        pod = pods.lookup(rs)  # its namespace is its Service's, named on the row above
        cells = (RS_PREFIX + rs.endpoint, rs.forward, str(rs.weight), pod.name if pod else NO_OBJECT,
                 str(rs.active_conns), str(rs.inactive_conns), *rate_cells(rate, rs.stats is not None))
        yield make_row((vkey, (rs_order(rs), rs.key)), cells, "" if rs.weight else "warning")


def service_refs(table: IPVSTable, services: ServiceIndex) -> dict[tuple, ServiceRef]:
    """VirtualServer.key -> the Service port it serves, for the mapped virtual servers."""
    out = {}
    for vs in table.virtual_servers:
        ref = services.lookup(vs)
        if ref is not None:
            out[vs.key] = ref
    return out


__all__ = ["NO_OBJECT", "RS_PREFIX", "TREE_COLUMNS", "human_rate", "rate_cells", "rates_key_of", "service_refs",
           "tree_rows", "vs_key_of"]
