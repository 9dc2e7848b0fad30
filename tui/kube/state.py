"""The cluster as svcscope knows it: Services, EndpointSlices and pods, kept from the caches' change batches.

Each batch is applied in O(changed): the models of changed objects are rebuilt, a slice's ready/total counts are
kept per slice and summed per Service as deltas, and indexes (slices by Service, pods by namespace) answer the
panes' questions without scanning the cluster. Only a reset batch (after a relist, or a cache for another namespace)
costs O(cluster): the state is replaced by the batch's snapshot so that nothing stale survives.

Not thread-safe: one owner (the UI thread, or a worker) applies batches and reads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Generic, Mapping, TypeVar

from tui.kube.cache import Batch, Key, Obj, Problem
from tui.kube.models import PodView, ServiceView, SliceView

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
        self._slices: _Table[SliceView] = _Table(SliceView.from_api)
        self._pods: _Table[PodView] = _Table(PodView.from_api)
        self._slices_by_service: dict[Key, set[Key]] = {}
        self._slice_counts: dict[Key, tuple[int, int]] = {}
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
    def slices(self) -> Mapping[Key, SliceView]:
        return self._slices.items

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
        return [self._slices.items[k] for k in sorted(keys)]

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
            view = ServiceView.from_api(obj)
            table[key] = view
            self._report(view.problems, "Service", key)
        return Change("services", set(added), set(modified), set(deleted), reset=batch.reset)

    def _apply_slices(self, batch: Batch) -> Change:
        added, modified, deleted = self._slices.diff(batch)
        change = Change("endpointslices", set(added), set(modified), set(deleted), reset=batch.reset)
        table = self._slices.items
        for key in deleted:
            old = table.pop(key, None)
            if old is not None:
                change.services_touched.add(self._unlink(old))
        for key, obj in {**added, **modified}.items():
            old = table.get(key)
            if old is not None:
                change.services_touched.add(self._unlink(old))
            view = SliceView.from_api(obj)
            table[key] = view
            self._report(view.problems, "EndpointSlice", key)
            change.services_touched.add(self._link(view))
        change.services_touched.discard(("", ""))
        return change

    def _apply_pods(self, batch: Batch) -> Change:
        added, modified, deleted = self._pods.diff(batch)
        table = self._pods.items
        for key in deleted:
            if table.pop(key, None) is not None:
                self._pods_by_ns.get(key[0], set()).discard(key)
        for key, obj in {**added, **modified}.items():
            table[key] = PodView.from_api(obj)
            self._pods_by_ns.setdefault(key[0], set()).add(key)
        return Change("pods", set(added), set(modified), set(deleted), reset=batch.reset)

    def _link(self, view: SliceView) -> Key:
        svc = (view.namespace, view.service) if view.service else ("", "")
        ready = sum(1 for e in view.endpoints if e.is_ready)
        counts = (ready, len(view.endpoints))
        self._slice_counts[view.key] = counts
        self._slices_by_service.setdefault(svc, set()).add(view.key)
        r, t = self._counts.get(svc, (0, 0))
        self._counts[svc] = (r + counts[0], t + counts[1])
        return svc

    def _unlink(self, view: SliceView) -> Key:
        svc = (view.namespace, view.service) if view.service else ("", "")
        counts = self._slice_counts.pop(view.key, (0, 0))
        keys = self._slices_by_service.get(svc)
        if keys is not None:
            keys.discard(view.key)
            if not keys:
                del self._slices_by_service[svc]
        r, t = self._counts.get(svc, (0, 0))
        r, t = r - counts[0], t - counts[1]
        if keys:
            self._counts[svc] = (r, t)
        else:
            self._counts.pop(svc, None)
        return svc

    def _report(self, problems: tuple[str, ...], kind: str, key: Key) -> None:
        for p in problems:
            self.problems.append(Problem(kind, f"{kind} {key[0]}/{key[1]}: {p}"))


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
