"""The simulated cluster's storage: etcd's semantics that clients see, in memory.

One global resourceVersion counter for every write (as etcd's revision), a bounded per-resource history of events
so that a watch can resume from a resourceVersion (older than the history -> 410 Expired, as a compacted etcd), and
subscribers that hear every event in order.

Stored objects are never mutated once stored: every write stores a fresh deep copy. Readers therefore get the stored
dicts themselves, without copying (fast lists at 10,000 Services), and must treat them as read-only; `get_copy`
gives a copy to change and write back. The store is thread-safe (one re-entrant lock); subscriber callbacks run
under that lock, in commit order, and must only hand the event on (e.g. `loop.call_soon_threadsafe`).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from tui.sim import errors
from tui.sim.resources import RESOURCES, ResourceType

Obj = dict[str, Any]
Clock = Callable[[], datetime]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def timestamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    type: str  # ADDED | MODIFIED | DELETED
    resource: ResourceType
    obj: Obj  # read-only; metadata.resourceVersion is the event's
    rv: int
    old: Obj | None = None  # the object before this event (None for ADDED): watches with selectors need it

    @property
    def namespace(self) -> str:
        return self.obj.get("metadata", {}).get("namespace", "")

    @property
    def name(self) -> str:
        return self.obj.get("metadata", {}).get("name", "")


Subscriber = Callable[[Event], None]


class Store:
    def __init__(self, history: int = 2000, clock: Clock = utc_now) -> None:
        self._lock = threading.RLock()
        self._rv = self._initial_rv = 1000
        self._objects: dict[ResourceType, dict[tuple[str, str], Obj]] = {}
        self._history: dict[ResourceType, deque[Event]] = {}
        self._history_size = history
        # The oldest resourceVersion each resource's history can still replay from.
        self._floor: dict[ResourceType, int] = {}
        self._subscribers: list[Subscriber] = []
        self._uid_counter = 0
        self.clock = clock

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held by callers that must read several things as one consistent view."""
        return self._lock

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, res: ResourceType, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get(res, {}).get((namespace or "", name))

    def get_copy(self, res: ResourceType, namespace: str | None, name: str) -> Obj | None:
        obj = self.get(res, namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def require(self, res: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.get(res, namespace, name)
        if obj is None:
            raise errors.not_found(res.plural, name, res.group)
        return obj

    def list(self, res: ResourceType, namespace: str | None = None,
             where: Callable[[Obj], bool] | None = None) -> tuple[list[Obj], int]:
        """Objects sorted by (namespace, name) as etcd's key order, and the resourceVersion they are current at."""
        with self._lock:
            items = self._objects.get(res, {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            out = [items[k] for k in keys]
            if where is not None:
                out = [o for o in out if where(o)]
            return out, self._rv

    def count(self, res: ResourceType) -> int:
        with self._lock:
            return len(self._objects.get(res, {}))

    # -- writing ---------------------------------------------------------------------------------------------

    def _next_uid(self) -> str:
        self._uid_counter += 1
        return str(uuid.UUID(int=(0x5C5C0BE << 96) | self._uid_counter))

    def _commit(self, res: ResourceType, type_: str, obj: Obj) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        bucket = self._objects.setdefault(res, {})
        old = bucket.get(key)
        if type_ == DELETED:
            bucket.pop(key, None)
        else:
            bucket[key] = obj
        event = Event(type_, res, obj, self._rv, old)
        hist = self._history.setdefault(res, deque())
        self._floor.setdefault(res, self._initial_rv)
        hist.append(event)
        while len(hist) > self._history_size:
            dropped = hist.popleft()
            self._floor[res] = dropped.rv
        for sub in list(self._subscribers):
            sub(event)
        return obj

    def create(self, res: ResourceType, obj: Mapping[str, Any], dry_run: bool = False) -> Obj:
        with self._lock:
            new = copy.deepcopy(dict(obj))
            meta = new.setdefault("metadata", {})
            name = meta.get("name")
            if not name:
                raise errors.invalid(res.kind, "", [errors.Cause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")], res.group)
            if not res.namespaced:
                meta.pop("namespace", None)
            if self.get(res, meta.get("namespace"), name) is not None:
                raise errors.already_exists(res.plural, name, res.group)
            new["apiVersion"] = res.api_version
            new["kind"] = res.kind
            meta["uid"] = self._next_uid() if not dry_run else meta.get("uid", "")
            meta["creationTimestamp"] = timestamp(self.clock())
            if "spec" in new and res.kind not in ("Service", "Pod"):
                meta.setdefault("generation", 1)  # workloads carry a generation; Services and Pods do not
            if dry_run:
                meta["resourceVersion"] = ""
                return new
            return self._commit(res, ADDED, new)

    def update(self, res: ResourceType, obj: Mapping[str, Any], dry_run: bool = False,
               check_rv: bool = True) -> Obj:
        """Replace an object. A non-empty metadata.resourceVersion that is not current is a 409 Conflict."""
        with self._lock:
            new = copy.deepcopy(dict(obj))
            meta = new.setdefault("metadata", {})
            name = meta.get("name", "")
            old = self.require(res, meta.get("namespace"), name)
            sent_rv = meta.get("resourceVersion")
            if check_rv and sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, name, res.group)
            new["apiVersion"] = res.api_version
            new["kind"] = res.kind
            for k in ("uid", "creationTimestamp"):
                meta[k] = old["metadata"].get(k)
            if "generation" in old["metadata"]:
                changed = new.get("spec") != old.get("spec")
                meta["generation"] = old["metadata"]["generation"] + (1 if changed else 0)
            if dry_run:
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
                return new
            return self._commit(res, MODIFIED, new)

    def delete(self, res: ResourceType, namespace: str | None, name: str, dry_run: bool = False) -> Obj:
        with self._lock:
            old = self.require(res, namespace, name)
            if dry_run:
                return old
            gone = copy.deepcopy(old)
            return self._commit(res, DELETED, gone)

    def mutate(self, res: ResourceType, namespace: str | None, name: str,
               change: Callable[[Obj], None]) -> Obj:
        """Read-modify-write under the lock, for controllers: `change` edits a copy in place."""
        with self._lock:
            obj = copy.deepcopy(self.require(res, namespace, name))
            change(obj)
            return self.update(res, obj, check_rv=False)

    # -- watching --------------------------------------------------------------------------------------------

    def events_since(self, res: ResourceType, rv: int) -> list[Event]:
        """Events of `res` after `rv`; 410 Expired when history no longer reaches back that far."""
        with self._lock:
            floor = self.history_floor(res)
            if rv < floor:
                raise errors.expired(f"too old resource version: {rv} ({floor + 1})")
            return [e for e in self._history.get(res, ()) if e.rv > rv]

    def history_floor(self, res: ResourceType) -> int:
        """The oldest resourceVersion a watch of `res` can resume from (older ones get 410)."""
        with self._lock:
            # A resource never written has lost no history since the store began.
            return self._floor.get(res, self._initial_rv)

    def expire_history(self, res: ResourceType | None = None) -> None:
        """Forget history, as a compaction does: every watch resuming from before now gets 410 (a fault knob)."""
        with self._lock:
            for r in ([res] if res else set(self._history) | set(RESOURCES)):
                self._history[r] = deque()
                self._floor[r] = self._rv

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def load(self, res: ResourceType, objs: Iterable[Mapping[str, Any]]) -> None:
        """Seed objects (a scenario) as creates."""
        for o in objs:
            self.create(res, o)
