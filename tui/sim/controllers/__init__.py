"""The controllers that keep the simulated cluster's derived objects current.

Interface (SimCluster calls these; owned by the sim-semantics work):
    Controllers(store, clock=None)    clock defaults to the store's
    .start(loop)                      subscribe to the store; reconcile on the sim's asyncio loop as objects change
    .sync()                           reconcile everything now, synchronously (after a scenario load, in tests)
    .stop()

What runs (one module each): the EndpointSlice controller (endpointslices.py), the Deployment and DaemonSet
controllers (workloads.py), the scheduler and kubelets with their readiness knob and health hooks (kubelet.py,
kubeproxy.py), a load-balancer stand-in (loadbalancers.py), graceful pod removal, and garbage collection of what a deleted Service, workload or namespace owned.

Work is incremental: each store event marks only what it affects (the Services selecting a changed pod, found
through label indexes; the workload owning it; the pod itself), bursts coalesce into one pass on the loop, and a
pass yields to the loop after ~20 ms so that 10,000 Services never block the HTTP server for long. Everything runs
under `store.lock`, on the loop's thread.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from datetime import datetime
from typing import Any, Callable, Mapping

from tui.sim import admission
from tui.sim.controllers.endpointslices import EndpointSliceController
from tui.sim.controllers.index import ClusterIndex, controller_of, parent_of
from tui.sim.controllers import loadbalancers
from tui.sim.controllers.kubelet import Kubelet
from tui.sim.controllers.workloads import Workloads
from tui.sim.resources import BY_KIND, RESOURCES
from tui.sim.store import DELETED, Event, Store, timestamp

Key = tuple[str, str]
SVC, POD, SLICE = BY_KIND["Service"], BY_KIND["Pod"], BY_KIND["EndpointSlice"]
DEPLOY, DS, NODE = BY_KIND["Deployment"], BY_KIND["DaemonSet"], BY_KIND["Node"]

__all__ = ["Controllers", "mark_settled"]

# store -> the resourceVersion at which everything derived was known to be current (the generator's bulk path
# leaves it so): a full pass at exactly that version would change nothing, so it is skipped.
_SETTLED: "weakref.WeakKeyDictionary[Store, int]" = weakref.WeakKeyDictionary()


def mark_settled(store: Store) -> None:
    """Declare the store's derived objects (pods, slices, statuses) current as of now."""
    with store.lock:
        _SETTLED[store] = store.resource_version


class _Queue:
    """An ordered set of keys to reconcile: marking twice costs nothing (bursts coalesce)."""

    def __init__(self) -> None:
        self._keys: dict[Key, None] = {}

    def add(self, key: Key) -> None:
        self._keys[key] = None

    def pop(self) -> Key:
        key = next(iter(self._keys))
        del self._keys[key]
        return key

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class Controllers:
    BATCH_SECONDS = 0.02  # how long one pass may hold the loop
    CRASH_TICK_SECONDS = 5.0  # how often a crash-looping container restarts (and fails again)

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or store.clock
        self.index = ClusterIndex()
        self.slices = EndpointSliceController(self)
        self.workloads = Workloads(self)
        self.kubelet = Kubelet(self)
        self._events: deque[Event] = deque()
        self._own_rvs: set[int] = set()
        self._services, self._deployments, self._daemonsets, self._pods = _Queue(), _Queue(), _Queue(), _Queue()
        self._namespaces_gone: list[str] = []
        self._names: dict[str, int] = {}  # per-owner counters of generated pod names
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._tick: asyncio.TimerHandle | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def timestamp(self) -> str:
        return timestamp(self.clock())

    def own_write(self, write: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
        """Write, and remember the write's resourceVersion: its event updates the indexes but marks nothing."""
        obj = write()
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self._own_rvs.add(int(rv))
        return obj

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        with self.store.lock:
            self._loop = loop
            self._rebuild()
            self._unsubscribe = self.store.subscribe(self._on_event)
            self._mark_all()
        self._kick()

    def stop(self) -> None:
        with self.store.lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            loop, self._loop = self._loop, None
        for handle in (self._timer, self._tick):
            if handle is not None and loop is not None:
                loop.call_soon_threadsafe(handle.cancel)
        self._timer = self._tick = None

    def sync(self) -> None:
        """Reconcile everything now, and again until nothing changes (pods still in their grace period stay)."""
        with self.store.lock:
            temporary = None
            if self._unsubscribe is None:  # not started: follow our own writes while this pass runs
                self._events.clear()
                self._rebuild()
                temporary = self.store.subscribe(self._events.append)
            try:
                self._mark_all()
                self._process(None)
            finally:
                if temporary is not None:
                    temporary()
                    self._events.clear()
        self._arm_timers()

    # -- events -------------------------------------------------------------------------------------------------

    def _on_event(self, ev: Event) -> None:
        """Called under the store's lock, from any thread: queue it and make sure a pass is coming."""
        self._events.append(ev)
        self._kick()

    def _kick(self) -> None:
        loop = self._loop
        if loop is None or self._scheduled:
            return
        self._scheduled = True
        try:
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed: the cluster is stopping
            self._scheduled = False

    def _run(self) -> None:
        self._scheduled = False
        if self._loop is None:
            return
        with self.store.lock:
            more = self._process(self.BATCH_SECONDS)
        if more:
            self._kick()
        self._arm_timers()

    def _rebuild(self) -> None:
        self.index = ClusterIndex()
        self.index.load(self.store.list(POD)[0], self.store.list(SVC)[0], self.store.list(SLICE)[0])
        deadlines = admission.knobs(self.store).removal_deadlines
        for pod in self.store.list(POD)[0]:
            self._note_deletion(pod, deadlines)

    def _mark_all(self) -> None:
        if _SETTLED.get(self.store) == self.store.resource_version:
            return  # nothing happened since everything was made current
        for svc in self.store.list(SVC)[0]:
            self._services.add((svc["metadata"].get("namespace", ""), svc["metadata"]["name"]))
        for sname in list(self.index.slices_by_service):
            self._services.add(sname)  # slices of Services that are gone
        for dep in self.store.list(DEPLOY)[0]:
            self._deployments.add((dep["metadata"].get("namespace", ""), dep["metadata"]["name"]))
        for ds in self.store.list(DS)[0]:
            self._daemonsets.add((ds["metadata"].get("namespace", ""), ds["metadata"]["name"]))
        for ns, kind, parent in self.index.all_owners():  # pods of workloads that are gone
            (self._deployments if kind == "ReplicaSet" else self._daemonsets if kind == "DaemonSet"
             else _Queue()).add((ns, parent))
        for pod in self.store.list(POD)[0]:
            self._pods.add((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))

    def _note_deletion(self, pod: Mapping[str, Any], deadlines: dict[Key, float]) -> None:
        """A terminating pod the admission did not time (loaded, or written directly): time it from its
        deletionTimestamp."""
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        stamp = meta.get("deletionTimestamp")
        if not stamp or key in deadlines:
            return
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=self.clock().tzinfo)
            left = (when - self.clock()).total_seconds()
        except (TypeError, ValueError):
            left = 0.0
        deadlines[key] = time.monotonic() + max(0.0, left)

    def _drain(self) -> None:
        deadlines = admission.knobs(self.store).removal_deadlines
        while self._events:
            ev = self._events.popleft()
            own = ev.rv in self._own_rvs
            if own:
                self._own_rvs.discard(ev.rv)
            kind, ns, name = ev.resource.kind, ev.namespace, ev.name
            if kind == "Pod":
                old_labels = self.index.pod_labels.labels(ns, name)
                if ev.type == DELETED:
                    self.index.remove_pod(ns, name)
                    deadlines.pop((ns, name), None)
                    self.kubelet.crashing.discard((ns, name))
                else:
                    self.index.put_pod(ev.obj)
                    self._pods.add((ns, name))
                    self._note_deletion(ev.obj, deadlines)
                new_labels = self.index.pod_labels.labels(ns, name)
                sel = self.index.service_selectors
                for svc in sel.selecting(ns, old_labels) | sel.selecting(ns, new_labels):
                    self._services.add((ns, svc))
                owner = controller_of(ev.obj)
                if owner and owner[0] == "ReplicaSet":
                    self._deployments.add((ns, parent_of("ReplicaSet", owner[1])))
                elif owner and owner[0] == "DaemonSet":
                    self._daemonsets.add((ns, owner[1]))
            elif kind == "Service":
                if ev.type == DELETED:
                    self.index.remove_service(ns, name)
                else:
                    self.index.put_service(ev.obj)
                self._services.add((ns, name))
            elif kind == "EndpointSlice":
                svc = self.index.remove_slice(ns, name) if ev.type == DELETED else self.index.put_slice(ev.obj)
                if svc is None and ev.type != DELETED:
                    svc = None
                if svc is not None and not own:
                    self._services.add((ns, svc))
            elif kind == "Deployment":
                self._deployments.add((ns, name))
            elif kind == "DaemonSet":
                self._daemonsets.add((ns, name))
            elif kind == "Node":
                if ev.type == DELETED:
                    for pod_ns, pod in sorted(self.index.pods_by_node.get(name, ())):
                        if self.store.get(POD, pod_ns, pod) is not None:
                            self.store.delete(POD, pod_ns, pod)  # podgc: pods bound to a node that is gone
                self._node_changed(name)
            elif kind == "Namespace" and ev.type == DELETED:
                self._namespaces_gone.append(name)

    def _node_changed(self, node: str) -> None:
        """A node came, went or changed (zone, readiness, taints): its pods' Services, the DaemonSets, and pods
        waiting for a node are looked at again."""
        sel = self.index.service_selectors
        for ns, pod in list(self.index.pods_by_node.get(node, ())):
            self._pods.add((ns, pod))
            for svc in sel.selecting(ns, self.index.pod_labels.labels(ns, pod)):
                self._services.add((ns, svc))
        for ds in self.store.list(DS)[0]:
            self._daemonsets.add((ds["metadata"].get("namespace", ""), ds["metadata"]["name"]))
        for pod in self.store.list(POD, where=lambda p: not (p.get("spec") or {}).get("nodeName"))[0]:
            self._pods.add((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))

    # -- passes -----------------------------------------------------------------------------------------------------

    def _process(self, budget: float | None) -> bool:
        """Work until nothing is left (budget None) or the budget is spent; True when work remains."""
        until = None if budget is None else time.monotonic() + budget
        while True:
            self._drain()
            self._remove_expired()
            self._collect_namespaces()
            worked = False
            for queue, fn in ((self._pods, self.kubelet.reconcile),
                              (self._deployments, self._reconcile_deployment),
                              (self._daemonsets, self._reconcile_daemonset),
                              (self._services, self._reconcile_service)):
                while queue:
                    ns, name = queue.pop()
                    fn(ns, name)
                    worked = True
                    self._drain()
                    if until is not None and time.monotonic() > until:
                        return True
            if not worked and not self._events:
                return False

    def _reconcile_service(self, ns: str, name: str) -> None:
        self.slices.reconcile(ns, name)
        loadbalancers.reconcile(self.store, ns, name)

    def _reconcile_deployment(self, ns: str, name: str) -> None:
        self.workloads.reconcile_deployment(ns, name, self._names)

    def _reconcile_daemonset(self, ns: str, name: str) -> None:
        self.workloads.reconcile_daemonset(ns, name, self._names)

    def _remove_expired(self) -> None:
        deadlines = admission.knobs(self.store).removal_deadlines
        if not deadlines:
            return
        now = time.monotonic()
        for key, at in list(deadlines.items()):
            if at > now:
                continue
            del deadlines[key]
            pod = self.store.get(POD, key[0], key[1])
            if pod is not None and (pod.get("metadata") or {}).get("deletionTimestamp"):
                self.store.delete(POD, key[0], key[1])

    def _collect_namespaces(self) -> None:
        while self._namespaces_gone:
            ns = self._namespaces_gone.pop()
            for res in RESOURCES:
                if res.namespaced:
                    for obj in list(self.store.list(res, ns)[0]):
                        self.store.delete(res, ns, obj["metadata"]["name"])

    # -- timers -------------------------------------------------------------------------------------------------

    def _arm_timers(self) -> None:
        """Wake up for the next pod whose grace period ends, and tick crash-looping containers."""
        loop = self._loop
        if loop is None:
            return
        if not _on(loop):
            try:
                loop.call_soon_threadsafe(self._arm_timers)
            except RuntimeError:
                pass
            return
        deadlines = admission.knobs(self.store).removal_deadlines
        if deadlines:
            at = min(deadlines.values())
            if self._timer is None or at < self._timer_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer_at = at
                self._timer = loop.call_later(max(0.0, at - time.monotonic()) + 0.005, self._timer_fired)
        if self.kubelet.crashing and self._tick is None:
            self._tick = loop.call_later(self.CRASH_TICK_SECONDS, self._tick_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._kick()

    def _tick_fired(self) -> None:
        self._tick = None
        if self._loop is None:
            return
        with self.store.lock:
            self.kubelet.tick()
        self._kick()


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether we are running on `loop`'s thread (timers may only be armed there)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
