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


_FIELDS = (("cps", "conns"), ("inpps", "inpkts"), ("outpps", "outpkts"), ("inbps", "inbytes"), ("outbps", "outbytes"))


def rates_between(old: Stats, new: Stats, seconds: float) -> Rates | None:
    """None when no rate can be told: no time passed, or a counter went backwards (zeroed, or the entry was
    deleted and created again between the reads)."""
    if seconds <= 0:
        return None
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
        now = table.read_at
        seen: dict[Hashable, tuple[datetime, Stats]] = {}
        rates: dict[Hashable, Rates] = {}
        for key, stats in stats_entries(table):
            seen[key] = (now, stats)
            prev = self._last.get(key)
            if prev is None:
                continue
            r = rates_between(prev[1], stats, (now - prev[0]).total_seconds())
            if r is None:
                self._history.pop(key, None)  # counters restarted: the old curve belongs to something else
                continue
            rates[key] = r
            self._history.setdefault(key, deque(maxlen=self._size)).append(r)
        for gone in set(self._history) - set(seen):
            del self._history[gone]
        self._last, self._rates = seen, rates
        return rates

    def rates(self, key: Hashable) -> Rates | None:
        return self._rates.get(key)

    def history(self, key: Hashable, field: str = "cps") -> list[float]:
        """One rate (cps, inpps, outpps, inbps, outbps) over the kept reads, oldest first, for a sparkline."""
        return [getattr(r, field) for r in self._history.get(key, ())]
