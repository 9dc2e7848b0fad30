"""Rates from successive reads of the same table, and a short history of them for sparklines. Pure: time comes from
each table's `read_at`, nothing here reads a clock or the kernel.

The kernel also estimates rates itself (Stats.cps etc., a 2-second moving average); these are the plain differences
between two reads, so they follow the refresh the admin chose and exist for every counter the source has.
"""

from __future__ import annotations

from collections import deque
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
        self._last: dict[Hashable, tuple[datetime, Stats]] = {}
        self._rates: dict[Hashable, Rates] = {}
        self._history: dict[Hashable, deque[Rates]] = {}

    def update(self, table: IPVSTable) -> dict[Hashable, Rates]:
        # Written for 60,000 entries a read (10,000 virtual servers with 5 real servers each): the time between
        # two reads is worked out once per earlier read time, not per entry, and deques are made only when new.
        now = table.read_at
        last, history, size = self._last, self._history, self._size
        seen: dict[Hashable, tuple[datetime, Stats]] = {}
        rates: dict[Hashable, Rates] = {}
        spans: dict[datetime, float] = {}
        for key, stats in stats_entries(table):
            seen[key] = (now, stats)
            prev = last.get(key)
            if prev is None:
                continue
            then, old = prev
            seconds = spans.get(then)
            if seconds is None:
                seconds = spans[then] = (now - then).total_seconds()
            r = rates_between(old, stats, seconds)
            if r is None:
                history.pop(key, None)  # counters restarted: the old curve belongs to something else
                continue
            rates[key] = r
            kept = history.get(key)
            if kept is None:
                kept = history[key] = deque(maxlen=size)
            kept.append(r)
        if len(history) > len(rates):
            for gone in [k for k in history if k not in seen]:
                del history[gone]
        self._last, self._rates = seen, rates
        return rates

    def rates(self, key: Hashable) -> Rates | None:
        return self._rates.get(key)

    def history(self, key: Hashable, field: str = "cps") -> list[float]:
        """One rate (cps, inpps, outpps, inbps, outbps) over the kept reads, oldest first, for a sparkline."""
        return [getattr(r, field) for r in self._history.get(key, ())]
