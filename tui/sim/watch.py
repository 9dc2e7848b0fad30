"""One watch request, served as the apiserver serves it: a chunked stream of JSON events, one per line.

The stream starts from what the request asks: every existing object as ADDED (resourceVersion "" or "0", or
sendInitialEvents=true, which ends them with a BOOKMARK annotated `k8s.io/initial-events-end`), or the store's
history after a resourceVersion (an ERROR 410 Expired event when the history no longer reaches back that far).
Then live events follow; subscribing and reading the starting point happen under the store's lock, so nothing
is missed or sent twice. With a label or field selector, an object that starts matching arrives as ADDED and one
that stops matching as DELETED, as from the apiserver's watch cache.

Faults reach an open watch from any thread through `drop` and `stop`, which put control messages in its queue.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from aiohttp import web

from tui.sim import errors, tables
from tui.sim.faults import Faults
from tui.sim.jsoncache import EncodedObjects
from tui.sim.resources import ResourceType
from tui.sim.store import ADDED, DELETED, MODIFIED, Event, Obj, Store

BOOKMARK = "BOOKMARK"


def truthy(v: str | None) -> bool:
    return v in ("true", "1", "True")


def dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def int_param(q: Mapping[str, str], key: str, default: int) -> int:
    raw = q.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'{key}: Invalid value: "{raw}": must be an integer') from None
    if value < 0:
        raise errors.bad_request(f"{key}: Invalid value: {value}: must be greater than or equal to 0")
    return value


@dataclass(frozen=True)
class WatchOptions:
    resource: ResourceType
    namespace: str | None
    where: Callable[[Obj], bool] | None  # label/field/name selection, None for everything
    start_rv: int | None  # None: start with every existing object as ADDED
    bookmarks: bool
    timeout: int  # seconds, 0 for none
    initial_events: bool
    table: bool
    include_object: str

    @classmethod
    def parse(cls, q: Mapping[str, str], resource: ResourceType, namespace: str | None,
              where: Callable[[Obj], bool] | None, table: bool) -> "WatchOptions":
        rv_text = q.get("resourceVersion", "")
        bookmarks = truthy(q.get("allowWatchBookmarks"))
        raw_initial = q.get("sendInitialEvents")
        initial = truthy(raw_initial)
        if raw_initial is not None and not initial and raw_initial != "false":
            raise errors.bad_request(f'sendInitialEvents: Invalid value: "{raw_initial}"')
        if initial:
            causes = []
            if q.get("resourceVersionMatch") != "NotOlderThan":
                causes.append(errors.Cause("FieldValueForbidden", "Forbidden: sendInitialEvents requires setting "
                                           "resourceVersionMatch to NotOlderThan", "resourceVersionMatch"))
            if not bookmarks:
                causes.append(errors.Cause("FieldValueForbidden", "Forbidden: sendInitialEvents requires setting "
                                           "allowWatchBookmarks to true", "allowWatchBookmarks"))
            if causes:
                raise errors.invalid("ListOptions", "", causes, "meta.k8s.io")
        start_rv: int | None = None
        if rv_text not in ("", "0") and not initial:
            try:
                start_rv = int(rv_text)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv_text!r}") from None
        return cls(resource, namespace, where, start_rv, bookmarks, int_param(q, "timeoutSeconds", 0), initial,
                   table, q.get("includeObject", "Metadata"))


def bookmark(res: ResourceType, rv: int, initial_end: bool = False) -> Obj:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}


class _Dropped(Exception):
    """A drop fault fired: end the stream, abruptly or cleanly."""

    def __init__(self, abrupt: bool) -> None:
        self.abrupt = abrupt


class WatchStream:
    def __init__(self, store: Store, faults: Faults, opts: WatchOptions, bookmark_interval: float,
                 encoded: EncodedObjects | None = None) -> None:
        self.store = store
        self.encoded = encoded
        self.faults = faults
        self.opts = opts
        self.bookmark_interval = bookmark_interval
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[str, Any, bool]] = asyncio.Queue()
        self._drop_after: int | None = None
        self._abrupt = True
        self._sent_columns = False
        self._pending: list[bytes] = []
        self._pending_size = 0
        # Progress of the whole store, as the apiserver's watch cache follows etcd: a bookmark may carry a
        # resourceVersion written by another resource, once every event of ours up to it has been taken.
        self._seen_rv = 0
        self._posted = 0  # our events handed to the loop (store thread)
        self._taken = 0   # ... and taken from the queue (loop)

    # -- control, from any thread -----------------------------------------------------------------------------

    def drop(self, after_events: int | None, abrupt: bool) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, ("drop", after_events, abrupt))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, ("stop", None, False))

    # -- the stream ---------------------------------------------------------------------------------------------

    def _on_event(self, ev: Event) -> None:
        if ev.resource is self.opts.resource:
            self._posted += 1  # before _seen_rv moves: a bookmark that reads both never passes an untaken event
            self.loop.call_soon_threadsafe(self.queue.put_nowait, ("event", ev, False))
        self._seen_rv = ev.rv

    def _progress(self, last_rv: int) -> int:
        """The resourceVersion a bookmark may carry now: the store's, when none of our events is in flight."""
        seen = self._seen_rv
        return max(last_rv, seen) if self._posted == self._taken and self.queue.empty() else last_rv

    def _translate(self, ev: Event) -> tuple[str, Obj] | None:
        """The event as this watch's selection sees it: an object leaving it is DELETED, entering it ADDED."""
        ns, where = self.opts.namespace, self.opts.where
        if ns and ev.namespace != ns:
            return None  # a namespaced watch sees only its namespace
        if where is None:
            return ev.type, ev.obj
        new_in = ev.type != DELETED and where(ev.obj)
        old_in = ev.old is not None and ev.type != ADDED and where(ev.old)
        if ev.type == DELETED:
            return (DELETED, ev.obj) if where(ev.obj) or old_in else None
        if new_in and old_in:
            return MODIFIED, ev.obj
        if new_in:
            return ADDED, ev.obj
        if old_in:
            return DELETED, ev.obj
        return None

    def _encode(self, type_: str, obj: Obj, stored: bool = False) -> bytes:
        if self.opts.table and type_ in (ADDED, MODIFIED, DELETED):
            # A Table per event; the column definitions only in the first, as the apiserver sends them.
            obj = tables.table(self.opts.resource.kind, [obj], self.store.clock(),
                               include_object=self.opts.include_object, columns=not self._sent_columns)
            self._sent_columns = True
        elif stored and self.encoded is not None:  # the store's own object: its encoding is shared
            return b'{"type":"' + type_.encode() + b'","object":' + self.encoded.encode(obj) + b"}\n"
        return dump({"type": type_, "object": obj}) + b"\n"

    async def _send(self, resp: web.StreamResponse, type_: str, obj: Obj, flush: bool = True) -> None:
        """Write one event; `flush=False` batches it (the starting point: thousands of events, few writes)."""
        stored = type_ != DELETED  # a deleted object is a copy the store no longer holds: nothing to share
        if type_ in (ADDED, MODIFIED, DELETED):
            shape = self.faults.take_malformed(self.opts.resource.plural, "watch")
            if shape:
                obj, stored = self.faults.malform(obj, shape), False
        self._pending.append(self._encode(type_, obj, stored))
        self._pending_size += len(self._pending[-1])
        dropping = False
        if self._drop_after is not None and type_ != BOOKMARK:
            self._drop_after -= 1
            dropping = self._drop_after <= 0
        if flush or dropping or self._pending_size > 256 * 1024:
            await self._flush(resp)
        if dropping:
            raise _Dropped(self._abrupt)

    async def _flush(self, resp: web.StreamResponse) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            await resp.write(data)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        opts, res = self.opts, self.opts.resource
        initial: list[Obj] = []
        backlog: list[Event] = []
        expired: errors.ApiError | None = None
        with self.store.lock:  # the starting point and the subscription as one consistent view
            unsubscribe = self.store.subscribe(self._on_event)
            last_rv = self._seen_rv = self.store.resource_version
            if opts.start_rv is None:
                initial, _ = self.store.list(res, opts.namespace, opts.where)
            else:
                try:
                    backlog = self.store.events_since(res, opts.start_rv)
                except errors.ApiError as err:
                    expired = err
        unregister = self.faults.register_watch(self)
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        dropped: _Dropped | None = None
        gone = False
        try:
            await resp.prepare(request)
            if expired is not None:
                await resp.write(dump({"type": "ERROR", "object": expired.status()}) + b"\n")
                return resp
            for obj in initial:
                await self._send(resp, ADDED, obj, flush=False)
            if opts.initial_events:
                self._pending.append(self._encode(BOOKMARK, bookmark(res, last_rv, initial_end=True)))
            for ev in backlog:
                out = self._translate(ev)
                if out:
                    await self._send(resp, *out, flush=False)
            await self._flush(resp)
            await self._follow(resp, last_rv)
            return resp
        except _Dropped as d:
            dropped = d
            return resp
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError too: writing to a closed connection
            gone = True  # the client went away (svcscope quit, kubectl -w interrupted): end this watch quietly
            return resp
        except asyncio.CancelledError:
            gone = True  # the server is stopping: nothing more to write
            raise
        finally:
            unsubscribe()
            unregister()
            if dropped is not None and dropped.abrupt:
                if request.transport is not None:
                    request.transport.abort()  # a broken chunked stream, as a dying connection leaves it
            elif not gone:
                try:
                    await resp.write_eof()
                except (ConnectionResetError, RuntimeError):
                    pass

    async def _follow(self, resp: web.StreamResponse, last_rv: int) -> None:
        """Live events until the timeout, a stop or a drop; bookmarks carry the last resourceVersion seen."""
        opts, loop = self.opts, self.loop
        deadline = loop.time() + opts.timeout if opts.timeout else None
        next_bookmark = loop.time() + self.bookmark_interval if opts.bookmarks else None
        while True:
            now = loop.time()
            if deadline is not None and deadline <= now:
                return
            waits = [x - now for x in (deadline, next_bookmark) if x is not None]
            try:
                msg, payload, flag = await asyncio.wait_for(self.queue.get(), max(0.0, min(waits)) if waits else None)
            except asyncio.TimeoutError:
                if next_bookmark is not None and loop.time() >= next_bookmark:
                    last_rv = self._progress(last_rv)
                    await resp.write(self._encode(BOOKMARK, bookmark(opts.resource, last_rv)))
                    next_bookmark = loop.time() + self.bookmark_interval
                continue
            if msg == "stop":
                return
            if msg == "drop":
                if payload is None:
                    raise _Dropped(flag)
                self._drop_after, self._abrupt = payload, flag
                continue
            ev: Event = payload
            self._taken += 1
            if ev.rv <= last_rv:
                continue  # part of the starting point already sent
            last_rv = ev.rv  # every event of the resource counts, matching or not: a bookmark may pass it
            out = self._translate(ev)
            if out:
                await self._send(resp, *out)
