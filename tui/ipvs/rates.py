"""Rates from successive reads of the same table, and a short history of them for sparklines. Pure: time comes from
each table's `read_at`, nothing here reads a clock or the kernel.

The kernel also estimates rates itself (Stats.cps etc., a 2-second moving average); these are the plain differences
between two reads, so they follow the refresh the admin chose and exist for every counter the source has.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from datetime import datetime
from typing import Hashable, Iterable

from tui.ipvs.model import IPVSTable, Stats

TOTAL_KEY = ("total",)


@dataclass(frozen=True, slots=True)
class Rates:
    """Per second, between the previous read and this one."""

    cps: float = 0.0
    inpps: float = 0.0
    outpps: float = 0.0
    inbps: float = 0.0
    outbps: float = 0.0


NO_TRAFFIC = Rates()
_RATE_NAMES = ("cps", "inpps", "outpps", "inbps", "outbps")  # Rates' fields, in order
_WIDTH = len(_RATE_NAMES)

_FIELDS = (("cps", "conns"), ("inpps", "inpkts"), ("outpps", "outpkts"), ("inbps", "inbytes"), ("outbps", "outbytes"))


def rates_between(old: Stats, new: Stats, seconds: float) -> Rates | None:
    """None when no rate can be told: no time passed, or a counter went backwards (zeroed, or the entry was
    deleted and created again between the reads)."""
    if seconds <= 0:
        return None
    if old is new or old == new:
        return NO_TRAFFIC  # most entries of a quiet node: one shared object (a table can hold 60,000)
    values = {}
    for rate_name, counter in _FIELDS:
        delta = getattr(new, counter) - getattr(old, counter)
        if delta < 0:
            return None
        values[rate_name] = delta / seconds
    return Rates(**values)


def stats_entries(table: IPVSTable) -> Iterable[tuple[Hashable, Stats]]:
    """Every counter set of a table with a stable key: the totals, each virtual server, each real server."""
    if table.totals is not None:
        yield TOTAL_KEY, table.totals
    for vs in table.virtual_servers:
        if vs.stats is not None:
            yield vs.key, vs.stats
        for rs in vs.real_servers:
            if rs.stats is not None:
                yield (vs.key, rs.key), rs.stats


class RateTracker:
    """Feed it every table read; it keeps the latest rates and the last `history` of them per entry."""

    def __init__(self, history: int = 60) -> None:
        self._size = history
        self._last: dict[Hashable, Stats] = {}  # every entry of the last table, all read at `_last_at`
        self._last_at: datetime | None = None
        self._rates: dict[Hashable, Rates] = {}
        # Per entry, the last `history` rates as flat doubles (cps, inpps, outpps, inbps, outbps, cps, ...): an
        # array is invisible to the cyclic GC, where 60,000 deques of 60 Rates made each full collection walk
        # 3.6 million references (bench/ipvs_pane.py: pauses of up to a second).
        self._history: dict[Hashable, array] = {}

    def update(self, table: IPVSTable) -> dict[Hashable, Rates]:
        # Written for 60,000 entries a read (10,000 virtual servers with 5 real servers each): one time per table
        # (no per-entry tuple for the cyclic GC to scan), deques made only for new entries.
        now = table.read_at
        last, history, limit = self._last, self._history, self._size * _WIDTH
        seconds = (now - self._last_at).total_seconds() if self._last_at is not None else 0.0
        seen: dict[Hashable, Stats] = {}
        rates: dict[Hashable, Rates] = {}
        for key, stats in stats_entries(table):
            seen[key] = stats
            old = last.get(key)
            if old is None:
                continue
            r = rates_between(old, stats, seconds)
            if r is None:
                history.pop(key, None)  # counters restarted: the old curve belongs to something else
                continue
            rates[key] = r
            kept = history.get(key)
            if kept is None:
                kept = history[key] = array("d")
            kept.extend((r.cps, r.inpps, r.outpps, r.inbps, r.outbps))
            if len(kept) > limit:
                del kept[:_WIDTH]
        if len(history) > len(rates):
            for gone in [k for k in history if k not in seen]:
                del history[gone]
        self._last, self._last_at, self._rates = seen, now, rates
        return rates

    def rates(self, key: Hashable) -> Rates | None:
        return self._rates.get(key)

    def history(self, key: Hashable, field: str = "cps") -> list[float]:
        """One rate (cps, inpps, outpps, inbps, outbps) over the kept reads, oldest first, for a sparkline."""
        kept = self._history.get(key)
        return [] if kept is None else kept[_RATE_NAMES.index(field)::_WIDTH].tolist()
