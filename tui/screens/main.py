"""The main screen: Services on top, the selected Service's EndpointSlices below (k9s' resource view), both live.

The screen owns the ClusterState and is the one consumer of the live feed (tui.live): every LiveBatch is applied
to the state in O(changed) and only the rows it touched are rebuilt; a batch from a cache of an earlier scope is
dropped. `:ns`, `:ctx` (the app's `scope`) start fresh caches on an empty state; ctrl+r relists in place (the
caches' reset batches leave nothing stale). The panes only render what they are handed.

Keys: enter or t on a Service opens its trace, tab switches panes, y/d open the detail view; the panes bring
`/` filter, `s`/`S` sort and `w` all columns. The trace feed (tui.trace_feed) follows the same scope: the screen
hands it the Services and slices each batch changed, and shows the diagnoses it posts back in DIAGNOSIS. It starts
once both first lists are on screen (or a trace is asked for): its pod watch and 10,000 first diagnoses must not
delay them; until a Service's diagnosis arrives its DIAGNOSIS cell shows the placeholder.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Footer

from tui import gcpolicy
from tui.kube.cache import Batch, Problem
from tui.kube.connection import ConnectionState, Phase
from tui.kube.models import ServiceView
from tui.kube.rows import why_empty
from tui.kube.state import Change, ClusterState
from tui.live import LiveBatch, LiveFeed, LiveState, PodWatch
from tui.screens.base import BaseScreen
from tui.screens.detail import DetailScreen
from tui.screens.probe import open_probe
from tui.widgets.endpoints_pane import EndpointsPane, endpoint_pane_rows
from tui.widgets.fast_table import FastTable
from tui.widgets.filter_line import FilterLine
from tui.widgets.pane import LivePane
from tui.trace_feed import DiagnosisReady, TraceFeed
from tui.widgets.services_pane import ServiceRows, ServicesPane

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

PANES = ("services", "endpointslices")
Key = tuple[str, str]
AGE_TICK = 5.0  # seconds between AGE refreshes of the rows on screen
POD_WATCH_DELAY = 0.3  # the cursor rests this long on an empty Service before its pods are watched
MAX_PROBLEM_NOTES = 3  # malformed objects reported per batch; the rest are counted


class MainScreen(BaseScreen):
    BINDING_GROUP_TITLE = "Main screen"
    # Focused as the screen starts, not by a deferred focus() from on_mount that could land after a ":" typed at
    # once and steal the keys meant for the command line.
    AUTO_FOCUS = "#services"
    BINDINGS = [
        Binding("tab", "switch_pane", "switch pane", show=False, key_display="tab"),
        Binding("shift+tab", "switch_pane", "switch pane", show=False),
        Binding("y", "detail('yaml')", "yaml"),
        Binding("d", "detail('describe')", "describe"),
        Binding("i", "ipvs", "IPVS of the Service", show=False),
        Binding("p", "probe", "probe the Service from this node", show=False),
        Binding("t", "trace", "trace", show=False),
    ]
    DEFAULT_CSS = """
    MainScreen #body { height: 1fr; }
    MainScreen #services { height: 3fr; }
    MainScreen #endpointslices { height: 2fr; }
    /* "y yaml  d describe": one space inside a key, one between keys, so the essential keys fit 80 columns */
    MainScreen FooterKey .footer-key--key { padding: 0 0 0 1; }
    MainScreen FooterKey .footer-key--description { padding: 0 0 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.state = ClusterState()
        self._rows = ServiceRows()
        self.selected: Key | None = None
        self.feed: LiveFeed | None = None
        self.trace_feed: TraceFeed | None = None
        self._synced: set[str] = set()
        self._states: dict[str, ConnectionState] = {}
        self._pods_synced = False
        self._pods_timer: Timer | None = None
        self._pods_pending: PodWatch | None = None
        self._wanted: Key | None = None  # select_service's Service, until the watch brings it
        self.shown_at: float | None = None  # time.time() of the first frame showing both first lists (benchmarks)

    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    @property
    def services(self) -> ServicesPane:
        return self.query_one("#services", ServicesPane)

    @property
    def endpoints(self) -> EndpointsPane:
        return self.query_one("#endpointslices", EndpointsPane)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield ServicesPane(id="services", empty_text="Listing Services...")
            yield EndpointsPane(id="endpointslices", empty_text="No Service selected.")
            yield FilterLine()

    def on_mount(self) -> None:
        app = self.svcscope
        self.feed = LiveFeed(self, header=self._header_state, clock=app.clock, prefetch=app.prefetch)
        self.watch(app, "scope", self._scope_changed, init=False)
        app.refresh_signal.subscribe(self, self._refresh)
        self.set_interval(AGE_TICK, self._tick_ages, name="service-ages")
        self.services.set_labels(self._labels_of)
        # The essential keys on one 80-column line (see the CSS); ? lists the rest (sort, columns, tab, palette).
        self.query_one(Footer).show_command_palette = False
        self._start(clear=True)

    def on_unmount(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        if self.trace_feed is not None:
            self.trace_feed.stop()

    # -- the shell's API ---------------------------------------------------------------------------------------

    def focus_pane(self, name: str) -> None:
        self.query_one(f"#{name}").focus()

    def select_service(self, namespace: str, name: str) -> None:
        """Put the cursor on this Service now, or as soon as the watch brings it (after a create)."""
        self._wanted = (namespace, name)
        self._select_wanted()

    def _select_wanted(self) -> None:
        if self._wanted is not None and self.services.move_cursor_to_key(self._wanted):
            self._wanted = None
            self.services.focus()

    def is_synced(self) -> bool:
        """Both caches delivered their first list (tests and benchmarks wait for this)."""
        return {"services", "endpointslices"} <= self._synced

    def is_settled(self) -> bool:
        """Synced, and every Service has its DIAGNOSIS (snapshot tests wait for this)."""
        diagnoses = self._rows.diagnoses
        return self.is_synced() and all(k in diagnoses for k in self.state.services)

    # -- scope -------------------------------------------------------------------------------------------------

    def _scope_changed(self) -> None:
        self._start(clear=True)

    def _refresh(self, _: None) -> None:
        self._start(clear=False)  # relist; the reset batches bring the panes to the server's state

    def _where(self) -> str:
        return self.svcscope.scope.label

    def _start(self, clear: bool) -> None:
        assert self.feed is not None
        scope = self.svcscope.scope
        if clear:
            self.state = ClusterState()
            self._rows = ServiceRows()
            self.selected = None
            self.services.load([])
            self.endpoints.load([])
        self._synced = set()
        self._states = {}
        self._pods_synced = False
        self.services.set_all_namespaces(scope.all_namespaces)
        self.services.set_context(f"({'all' if scope.all_namespaces else scope.namespace})")
        self._explain_services()
        self._refresh_endpoints()
        if clear and self.trace_feed is not None:
            self.trace_feed.stop()  # another scope: a fresh feed once its lists are shown
            self.trace_feed = None
            self._rows.diagnoses.clear()
        self.feed.start(self.svcscope.connection)
        # ctrl+r keeps the trace feed: the caches' reset batches bring it up to date

    def _start_trace_feed(self) -> TraceFeed:
        """The scope's trace feed, started if it is not yet, handed what the state already holds."""
        if self.trace_feed is not None:
            return self.trace_feed
        app = self.svcscope
        site = getattr(app, "proxy_site", None)
        feed = self.trace_feed = TraceFeed(self, app.connection, reader=getattr(app, "ipvs_reader", None),
                                           node=site.this_node if site is not None else None,
                                           dns_address_map=app.dns_address_map, since_input=app.since_input)
        self._rows.diagnoses.clear()
        feed.services(list(self.state.services.values()), [])
        feed.slices({k: self.state.slice_objects_of(k) for k in self.state.services})
        feed.start()
        return feed

    def _header_state(self, state: ConnectionState) -> None:
        self.svcscope.post_connection_state(state)

    # -- the feed ----------------------------------------------------------------------------------------------

    @on(LiveBatch)
    def _live_batch(self, message: LiveBatch) -> None:
        feed = self.feed
        if feed is None or not feed.is_current(message.cache):
            return  # from a scope (or a selected Service) left behind
        batch = message.batch
        if batch.resource == "pods":
            self.state.apply(batch)
            self._pods_synced = self._pods_synced or batch.reset
            self._refresh_endpoints()
            return
        change = self.state.apply(batch)
        self._feed_trace(change, batch)
        if batch.reset:
            self._synced.add(batch.resource)
            if self.is_synced() and self.trace_feed is None:
                self.call_after_refresh(self._lists_shown)
        if batch.problems:
            self._report(batch.problems)
        touched = self._update_services(change, batch)
        self._select_wanted()
        self._explain_services()
        if self.selected in touched or (batch.reset and batch.resource == "endpointslices"):
            self._refresh_endpoints()
        self._update_details(touched)
        if batch.reset and self.is_synced():
            # What a full list brought (models, rows) lives as long as the scope: keep the cyclic GC from rescanning
            # it. At 10,000 Services a full collection took up to 0.4 s of frozen screen (bench/pane_burst.py);
            # frozen objects are still freed by reference counting when the scope changes (they hold no cycles).
            gcpolicy.settle()

    def _feed_trace(self, change: Change, batch: Batch) -> None:
        feed, state = self.trace_feed, self.state
        if feed is None:
            return
        if batch.resource == "services":
            feed.services([state.services[k] for k in change.added | change.modified if k in state.services],
                          list(change.deleted))
        else:
            feed.slices({k: state.slice_objects_of(k) for k in change.services_touched})

    def _lists_shown(self) -> None:
        """After the frame showing both first lists (of whichever scope is shown now): start the trace feed."""
        if self.is_synced():
            self.shown_at = self.shown_at or time.time()
        if self.trace_feed is None and self.is_synced():
            self._start_trace_feed()

    @on(DiagnosisReady)
    def _diagnosed(self, message: DiagnosisReady) -> None:
        if message.feed is not self.trace_feed:
            return  # from a scope left behind
        state, now = self.state, self.svcscope.clock()
        self._rows.diagnoses.update(message.results)
        rows = [self._rows.row(state.services[k], state.endpoint_counts(k), now)
                for k in message.results if k in state.services]
        if rows:
            self.services.update(rows)

    def _update_services(self, change: Change, batch: Batch) -> set[Key]:
        """Rebuild the rows the change touched; returns the Services whose row (or endpoints) changed."""
        state, now = self.state, self.svcscope.clock()
        if batch.resource == "services":
            keys = change.added | change.modified
            deletes: Iterable[Key] = change.deleted
            touched = keys | change.deleted
        else:
            keys = {k for k in change.services_touched if k in state.services}
            deletes = ()
            touched = set(change.services_touched)
        self._rows.forget(deletes)
        rows = [self._rows.row(state.services[k], state.endpoint_counts(k), now) for k in keys]
        pane = self.services
        if not pane.total_count and batch.reset:
            pane.load(rows)
        elif rows or change.deleted:
            pane.update(rows, deletes)
        return touched

    @on(LiveState)
    def _live_state(self, message: LiveState) -> None:
        feed = self.feed
        if feed is None or not feed.is_current(message.cache):
            return
        resource = message.cache.resource.plural
        self._states[resource] = message.state
        if resource == "services":
            self._explain_services()
        self._refresh_endpoints()

    def _problem_state(self, resource: str) -> ConnectionState | None:
        state = self._states.get(resource)
        return state if state is not None and state.phase is Phase.DISCONNECTED else None

    def _explain_services(self) -> None:
        pane = self.services
        down = self._problem_state("services")
        pane.set_note("disconnected: last known rows" if down and "services" in self._synced else "")
        if down and "services" not in self._synced:
            pane.explain(_sentence(down.error or "The Services could not be listed."), "error")
        elif "services" in self._synced:
            pane.explain(f"No Services in {self._where()}.")
        else:
            pane.explain(f"Listing the Services of {self._where()}...")

    def _report(self, problems: Iterable[Problem]) -> None:
        problems = list(problems)
        for problem in problems[:MAX_PROBLEM_NOTES]:
            self.svcscope.notify(f"{_sentence(problem.message)} ctrl+r lists everything again.",
                                 title="Skipped a malformed object", severity="warning", timeout=8)
        if len(problems) > MAX_PROBLEM_NOTES:
            self.svcscope.notify(f"{len(problems) - MAX_PROBLEM_NOTES} more malformed objects were skipped.",
                                 title="Skipped malformed objects", severity="warning", timeout=8)

    # -- the selected Service ----------------------------------------------------------------------------------

    @on(FastTable.RowHighlighted, "#services")
    def _service_highlighted(self, event: FastTable.RowHighlighted) -> None:
        key = event.key if isinstance(event.key, tuple) else None
        if key != self.selected:
            self.selected = key  # type: ignore[assignment]
            self._refresh_endpoints()

    @on(FastTable.RowSelected, "#services")
    def _service_chosen(self, event: FastTable.RowSelected) -> None:
        if isinstance(event.key, tuple):
            self.open_trace(event.key)  # type: ignore[arg-type]

    def _refresh_endpoints(self) -> None:
        pane, key = self.endpoints, self.selected
        view = self.state.service(key) if key is not None else None
        if view is None:
            pane.set_context("")
            if pane.total_count:
                pane.load([])
            pane.explain("No Service selected." if "services" in self._synced else "")
            self._want_pods(None)
            return
        slices = self.state.slices_of(view.key)
        rows = endpoint_pane_rows(slices)
        ready, total = self.state.endpoint_counts(view.key)
        pane.set_context(f"{view.namespace}/{view.name} ({ready}/{total} ready)")
        pane.load(rows)
        self._want_pods(PodWatch(view.key, view.kubectl_selector())
                        if not rows and view.selector and view.type != "ExternalName" else None)
        if rows:
            return
        down = self._problem_state("endpointslices")
        if down and "endpointslices" not in self._synced:
            pane.explain(_sentence(down.error or "The EndpointSlices could not be listed."), "error")
        elif "endpointslices" not in self._synced:
            pane.explain(f"Listing the EndpointSlices of {self._where()}...")
        else:
            level = "" if view.type == "ExternalName" else "error"
            pane.explain(why_empty(view, slices, self._pods_of(view)) or "", level)

    def _pods_of(self, view: ServiceView) -> list | None:
        """The pods the selector matches, once the pod cache for this Service has listed them; None otherwise."""
        feed = self.feed
        if feed is None or feed.pod_watch is None or feed.pod_watch.service != view.key or not self._pods_synced:
            return None
        if self._problem_state("pods"):
            return None  # not allowed to list pods (or lost): say only what the slices show
        return self.state.pods_selected(view)

    def _want_pods(self, watch: PodWatch | None) -> None:
        """Watch the pods of an empty Service once the cursor rests on it (scrolling starts no caches)."""
        feed = self.feed
        if feed is None or (watch is not None and watch == self._pods_pending):
            return  # already on its way
        if self._pods_timer is not None:
            self._pods_timer.stop()
            self._pods_timer, self._pods_pending = None, None
        if watch == feed.pod_watch:
            return
        if watch is None:
            self._switch_pods(None)
        else:
            self._pods_pending = watch
            self._pods_timer = self.set_timer(POD_WATCH_DELAY, lambda: self._switch_pods(watch))

    def _switch_pods(self, watch: PodWatch | None) -> None:
        self._pods_timer, self._pods_pending = None, None
        assert self.feed is not None
        self.feed.watch_pods(watch)
        self._pods_synced = False
        self._states.pop("pods", None)
        self.state.apply(Batch("pods", {}, {}, {}, reset=True, snapshot={}))  # forget the last Service's pods
        if watch is not None:
            self._refresh_endpoints()

    # -- ages ------------------------------------------------------------------------------------------------

    def _tick_ages(self) -> None:
        pane, state, now = self.services, self.state, self.svcscope.clock()
        rows = [self._rows.row(state.services[k], state.endpoint_counts(k), now)
                for k in pane.visible_window() if k in state.services]
        pane.update_in_place(rows)

    # -- keys --------------------------------------------------------------------------------------------------

    def action_switch_pane(self) -> None:
        target = self.endpoints if self.services.has_focus else self.services
        target.focus()

    def action_trace(self) -> None:
        if self.selected is None or self.state.service(self.selected) is None:
            self.svcscope.notify("Select a Service first.", title="Trace")
            return
        self.open_trace(self.selected)

    def open_trace(self, key: Key) -> None:
        from tui.screens.trace import TraceScreen

        self.app.push_screen(TraceScreen(key, self._start_trace_feed()))

    def find_service(self, text: str) -> Key | str:
        """`NAME` (this namespace, or the one Service of that name in any) or `NS/NAME` -> its key, else the
        sentence saying why not."""
        ns, _, name = text.strip().rpartition("/")
        scope = self.svcscope.scope
        if ns:
            key = (ns, name)
        elif not scope.all_namespaces:
            key = (scope.namespace, name)
        else:
            found = [k for k in self.state.services if k[1] == name]
            if len(found) > 1:
                return f"{len(found)} Services are named {name}: say which, as NAMESPACE/{name}."
            key = found[0] if found else ("", name)
        if key in self.state.services:
            return key
        if "services" not in self._synced:
            return f"The Services of {self._where()} are still being listed: try again in a moment."
        where = f"namespace {key[0]}" if key[0] else self._where()
        return f"No Service named {name} in {where}."

    def action_detail(self, mode: str) -> None:
        view = self.state.service(self.selected) if self.selected is not None else None
        if view is None:
            self.svcscope.notify("Select a Service first.", title="Detail")
            return
        self.app.push_screen(DetailScreen(view.key, mode, view.raw, self.state.slices_of(view.key)))

    def action_ipvs(self) -> None:
        self.svcscope.open_ipvs(self.selected)

    def action_probe(self) -> None:
        open_probe(self.app, self.state.service(self.selected) if self.selected is not None else None)

    @on(LivePane.FilterRequested)
    def _filter_requested(self, event: LivePane.FilterRequested) -> None:
        self.query_one(FilterLine).open(event.pane)

    def _labels_of(self, key: object) -> dict[str, str] | None:
        view = self.state.service(key) if isinstance(key, tuple) else None  # type: ignore[arg-type]
        return view.labels_dict if view is not None else None

    def _update_details(self, touched: set[Key]) -> None:
        for screen in self.app.screen_stack:
            if isinstance(screen, DetailScreen) and screen.key in touched:
                view = self.state.service(screen.key)
                screen.show(view.raw if view is not None else None, self.state.slices_of(screen.key))


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
