"""What the IPVS screen reads its table from, and the words that say which source it is and what it lacks.

A reader has `async read() -> IPVSTable` (raising IPVSUnavailable with the sentence to show) and `close()`; it may
also have `subscribe(wake) -> unsubscribe` when it can tell that its table changed (the kube-proxy emulator can;
the kernel has no IPVS change notifications, so a real node is read on an interval). `IPVSSource` is the node's
reader; `EmulatorReader` is the demo's, over the sim's kube-proxy emulator (tui.sim.kubeproxy), duck-typed so this
module imports nothing of the sim.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Protocol

from tui.ipvs.model import IPVSTable, utc_now

SOURCE_TITLES = {"netlink": "netlink", "proc": "/proc/net/ip_vs", "emulated": "simulated kube-proxy (demo)"}


class TableReader(Protocol):
    async def read(self) -> IPVSTable: ...

    def close(self) -> None: ...


class EmulatorReader:
    """The demo's table: the kube-proxy emulator's current table, stamped with the time it was read."""

    def __init__(self, emulator: Any, clock: Callable = utc_now) -> None:
        self._emulator = emulator
        self._clock = clock

    async def read(self) -> IPVSTable:
        return replace(self._emulator.table, read_at=self._clock())

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """`wake()` runs (on the sim's thread) whenever the emulated table changes."""
        return self._emulator.subscribe(lambda table: wake())

    def close(self) -> None:
        pass


EMULATED_NOTE = "simulated: the table kube-proxy's ipvs proxier would program on node "


def source_line(table: IPVSTable) -> str:
    """`source: netlink`, `source: /proc/net/ip_vs - netlink was refused...`, `source: simulated kube-proxy (demo),
    node node1`: which source, and why it is the one shown."""
    title = SOURCE_TITLES.get(table.source, table.source)
    if table.source == "emulated" and table.note.startswith(EMULATED_NOTE):
        return f"source: {title}, node {table.note.removeprefix(EMULATED_NOTE)}"
    note = table.note.removeprefix("simulated: ") if table.source == "emulated" else table.note
    return f"source: {title}" + (f" - {note}" if note else "")


def lacks_line(table: IPVSTable) -> str:
    """What the source cannot show, or "" when it shows everything."""
    return ("lacks: " + "; ".join(table.lacks)) if table.lacks else ""


__all__ = ["EmulatorReader", "SOURCE_TITLES", "TableReader", "lacks_line", "source_line"]
