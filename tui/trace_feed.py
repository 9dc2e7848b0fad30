"""The trace feed: one TraceEngine (tui.trace.engine) kept live in a worker thread, for the Services pane's
DIAGNOSIS column and the trace screen.

Inputs arrive on a queue from any thread and are applied by the worker alone (the engine has one owner): the main
screen hands over the Services and EndpointSlices it already watches; the feed watches the scope's pods itself
(a ListWatchCache whose batches go straight to the queue, never through the UI thread); this node's IPVS table
comes from the app's IPVS reader (tui.ipvs.readers: the demo's emulator, read again each time it says its table
changed) or from this node's kernel (tui.ipvs.source), read every few seconds;
the node's context (its IPs, kube-proxy's mode and scheduler) is read from the API now and then; DNS is asked for
the Service a trace screen shows, every few seconds. After each burst of inputs the worker recomputes what they
dirtied: the watched Services first (posting `TraceReady` with the whole trace to their screens), then everything
else in chunks (posting `DiagnosisReady`), looking at the queue between chunks so a trace stays responsive while
10,000 Services are diagnosed.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from textual.message import Message
from textual.message_pump import MessagePump

from tui import gcpolicy
from tui.kube.cache import LEAN_PODS, Batch, ListWatchCache
from tui.kube.client import get
from tui.kube.models import PodView, ServiceView, share_strings

if TYPE_CHECKING:  # the engine (and the DNS code it imports, 0.15 s) loads with the first feed, not with the app
    from tui.trace.join import NodeContext
    from tui.trace.model import Diagnosis, Trace

Key = tuple[str, str]
Obj = Mapping[str, Any]

CHUNK = 500  # Services diagnosed between two looks at the queue
BUSY_CHUNK = 50  # ... while the user is typing or scrolling: the UI thread waits for the GIL at most that long
INPUT_QUIET = 0.15  # seconds after the user's last input before background work goes on at full speed
MAX_YIELD = 0.5  # but it goes on by one step at least this often, however long a key is held down
IPVS_PERIOD = 2.0  # seconds between reads of a real node's table
NODE_PERIOD = 30.0  # seconds between reads of the Nodes and kube-proxy's ConfigMap
DNS_PERIOD = 5.0  # seconds between DNS questions for a traced Service (CoreDNS' default TTL)
NOT_A_NODE = "this machine is not a Node of the cluster (no Node is named like this host)"


class DiagnosisReady(Message):
    """Diagnoses that changed (a chunk of them)."""

    def __init__(self, feed: "TraceFeed", results: dict[Key, Diagnosis]) -> None:
        super().__init__()
        self.feed = feed
        self.results = results


class TraceReady(Message):
    """The whole trace of a watched Service, recomputed; None when the Service is gone."""

    def __init__(self, key: Key, trace: Trace | None, node: NodeContext) -> None:
        super().__init__()
        self.key = key
        self.trace = trace
        self.node = node


class TraceFeed:
    """Runs the engine for one scope. Create and call from the UI thread; `stop()` ends everything it started."""

    def __init__(self, target: MessagePump, connection: Any, *, reader: Callable[[], Any] | None = None,
                 dns_address_map: Mapping[str, tuple[str, int]] | None = None, node: str | None = None,
                 ipvs_period: float = IPVS_PERIOD, dns_period: float = DNS_PERIOD,
                 since_input: Callable[[], float] | None = None) -> None:
        self.target = target
        # seconds since the user's last input (the app's since_input): the feed's work steps aside meanwhile
        self.since_input = since_input or (lambda: float("inf"))
        self.connection = connection
        self.reader = reader  # makes the IPVS reader (the app's ipvs_reader); None: this node's kernel
        self.dns_address_map = dict(dns_address_map or {})
        self.node_name = node
        self.ipvs_period = ipvs_period
        self.dns_period = dns_period
        from tui.trace.engine import TraceEngine

        self.engine = TraceEngine()
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._stop = threading.Event()
        self._watchers: dict[Key, list[MessagePump]] = {}
        self._dns_due: dict[Key, float] = {}
        self._pods: ListWatchCache | None = None
        self._wake = threading.Event()  # the reader says its table changed
        self._dns_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace-dns")
        self._fresh: set[Key] = set()  # watched Services whose screen has not had a trace yet
        self._node: NodeContext | None = None  # as last read from the API (no table)
        self._table: tuple[Any, str] | None = None  # (table, why none) as last read
        self._pods_listed = False  # the pods' first list arrived (or cannot): no "no pod matches" before it
        self._settled = False  # every Service was diagnosed once
        self.started = False

    # -- the UI thread's side --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine, the IPVS reads and the scope's pod watch. The main screen starts a feed only once
        its first lists are shown, so that 50,000 pods and 10,000 diagnoses do not compete with them.

        Daemon threads of its own, not Textual thread workers: those share asyncio's default executor (6
        threads on 2 cores), and three more threads that never end left none for the short workers (events)."""
        if self.started:
            return
        self.started = True
        threading.Thread(target=self._run, name="trace-engine", daemon=True).start()
        threading.Thread(target=self._read_ipvs, name="trace-ipvs", daemon=True).start()
        self._start_pods()

    def _start_pods(self) -> None:
        """Lean pods (PodView.lean, no JSON kept): what the engine reads of them, at a tenth of the memory. The
        cyclic GC runs rarely until their first list is diagnosed (tui.gcpolicy), as for the panes' lists."""
        if self._pods is not None or self._stop.is_set():
            return
        conn = self.connection
        namespace = None if conn.all_namespaces else conn.namespace
        gcpolicy.relax()
        self._pods = ListWatchCache(conn.api_client, LEAN_PODS, namespace, on_batch=self._pod_batch, coalesce=0.2,
                                    on_state=self._pod_state, pace=self._yield_to_user)
        self._pods.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(("stop",))
        if self._pods is not None:
            self._pods.stop(join=None)
        self._wake.set()
        self._dns_pool.shutdown(wait=False, cancel_futures=True)

    def services(self, upserts: list[ServiceView], deletes: list[Key]) -> None:
        if upserts or deletes:
            self._put("services", upserts, deletes)

    def slices(self, changed: dict[Key, dict[Key, Obj]]) -> None:
        """Each changed Service's EndpointSlices now (raw, by slice key)."""
        if changed:
            self._put("slices", changed)

    def watch(self, key: Key, screen: MessagePump) -> None:
        """`screen` hears TraceReady for this Service from now on (at once, then on every change)."""
        self._put("watch", key, screen)

    def unwatch(self, key: Key, screen: MessagePump) -> None:
        self._put("unwatch", key, screen)

    def diagnosis(self, key: Key) -> Diagnosis | None:
        return self.engine.results.get(key)  # a dict read: safe from the UI thread

    # -- inputs from other threads ----------------------------------------------------------------------------

    def _put(self, *event: Any) -> None:
        if not self._stop.is_set():
            self._queue.put(event)

    def _pod_batch(self, batch: Batch) -> None:
        """LEAN_PODS: the batch's objects are the PodViews (the JSON, should a view have failed to build)."""
        objects = batch.snapshot if batch.reset and batch.snapshot is not None else {**batch.added, **batch.modified}
        pods = [o if isinstance(o, PodView) else PodView.lean(o) for o in objects.values()]
        self._put("pods", pods, list(batch.deleted), batch.reset)

    def _pod_state(self, state: Any) -> None:
        from tui.kube.connection import Phase

        if state.phase is Phase.DISCONNECTED:
            self._put("pods-failed", state.error or "the pods could not be listed")

    def _read_ipvs(self) -> None:
        """The table, in this thread's own event loop: again whenever the reader says it changed (the demo's
        emulator), else every few seconds (a kernel has no IPVS change notifications)."""
        from tui.ipvs.source import IPVSSource, IPVSUnavailable

        loop = asyncio.new_event_loop()
        source = self.reader() if self.reader is not None else IPVSSource("auto")
        subscribe = getattr(source, "subscribe", None)
        unsubscribe = subscribe(self._wake.set) if subscribe is not None else None
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self._put("table", loop.run_until_complete(source.read()), "")
                except IPVSUnavailable as exc:
                    self._put("table", None, str(exc))
                except Exception as exc:  # noqa: BLE001 - a reader's bug must not end the diagnoses
                    self._put("table", None, f"reading the IPVS table failed ({type(exc).__name__}: {exc})")
                self._wake.wait(None if unsubscribe is not None else self.ipvs_period)
        finally:
            if unsubscribe is not None:
                unsubscribe()
            source.close()
            loop.close()

    # -- the worker ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        engine = self.engine
        next_node = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_node:
                next_node = now + NODE_PERIOD
                self._read_node()
            timeout = max(0.05, min([next_node, *self._dns_due.values()]) - now)
            busy = bool(engine.dirty) and self._ready
            try:
                events = [self._queue.get_nowait() if busy else self._queue.get(timeout=timeout)]
            except queue.Empty:
                events = []
            while True:
                try:
                    events.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for event in events:
                if event[0] == "stop":
                    return
                self._apply(event)
            self._ask_dns()
            self._post_watched()
            if engine.dirty and self._ready:
                self._yield_to_user()
                changed = engine.run(limit=BUSY_CHUNK if self.since_input() < 1.0 else CHUNK)
                if changed:
                    self.target.post_message(DiagnosisReady(self, changed))
                if not engine.dirty and not self._settled:
                    self._settled = True
                    gcpolicy.settle()  # the pods and the diagnoses stay: no rescans of them from here on

    def _apply(self, event: tuple) -> None:
        engine, kind = self.engine, event[0]
        if kind == "services":
            for i, view in enumerate(event[1]):
                if i % 500 == 499:
                    self._yield_to_user()
                share_strings(view.raw)  # as the slices' (below): 10,000 Services' JSON repeats most of its words
            engine.set_services(event[1], event[2])
        elif kind == "slices":
            for i, (key, slices) in enumerate(event[1].items()):
                if i % 500 == 499:
                    self._yield_to_user()
                for obj in slices.values():
                    share_strings(obj)  # here, off the panes' start-up path: 19 MB less at 10,000 slices
                engine.set_slices(key, slices)
        elif kind == "pods":
            engine.set_pods(event[1], event[2], reset=event[3])
            if event[3]:
                engine.set_pods_error("")  # listed (again): pod verdicts are back
            self._pods_listed = self._pods_listed or event[3]
        elif kind == "pods-failed":
            engine.set_pods_error(event[1])  # no "no pod matches" from an empty pod list
            self._pods_listed = True  # diagnose without them rather than never
        elif kind == "table":
            self._table = (event[1], event[2])
            self._set_node()
        elif kind == "node":
            self._node = event[1]
            self._set_node()
        elif kind == "dns":
            engine.set_dns(event[1], event[2], event[3])
        elif kind == "watch":
            self._watchers.setdefault(event[1], []).append(event[2])
            self._dns_due[event[1]] = 0.0
            self._fresh.add(event[1])
        elif kind == "unwatch":
            screens = self._watchers.get(event[1], [])
            if event[2] in screens:
                screens.remove(event[2])
            if not screens:
                self._watchers.pop(event[1], None)
                self._dns_due.pop(event[1], None)

    def _yield_to_user(self) -> None:
        """Called between steps of background work (a page of pods, a chunk of diagnoses): while the user types or
        scrolls, wait, so that the UI thread gets the interpreter (bench/pane_burst.py: a key's repaint went from
        30 ms to 150-200 ms while the feed listed 50,000 pods and diagnosed 10,000 Services)."""
        waited = 0.0
        while self.since_input() < INPUT_QUIET and waited < MAX_YIELD and not self._stop.is_set():
            time.sleep(0.02)
            waited += 0.02

    @property
    def _ready(self) -> bool:
        """Everything a diagnosis reads has arrived once: the node, its table, the pods."""
        return self._node is not None and self._table is not None and self._pods_listed

    def _set_node(self) -> None:
        """The engine's node: the API's view of it with the table last read (none when this is not a Node)."""
        if self._node is None or self._table is None:
            return
        table, error = self._table
        if not self._node.name:
            table, error = None, self._node.table_error
        self.engine.set_node(replace(self._node, table=table, table_error=error))

    def _post_watched(self) -> None:
        engine = self.engine
        if not self._ready:
            return
        for key, screens in list(self._watchers.items()):
            if key not in engine.dirty and key not in self._fresh:
                continue
            self._fresh.discard(key)
            trace = engine.trace(key)
            for screen in screens:
                screen.post_message(TraceReady(key, trace, engine.node))
            if trace is not None:
                self.target.post_message(DiagnosisReady(self, {key: engine.results[key]}))

    def _ask_dns(self) -> None:
        now = time.monotonic()
        for key, due in list(self._dns_due.items()):
            if due > now:
                continue
            self._dns_due[key] = now + self.dns_period
            state = self.engine.state(key)
            if state is not None:
                self._dns_pool.submit(self._dns, state)

    def _dns(self, state: Any) -> None:
        from tui.trace.gather import with_dns

        try:
            (done,) = with_dns(self.connection.api_client, [state], self.dns_address_map)
        except LookupError as exc:  # no cluster DNS to ask: say so in the trace
            self._put("dns", state.service.key, (), str(exc).removeprefix("--dns: "))
            return
        except Exception as exc:  # noqa: BLE001 - the API or the servers failed: one line, not a crash
            self._put("dns", state.service.key, (), f"asking DNS failed ({type(exc).__name__}: {exc})")
            return
        self._put("dns", state.service.key, done.dns, "")

    def _read_node(self) -> None:
        """This node: its name, IPs and kube-proxy's mode and scheduler (kept when the API cannot be read).
        Raw GETs (tui.kube.client.get): the generated CoreV1Api cost 0.3-1 s of CPU to import, for two calls."""
        from tui.trace.gather import Objects, node_context, this_node_name

        api = self.connection.api_client
        try:
            nodes = _json(get(api, "/api/v1/nodes", timeout=(5, 15))).get("items") or []
        except Exception:  # noqa: BLE001 - not allowed to list Nodes, or the server is down: keep what we have
            nodes = []
        try:
            cm = _json(get(api, "/api/v1/namespaces/kube-system/configmaps/kube-proxy", timeout=(5, 15)))
        except Exception:  # noqa: BLE001 - no kubeadm-style ConfigMap: mode unknown
            cm = None
        name = self.node_name or this_node_name(nodes) or ""
        self._apply(("node", node_context(Objects((), (), (), nodes, cm), name, None, "" if name else NOT_A_NODE)))


def _json(resp: Any) -> dict[str, Any]:
    try:
        body = json.loads(resp.data)
    finally:
        resp.release_conn()
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    return body
