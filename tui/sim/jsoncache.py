"""Each stored object's JSON, encoded once: lists and watches of 10,000 objects then cost a join, not a dump.

Safe because the store never changes a stored object (every write stores a fresh copy): an entry is the object
itself, its resourceVersion and its bytes, and it answers only for that very object at that version. Entries
of replaced or deleted objects are dropped as the store reports the change, so the cache holds at most one
encoding per live object, and only of objects someone has read.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from tui.sim.store import Event, Obj, Store


def dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class EncodedObjects:
    def __init__(self, store: Store) -> None:
        self._entries: dict[int, tuple[Obj, str, bytes]] = {}
        self._unsubscribe: Callable[[], None] = store.subscribe(self._forget)

    def _forget(self, ev: Event) -> None:
        if ev.old is not None:
            self._entries.pop(id(ev.old), None)

    def encode(self, obj: Obj) -> bytes:
        meta = obj.get("metadata")
        rv = meta.get("resourceVersion", "") if isinstance(meta, dict) else ""
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == rv:
            return hit[2]
        data = dump(obj)
        if rv:  # only stored objects (they have a version); dry-run results and malformed copies are one-offs
            self._entries[id(obj)] = (obj, rv, data)
        return data

    def encode_list(self, head: dict[str, Any], items: Iterable[Obj], one_off: Obj | None = None) -> bytes:
        """`head` (kind, apiVersion, metadata) with `"items": [...]` made of the cached encodings; `one_off` (an
        object that is not the store's, such as a malformed copy) is encoded without caching."""
        prefix = dump(head)[:-1]  # the head without its closing brace
        sep = b"," if head else b""
        parts = (dump(o) if o is one_off else self.encode(o) for o in items)
        return prefix + sep + b'"items":[' + b",".join(parts) + b"]}"

    def close(self) -> None:
        self._unsubscribe()
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
