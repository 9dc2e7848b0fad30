"""The IPVS screen (`:ipvs`, `i` on a Service): this node's virtual servers, their real servers beneath, the Service
and pod each serves, rates between reads and a sparkline of the selected entry.

The kernel sends no IPVS change notifications, so the table is read on an interval (`+` slower, `-` faster); the
demo's kube-proxy emulator also wakes the reader when its table changes. One thread worker owns the reader (with
its own event loop: pyroute2's AsyncIPVS keeps its netlink socket on it), the RateTracker, the last rows and the
Service/pod indexes; it posts `IPVSRead` with only the rows that changed, or `IPVSFailed` with the sentence to show.
The UI thread hands it the Services and EndpointSlices of the main screen's live state when they change, so a read
of 10,000 virtual servers, and the mapping of each, never runs on the UI thread.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui.ipvs.mapping import PodIndex, ServiceIndex, ServiceRef, pod_index, service_index
from tui.ipvs.model import IPVSTable
from tui.ipvs.rates import RateTracker
from tui.ipvs.readers import TableReader, lacks_line, source_line
from tui.ipvs.source import IPVSUnavailable
from tui.ipvs.tree import RS_PREFIX, GroupCache, rates_key_of, service_refs, tree_rows, vs_key_of
from tui.screens.base import BaseScreen
from tui.widgets.fast_table import FastTable, Row
from tui.widgets.filter_line import FilterLine
from tui.widgets.ipvs_pane import IPVSPane, RateSparkline
from tui.widgets.pane import LivePane

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

INTERVALS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds between reads
DEFAULT_INTERVAL = 2.0
HISTORY = 60  # reads kept per entry for the sparkline
FREEZE_ROWS = 6_000  # a read that built this many rows anew freezes them out of the cyclic GC's way
STATE_CHECK = 0.5  # seconds between looks at the main screen's state (for the Service and pod names)

ReaderFactory = Callable[[], TableReader]


@dataclass(frozen=True)
class ClusterInput:
    """What the worker maps entries to: the main screen's Services and EndpointSlices (immutable snapshots)."""

    services: tuple[Any, ...]
    slices: tuple[Any, ...]
    scope: str  # which namespace(s) these are from, for the pane's note


class IPVSRead(Message):
    """A read (or a remapping) in the worker's thread: the rows that changed, and the table itself."""

    def __init__(self, table: IPVSTable, upserts: list[Row], deletes: list[Hashable], reset: bool,
                 services: dict[tuple, ServiceRef], rebuilt: int = 0) -> None:
        super().__init__()
        self.rebuilt = rebuilt  # rows built anew (not reused from the last read), changed or not
        self.table = table
        self.upserts = upserts
        self.deletes = deletes
        self.reset = reset
        self.services = services


class IPVSFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


def interval_text(seconds: float) -> str:
    return f"{seconds:g}s"


class IPVSScreen(BaseScreen):
    BINDING_GROUP_TITLE = "IPVS screen"
    BINDINGS = [
        Binding("escape", "app.back", "back", key_display="esc"),
        Binding("plus", "interval(1)", "slower", key_display="+"),
        Binding("minus", "interval(-1)", "faster", key_display="-"),
        Binding("ctrl+r", "read_now", "read now", show=False),
    ]
    DEFAULT_CSS = """
    IPVSScreen #ipvs-source { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    IPVSScreen #ipvs { height: 1fr; }
    IPVSScreen #ipvs-spark-row { height: 1; }
    IPVSScreen #ipvs-spark-label { width: 1fr; height: 1; padding: 0 1; }
    IPVSScreen #ipvs-spark { width: 30%; height: 1; margin-right: 1; }
    """

    def __init__(self, service: tuple[str, str] | None = None, reader: ReaderFactory | None = None) -> None:
        super().__init__()
        self.initial_service = service
        self._reader_factory = reader
        self.interval = DEFAULT_INTERVAL
        self.table: IPVSTable | None = None
        self.error = ""
        self.reads = 0  # reads shown so far (tests wait on it)
        self.services: dict[tuple, ServiceRef] = {}
        self._tracker = RateTracker(HISTORY)
        self._tracker_lock = threading.Lock()
        self._wake = threading.Event()
        self._read_now = False
        self._remap = False
        self._cluster: ClusterInput | None = None
        self._cluster_mark: object = None
        self._groups: GroupCache = {}  # the worker's rows of each virtual server, reused while unchanged

    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    @property
    def pane(self) -> IPVSPane:
        return self.query_one("#ipvs", IPVSPane)

    def compose_body(self) -> ComposeResult:
        yield Static("source: reading...", id="ipvs-source")
        yield IPVSPane(id="ipvs", empty_text="Reading the IPVS table...")
        with Horizontal(id="ipvs-spark-row"):
            yield Static("", id="ipvs-spark-label")
            yield RateSparkline([], id="ipvs-spark")
        yield FilterLine()

    def on_mount(self) -> None:
        pane = self.pane
        if self.initial_service is not None:
            ns, name = self.initial_service
            pane.no_match = (f"{ns}/{name}:", f"{ns}/{name} has no virtual server on this node: kube-proxy programs "
                             "none for headless and ExternalName Services (nor for a Service it has not seen yet). "
                             "esc clears the filter.")
            pane.apply_filter(f"{ns}/{name}:")
        pane.focus()
        self._look_at_cluster()
        self.set_interval(STATE_CHECK, self._look_at_cluster, name="ipvs-cluster")
        self._show_interval()
        self.poll()

    def on_unmount(self) -> None:
        for worker in self.workers:
            worker.cancel()
        self._wake.set()

    # -- the main screen's live state, handed to the worker ------------------------------------------------------

    def _look_at_cluster(self) -> None:
        from tui.screens.main import MainScreen

        main = next((s for s in self.app.screen_stack if isinstance(s, MainScreen)), None)
        if main is None:
            return
        state = main.state
        mark = (id(state), tuple(sorted(state.resource_versions.items())), len(state.services),
                len(state.slice_objects))
        if mark == self._cluster_mark:
            return
        self._cluster_mark = mark
        self._cluster = ClusterInput(tuple(state.services.values()), tuple(state.slice_objects.values()),
                                     self.svcscope.scope.label if hasattr(self.app, "scope") else "")
        self._remap = True
        self._wake.set()

    # -- keys ------------------------------------------------------------------------------------------------------

    def action_interval(self, step: int) -> None:
        i = min(range(len(INTERVALS)), key=lambda n: abs(INTERVALS[n] - self.interval))
        self.interval = INTERVALS[max(0, min(len(INTERVALS) - 1, i + step))]
        self._show_interval()
        self._wake.set()  # the worker waits for the new interval from its last read

    def action_read_now(self) -> None:
        self._read_now = True
        self._wake.set()

    def _show_interval(self) -> None:
        self.pane.set_note(f"every {interval_text(self.interval)} (+/-)")

    @on(LivePane.FilterRequested)
    def _filter_requested(self, event: LivePane.FilterRequested) -> None:
        self.query_one(FilterLine).open(event.pane)

    @on(FastTable.RowSelected, "#ipvs")
    def _chosen(self, event: FastTable.RowSelected) -> None:
        """enter: back to the main screen, on the Service this virtual server serves."""
        ref = self.services.get(vs_key_of(event.key))  # type: ignore[arg-type]
        if ref is None:
            self.svcscope.notify("This virtual server serves no Service known here (it shows -).", title="IPVS")
            return
        self.svcscope.show_service(ref.key)

    @on(FastTable.RowHighlighted, "#ipvs")
    def _highlighted(self, event: FastTable.RowHighlighted) -> None:
        self._show_spark()

    # -- results ---------------------------------------------------------------------------------------------------

    @on(IPVSRead)
    def _read(self, event: IPVSRead) -> None:
        pane = self.pane
        first = self.table is None or bool(self.error)
        self.table, self.error, self.services = event.table, "", event.services
        if event.reset or first:
            pane.load(event.upserts)
        else:
            pane.update(event.upserts, event.deletes)
        if event.rebuilt >= FREEZE_ROWS:
            # Rows built anew stay until their entry changes: keep the cyclic GC from walking them again and again
            # (60,000 rows made full collections of up to a second, bench/ipvs_pane.py), as the main screen does
            # after its first list. Young cyclic garbage is collected first, so little of it is kept for good;
            # frozen objects are still freed by reference counting (rows and tables hold no cycles).
            gc.collect(1)
            gc.freeze()
        table = event.table
        lines = [source_line(table) + self._names_from()]
        if lacks := lacks_line(table):
            lines.append(lacks)
        self.query_one("#ipvs-source", Static).update(Text("\n".join(lines)))
        pane.explain("No virtual servers: IPVS is empty on this node (is kube-proxy running in ipvs mode?)."
                     if table.source != "emulated" else
                     "No virtual servers: the simulated kube-proxy programs none (no Service, or not ipvs mode).")
        self.reads += 1
        self._show_spark()

    @on(IPVSFailed)
    def _failed(self, event: IPVSFailed) -> None:
        self.error = event.message
        self.table = None
        self.services = {}
        pane = self.pane
        pane.load([])
        pane.explain(event.message, "error")
        self.query_one("#ipvs-source", Static).update(Text("source: unavailable", style="bold red"))
        self.reads += 1
        self._show_spark()

    def _names_from(self) -> str:
        """Where the Service and pod names come from: the main screen's scope (others show -)."""
        cluster = self._cluster
        if cluster is None:
            return ""
        return f"; names from {cluster.scope}"

    def _show_spark(self) -> None:
        label = self.query_one("#ipvs-spark-label", Static)
        spark = self.query_one("#ipvs-spark", RateSparkline)
        key = self.pane.cursor_key
        if key is None or self.table is None:
            label.update("")
            spark.data = []
            return
        rkey = rates_key_of(key)  # type: ignore[arg-type]
        # Never wait for the worker: while it updates the tracker (up to a second at 60,000 entries) the old
        # sparkline stays, and the IPVSRead that follows the update draws the new one.
        if not self._tracker_lock.acquire(blocking=False):
            return
        try:
            history = self._tracker.history(rkey)
            rates = self._tracker.rates(rkey)
        finally:
            self._tracker_lock.release()
        row = self.pane.row(key)
        what = row.cells[0].removeprefix(RS_PREFIX) if row is not None else ""
        if row is not None and row.cells[-1] == "?":
            text = f"{what}: this source has no per-entry statistics, so no rates"
        elif rates is None:
            text = f"{what}: conn/s after the next read"
        else:
            text = (f"{what}: conn/s {rates.cps:.1f}  pkt/s {rates.inpps + rates.outpps:.1f}  "
                    f"bytes/s {rates.inbps + rates.outbps:.0f}  (last {len(history)} reads)")
        label.update(Text(text))
        spark.data = history

    # -- the worker ------------------------------------------------------------------------------------------------

    def _make_reader(self) -> TableReader:
        if self._reader_factory is not None:
            return self._reader_factory()
        factory = getattr(self.app, "ipvs_reader", None)
        if factory is not None:
            return factory()
        if getattr(getattr(self.app, "options", None), "demo", False):
            raise IPVSUnavailable("error", "The demo's simulated kube-proxy is not running, so there is no IPVS "
                                           "table to show: restart svcscope --demo.")
        from tui.ipvs.source import IPVSSource

        return IPVSSource("auto")

    @work(thread=True, exclusive=True, exit_on_error=False, group="ipvs")
    def poll(self) -> None:
        worker = get_current_worker()
        loop = asyncio.new_event_loop()
        reader: TableReader | None = None
        unsubscribe: Callable[[], None] | None = None
        try:
            try:
                reader = self._make_reader()
            except IPVSUnavailable as exc:
                self.post_message(IPVSFailed(str(exc)))
                return
            except Exception as exc:  # a bug must be a line in the pane, not a crash
                self.post_message(IPVSFailed(f"The IPVS reader could not start ({type(exc).__name__}: {exc}); "
                                             "please report it."))
                return
            subscribe = getattr(reader, "subscribe", None)
            if subscribe is not None:
                unsubscribe = subscribe(self.action_read_now)
            self._run(worker, loop, reader)
        finally:
            if unsubscribe is not None:
                unsubscribe()
            if reader is not None:
                reader.close()
            loop.close()

    def _run(self, worker: Any, loop: asyncio.AbstractEventLoop, reader: TableReader) -> None:
        table: IPVSTable | None = None
        rows: dict[Hashable, Row] = {}
        cluster: ClusterInput | None = None
        services, pods = ServiceIndex(), PodIndex()
        last_read = float("-inf")
        while not worker.is_cancelled:
            read_due = self._read_now or time.monotonic() - last_read >= self.interval
            remap = self._remap
            self._read_now = self._remap = False
            if self._cluster is not cluster:
                cluster = self._cluster
                if cluster is not None:
                    services, pods = service_index(cluster.services), pod_index(cluster.slices)
                remap = True
            if read_due:
                last_read = time.monotonic()
                try:
                    table = loop.run_until_complete(reader.read())
                except IPVSUnavailable as exc:
                    table, rows = None, {}
                    self.post_message(IPVSFailed(str(exc)))
                except Exception as exc:  # a bug must be a line in the pane, not a crash
                    table, rows = None, {}
                    self.post_message(IPVSFailed(f"Reading the IPVS table failed unexpectedly "
                                                 f"({type(exc).__name__}: {exc}); please report it."))
                else:
                    with self._tracker_lock:
                        self._tracker.update(table)
            if table is not None and (read_due or remap) and not worker.is_cancelled:
                rows = self._post_rows(table, rows, services, pods)
            wait = max(0.0, last_read + self.interval - time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()

    def _post_rows(self, table: IPVSTable, old: dict[Hashable, Row], services: ServiceIndex,
                   pods: PodIndex) -> dict[Hashable, Row]:
        """Build every row and post only those that changed (all of them the first time)."""
        # no lock: only this thread changes the tracker (its rates dict is replaced whole on each update)
        new = {r.key: r for r in tree_rows(table, services, pods, self._tracker, Row, self._groups)}
        if not old:
            self.post_message(IPVSRead(table, list(new.values()), [], True, service_refs(table, services), len(new)))
            return new
        fresh = [r for k, r in new.items() if old.get(k) is not r]
        upserts = [r for r in fresh if old.get(r.key) != r]
        deletes = [k for k in old if k not in new]
        self.post_message(IPVSRead(table, upserts, deletes, False, service_refs(table, services), len(fresh)))
        return new
