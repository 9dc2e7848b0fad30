"""The cluster as svcscope knows it: Services, EndpointSlices and pods, kept from the caches' change batches.

Each batch is applied in O(changed): the models of changed objects are rebuilt, a slice's ready/total counts are
kept per slice and summed per Service as deltas, and indexes (slices by Service, pods by namespace) answer the
panes' questions without scanning the cluster. EndpointSlice models are built only when asked for (the slices of
the selected Service): the Services pane needs only the counts, read straight from the JSON, and 50,000
SliceEndpoint models would cost most of the start-up. Only a reset batch (after a relist, or a cache for another namespace)
costs O(cluster): the state is replaced by the batch's snapshot so that nothing stale survives.

Not thread-safe: one owner (the UI thread, or a worker) applies batches and reads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Generic, Mapping, TypeVar

from tui.kube.cache import Batch, Key, Obj, Problem
from tui.kube.models import SERVICE_NAME_LABEL, PodView, ServiceView, SliceView

M = TypeVar("M", ServiceView, SliceView, PodView)


@dataclass
class Change:
    """What one batch changed, for the panes to update only those rows."""

    resource: str
    added: set[Key] = field(default_factory=set)
    modified: set[Key] = field(default_factory=set)
    deleted: set[Key] = field(default_factory=set)
    services_touched: set[Key] = field(default_factory=set)  # Services whose endpoints (slices or counts) changed
    reset: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.modified or self.deleted or self.services_touched or self.reset)


class _Table(Generic[M]):
    """Models of one resource by key, applied from batches."""

    def __init__(self, build: Callable[[Obj], M]) -> None:
        self.build = build
        self.items: dict[Key, M] = {}

    def diff(self, batch: Batch) -> tuple[dict[Key, Obj], dict[Key, Obj], dict[Key, Obj]]:
        """The batch as (added, modified, deleted); a reset's snapshot is compared with what is held instead."""
        if not batch.reset or batch.snapshot is None:
            return dict(batch.added), dict(batch.modified), dict(batch.deleted)
        snap = batch.snapshot
        added: dict[Key, Obj] = {}
        modified: dict[Key, Obj] = {}
        for key, obj in snap.items():
            held = self.items.get(key)
            if held is None:
                added[key] = obj
            elif held.raw is not obj and _rv(held.raw) != _rv(obj):
                modified[key] = obj
        deleted = {key: held.raw for key, held in self.items.items() if key not in snap}
        return added, modified, deleted


class ClusterState:
    def __init__(self, max_problems: int = 200) -> None:
        self._services: _Table[ServiceView] = _Table(ServiceView.from_api)
        self._slices: dict[Key, Obj] = {}  # raw; models built on demand into _slice_views
        self._slice_views: dict[Key, SliceView] = {}
        self._pods: _Table[PodView] = _Table(PodView.from_api)
        self._slices_by_service: dict[Key, set[Key]] = {}
        self._slice_counts: dict[Key, tuple[Key, int, int]] = {}  # slice -> (its Service, ready, total)
        self._counts: dict[Key, tuple[int, int]] = {}
        self._pods_by_ns: dict[str, set[Key]] = {}
        self.synced: set[str] = set()  # resources that delivered their first (reset) batch
        self.resource_versions: dict[str, str] = {}
        self.problems: deque[Problem] = deque(maxlen=max_problems)

    # -- reading -------------------------------------------------------------------------------------------------

    @property
    def services(self) -> Mapping[Key, ServiceView]:
        return self._services.items

    @property
    def slice_objects(self) -> Mapping[Key, Obj]:
        """Every EndpointSlice as the API sent it (read-only)."""
        return self._slices

    def slice(self, key: Key) -> SliceView | None:
        view = self._slice_views.get(key)
        if view is None:
            obj = self._slices.get(key)
            if obj is None:
                return None
            view = self._slice_views[key] = SliceView.from_api(obj)
            self._report(view.problems, "EndpointSlice", key)
        return view

    @property
    def pods(self) -> Mapping[Key, PodView]:
        return self._pods.items

    def service(self, key: Key) -> ServiceView | None:
        return self._services.items.get(key)

    def service_views(self) -> list[ServiceView]:
        """Every Service in etcd's key order (`namespace/name`), which is the order kubectl prints."""
        return [self._services.items[k] for k in sorted(self._services.items, key=etcd_order)]

    def slices_of(self, key: Key) -> list[SliceView]:
        """The EndpointSlices labelled for the Service (kubernetes.io/service-name), by name."""
        keys = self._slices_by_service.get(key, ())
        return [view for k in sorted(keys) if (view := self.slice(k)) is not None]

    def slice_objects_of(self, key: Key) -> dict[Key, Obj]:
        """The Service's EndpointSlices as the API sent them, by key (no models built: the trace builds its own)."""
        return {k: self._slices[k] for k in self._slices_by_service.get(key, ()) if k in self._slices}

    def endpoint_counts(self, key: Key) -> tuple[int, int]:
        """(ready, total) endpoints over the Service's slices."""
        return self._counts.get(key, (0, 0))

    def pods_in(self, namespace: str) -> list[PodView]:
        return [self._pods.items[k] for k in self._pods_by_ns.get(namespace, ())]

    def pods_selected(self, service: ServiceView) -> list[PodView]:
        """Pods the Service's selector matches, by name; O(pods in its namespace)."""
        sel = service.selector
        if not sel:
            return []
        out = [p for p in self.pods_in(service.namespace) if _matches(sel, p.labels)]
        return sorted(out, key=lambda p: p.name)

    # -- applying ------------------------------------------------------------------------------------------------

    def apply(self, batch: Batch) -> Change:
        self.problems.extend(batch.problems)
        if batch.resource_version:
            self.resource_versions[batch.resource] = batch.resource_version
        if batch.reset:
            self.synced.add(batch.resource)
        if batch.resource == "services":
            return self._apply_services(batch)
        if batch.resource == "endpointslices":
            return self._apply_slices(batch)
        if batch.resource == "pods":
            return self._apply_pods(batch)
        return Change(batch.resource, reset=batch.reset)

    def _apply_services(self, batch: Batch) -> Change:
        added, modified, deleted = self._services.diff(batch)
        table = self._services.items
        for key in deleted:
            table.pop(key, None)
        for key, obj in {**added, **modified}.items():
            view = batch.models.get(key)  # built in the cache's thread
            if not isinstance(view, ServiceView) or view.raw is not obj:
                view = ServiceView.from_api(obj)
            table[key] = view
            self._report(view.problems, "Service", key)
        return Change("services", set(added), set(modified), set(deleted), reset=batch.reset)

    def _apply_slices(self, batch: Batch) -> Change:
        added, modified, deleted = _diff_raw(self._slices, batch)
        change = Change("endpointslices", set(added), set(modified), set(deleted), reset=batch.reset)
        touched = change.services_touched
        for key in deleted:
            if self._slices.pop(key, None) is not None:
                touched.add(self._unlink(key))
            self._slice_views.pop(key, None)
        for key, obj in {**added, **modified}.items():
            if key in self._slices:
                touched.add(self._unlink(key))
            self._slices[key] = obj
            self._slice_views.pop(key, None)
            touched.add(self._link(key, obj))
        touched.discard(("", ""))
        return change

    def _apply_pods(self, batch: Batch) -> Change:
        added, modified, deleted = self._pods.diff(batch)
        table = self._pods.items
        for key in deleted:
            if table.pop(key, None) is not None:
                self._pods_by_ns.get(key[0], set()).discard(key)
        for key, obj in {**added, **modified}.items():
            pod = batch.models.get(key)
            table[key] = pod if isinstance(pod, PodView) and pod.raw is obj else PodView.from_api(obj)
            self._pods_by_ns.setdefault(key[0], set()).add(key)
        return Change("pods", set(added), set(modified), set(deleted), reset=batch.reset)

    def _link(self, key: Key, obj: Obj) -> Key:
        svc, ready, total = slice_counts(obj)
        svc_key = (key[0], svc) if svc else ("", "")
        self._slice_counts[key] = (svc_key, ready, total)
        self._slices_by_service.setdefault(svc_key, set()).add(key)
        r, t = self._counts.get(svc_key, (0, 0))
        self._counts[svc_key] = (r + ready, t + total)
        return svc_key

    def _unlink(self, key: Key) -> Key:
        svc_key, ready, total = self._slice_counts.pop(key, (("", ""), 0, 0))
        keys = self._slices_by_service.get(svc_key)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._slices_by_service[svc_key]
        if keys:
            r, t = self._counts.get(svc_key, (0, 0))
            self._counts[svc_key] = (r - ready, t - total)
        else:
            self._counts.pop(svc_key, None)
        return svc_key

    def _report(self, problems: tuple[str, ...], kind: str, key: Key) -> None:
        for p in problems:
            self.problems.append(Problem(kind, f"{kind} {key[0]}/{key[1]}: {p}"))


def slice_counts(obj: Obj) -> tuple[str, int, int]:
    """(Service name, ready endpoints, all endpoints) of an EndpointSlice's JSON, as SliceView would count them
    (`ready` unset means ready), without building its models."""
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    svc = labels.get(SERVICE_NAME_LABEL) if isinstance(labels, dict) else None
    endpoints = obj.get("endpoints")
    if not isinstance(endpoints, list):
        return (svc if isinstance(svc, str) else ""), 0, 0
    total = ready = 0
    for ep in endpoints:
        if not isinstance(ep, dict):
            continue
        total += 1
        cond = ep.get("conditions")
        if not (isinstance(cond, dict) and cond.get("ready") is False):
            ready += 1
    return (svc if isinstance(svc, str) else ""), ready, total


def _diff_raw(held: dict[Key, Obj], batch: Batch) -> tuple[dict[Key, Obj], dict[Key, Obj], dict[Key, Obj]]:
    """_Table.diff for a table of raw objects."""
    if not batch.reset or batch.snapshot is None:
        return dict(batch.added), dict(batch.modified), dict(batch.deleted)
    snap = batch.snapshot
    added = {k: o for k, o in snap.items() if k not in held}
    modified = {k: o for k, o in snap.items() if k in held and held[k] is not o and _rv(held[k]) != _rv(o)}
    deleted = {k: o for k, o in held.items() if k not in snap}
    return added, modified, deleted


def etcd_order(key: Key) -> str:
    """The apiserver lists in etcd key order, `.../namespace/name` as bytes: `dev-2/a` sorts before `dev/a`."""
    return f"{key[0]}/{key[1]}"


def _matches(selector: tuple[tuple[str, str], ...], labels: tuple[tuple[str, str], ...]) -> bool:
    have = dict(labels)
    return all(have.get(k) == v for k, v in selector)


def _rv(obj: Obj) -> str:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    rv = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
    return rv if isinstance(rv, str) else ""
