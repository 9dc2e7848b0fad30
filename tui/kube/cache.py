"""One list+watch cache per resource, on the official kubernetes client, delivering coalesced change batches.

The loop is client-go's reflector: a paginated list (limit=500 + continue, as kubectl), then a watch from the list's
resourceVersion with bookmarks, following every event's and bookmark's resourceVersion. A 410 Expired (an ERROR
event or an ApiException) relists; a dropped connection, a stopped server or a 5xx reconnects after a capped,
jittered exponential backoff (0.5 s doubling to 30 s, +-20%); 401/403 is published as disconnected with a sentence
saying access is refused, and retried every 30 s (never a crash loop). An object that cannot be keyed, has the wrong
shape or lies outside the watched namespace stays out of the cache and is reported in `problems`. Connection
changes are published as tui.kube.connection's ConnectionState.

The consumer gets `Batch`es from a flusher thread: added / modified / deleted keyed by (namespace, name), coalesced
so that a burst of events becomes at most one batch per `coalesce` seconds. After every (re)list the batch is a
`reset`: its diff brings the previous view to the listed state, and `snapshot` holds the whole state, so a consumer
that may hold anything else (a new namespace, a new context) replaces its view and nothing stale survives.

Raw JSON, not the client's models (`_preload_content=False`, parsed with `json`), chosen by measurement:
bench/deserialize.py, the same 10,000 Services from the simulated cluster listed over HTTP both ways, on this
machine (2 shared cores, Python 3.11, kubernetes 37.0.2):

                                  client models   raw JSON   ratio raw/models
    list over HTTP, paged by 500        1265 ms      468 ms        0.37
    parsing alone (6.9 MB body)         1522 ms      109 ms        0.071

The HTTP figure includes the server's own time; the parsing alone is what the client adds, 14x less with json.

Raw dicts are also what tui/kube/models.py's from_api reads, so nothing is converted twice.

No Textual here: `run()` blocks (a Textual thread worker calls it), `stop()` returns it promptly from any thread.
In the app (the callbacks run in the cache's threads, so they only post messages):

    cache = ListWatchCache(conn.api_client, SERVICES, namespace, connection=conn,
                           on_batch=lambda b: app.post_message(KubeBatch(b)),
                           on_state=lambda s: app.post_message(KubeState(s)))
    # in a @work(thread=True, exit_on_error=False) worker: cache.run(); on exit or :ns: cache.stop()
    # in the UI thread: change = cluster_state.apply(batch)  -> update only change's rows
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping  # not typing.Mapping: isinstance() on it is several times slower
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tui.kube.client import Connection, collection_path, explain_error, get
from tui.kube.connection import Clock, ConnectionState, Phase, utc_now
from tui.kube.models import PodView, ServiceView

Key = tuple[str, str]
Obj = dict[str, Any]

PAGE_SIZE = 500  # kubectl's chunk size


# -- what is listed and watched ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """A resource the cache can list and watch: where the API serves it, and its top-level shape."""

    plural: str
    kind: str
    group_version: str  # "v1" (core) or "discovery.k8s.io/v1"
    check: Callable[[Mapping[str, Any]], str | None] = lambda obj: None  # a shape error, or None
    # Built in the cache's thread for every object it keeps, so consumers (the UI thread) only store models.
    model: Callable[[Mapping[str, Any]], Any] | None = None
    # False: the cache keeps each object's model (it has a `resource_version`) in place of its JSON, and batches
    # carry models where they would carry objects. 50,000 pods' JSON is ~350 MB in Python; their PodView.lean ~40.
    keep_json: bool = True

    def path(self, namespace: str | None) -> str:
        return collection_path(self.group_version, self.plural, namespace)


def _check_service(obj: Mapping[str, Any]) -> str | None:
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return "spec is missing or not an object"
    ports = spec.get("ports")
    if ports is not None and not (isinstance(ports, list) and all(
            isinstance(p, Mapping) and isinstance(p.get("port"), int) for p in ports)):
        return "spec.ports is not a list of ports"
    if spec.get("selector") is not None and not isinstance(spec.get("selector"), Mapping):
        return "spec.selector is not an object"
    return None


def _check_slice(obj: Mapping[str, Any]) -> str | None:
    if not isinstance(obj.get("addressType"), str):
        return "addressType is missing or not a string"
    if not isinstance(obj.get("endpoints", []), list) and obj.get("endpoints") is not None:
        return "endpoints is not a list"
    if not isinstance(obj.get("ports", []), list) and obj.get("ports") is not None:
        return "ports is not a list"
    return None


def _check_pod(obj: Mapping[str, Any]) -> str | None:
    return None if isinstance(obj.get("spec"), Mapping) else "spec is missing or not an object"


SERVICES = Resource("services", "Service", "v1", _check_service, ServiceView.from_api)
ENDPOINTSLICES = Resource("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", _check_slice)
PODS = Resource("pods", "Pod", "v1", _check_pod, PodView.from_api)
LEAN_PODS = Resource("pods", "Pod", "v1", _check_pod, PodView.lean, keep_json=False)  # the trace feed's
# EndpointSlices have no model here: ClusterState counts endpoints from the JSON and builds SliceViews on demand.


# -- problems ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    resource: str
    message: str
    when: float = field(default_factory=time.time)


# -- batches -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Changes since the previous batch, each key at most once (coalesced); objects are read-only dicts (the
    models, for a resource that does not keep its JSON: Resource.keep_json).

    `reset`: the batch follows a (re)list. `snapshot` is then the cache's whole state (every key -> object); a
    consumer that applied every earlier batch of this cache may apply the diff, any other replaces its view by it.
    """

    resource: str
    added: Mapping[Key, Obj]
    modified: Mapping[Key, Obj]
    deleted: Mapping[Key, Obj]  # the last object seen for each key
    reset: bool = False
    snapshot: Mapping[Key, Obj] | None = None
    resource_version: str = ""
    problems: tuple[Problem, ...] = ()
    # The resource's models (Resource.model) of the added and modified objects, and of the snapshot's on a reset.
    models: Mapping[Key, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.added) + len(self.modified) + len(self.deleted)


ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class Pending:
    """The changes not yet delivered, merged per key so the consumer's view ends the same as event by event.

    `added` means the consumer has not got the key; `modified`/`deleted` mean it has. So added+deleted cancels,
    deleted+added is a modification, added+modified stays added.
    """

    def __init__(self) -> None:
        self.changes: dict[Key, tuple[str, Obj]] = {}

    def put(self, kind: str, key: Key, obj: Obj) -> None:
        prev = self.changes.get(key)
        if prev is None:
            self.changes[key] = (kind, obj)
            return
        before = prev[0]
        if kind == DELETED:
            if before == ADDED:
                del self.changes[key]
            else:
                self.changes[key] = (DELETED, obj)
        elif before == ADDED:
            self.changes[key] = (ADDED, obj)
        else:  # modified or deleted before, now added or modified: the consumer has the key, it changed
            self.changes[key] = (MODIFIED, obj)

    def take(self) -> tuple[dict[Key, Obj], dict[Key, Obj], dict[Key, Obj]]:
        added: dict[Key, Obj] = {}
        modified: dict[Key, Obj] = {}
        deleted: dict[Key, Obj] = {}
        out = {ADDED: added, MODIFIED: modified, DELETED: deleted}
        for key, (kind, obj) in self.changes.items():
            out[kind][key] = obj
        self.changes = {}
        return added, modified, deleted

    def __bool__(self) -> bool:
        return bool(self.changes)


# -- backoff -------------------------------------------------------------------------------------------------------


class Backoff:
    """Capped exponential backoff with jitter: initial * factor**n, at most `cap`, each scaled by 1 +- jitter.

    Jitter keeps a fleet of svcscope instances from reconnecting to a restarted apiserver in lockstep.
    """

    def __init__(self, initial: float = 0.5, cap: float = 30.0, factor: float = 2.0, jitter: float = 0.2,
                 rng: random.Random | None = None) -> None:
        self.initial, self.cap, self.factor, self.jitter = initial, cap, factor, jitter
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        base = min(self.cap, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        return min(self.cap, base * (1 + self.jitter * (2 * self.rng.random() - 1)))

    def reset(self) -> None:
        self.attempt = 0


# -- errors --------------------------------------------------------------------------------------------------------


class Expired(Exception):
    """The watch's resourceVersion is older than the server keeps: relist."""


class WatchError(Exception):
    """An ERROR event other than 410, or a stream that makes no sense: reconnect after a backoff."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code


def status_message(exc: ApiException) -> str:
    """The Status object's message from an ApiException, else its reason, as one line."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            status = json.loads(body)
            if isinstance(status, dict) and isinstance(status.get("message"), str) and status["message"]:
                return status["message"]
        except ValueError:
            pass
    return f"HTTP {exc.status} {exc.reason or ''}".strip()


def connection_message(exc: BaseException) -> str:
    """A dropped or refused connection in words, without urllib3's nesting."""
    reason = getattr(exc, "reason", None)
    inner = reason if isinstance(reason, BaseException) else exc
    text = str(inner)
    if isinstance(inner, urllib3.exceptions.NewConnectionError) or "refused" in text.lower():
        return "the API server refused the connection"
    if isinstance(inner, (urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError)):
        return "the API server stopped answering"
    if isinstance(inner, (urllib3.exceptions.ProtocolError, ConnectionError)):
        return "the connection to the API server was lost"
    return text.splitlines()[0] if text else type(inner).__name__


# -- listing ---------------------------------------------------------------------------------------------------------


def object_key(resource: Resource, obj: Any) -> tuple[Key | None, str | None]:
    """(namespace, name) of a well-formed object, or None and why it cannot be kept."""
    if not isinstance(obj, Mapping):
        return None, "the object is not a JSON object"
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return None, "metadata is missing"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None, "metadata.name is missing"
    ns = meta.get("namespace", "")
    if not isinstance(ns, str):
        return None, f"{name}: metadata.namespace is not a string"
    kind = obj.get("kind")
    if kind is not None and kind != resource.kind:
        return None, f"{ns}/{name}: kind {kind!r} is not {resource.kind}"
    err = resource.check(obj)
    if err:
        return None, f"{ns}/{name}: {err}"
    return (ns, name), None


def _outside(namespace: str | None, key: Key) -> str | None:
    """A real apiserver never sends another namespace's object on a namespaced list or watch; keep it out."""
    if namespace and key[0] != namespace:
        return f"{key[0]}/{key[1]} is outside namespace {namespace}"
    return None


class Lister:
    """The raw calls of one resource: paginated list and watch, as parsed JSON (see the module docstring).

    Requests go through the client's ApiClient (its kubeconfig auth, TLS and proxy handling) with the same query
    the generated CoreV1Api/DiscoveryV1Api methods send, but without those classes: importing CoreV1Api alone costs
    about as much as the whole rest of start-up (1-3 s here), for methods whose typed results we do not use.
    """

    def __init__(self, api_client: client.ApiClient, resource: Resource, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 request_timeout: float = 30.0) -> None:
        self.resource = resource
        self.namespace = namespace
        self.selectors: list[tuple[str, Any]] = []
        if label_selector:
            self.selectors.append(("labelSelector", label_selector))
        if field_selector:
            self.selectors.append(("fieldSelector", field_selector))
        self.api_client = api_client
        self.path = resource.path(namespace)
        self.request_timeout = request_timeout
        self.active: urllib3.BaseHTTPResponse | None = None  # the response being read, for stop() to cut

    def raw(self, timeout: tuple[float, float], query: list[tuple[str, Any]]) -> urllib3.BaseHTTPResponse:
        """GET the resource's collection; the streaming response, or ApiException for a non-2xx answer."""
        self.active = get(self.api_client, self.path, [*self.selectors, *query], timeout)
        return self.active

    def page(self, cont: str | None = None, limit: int = PAGE_SIZE) -> dict[str, Any]:
        query: list[tuple[str, Any]] = [("limit", limit)]
        if cont:
            query.append(("continue", cont))
        resp = self.raw((10.0, self.request_timeout), query)
        try:
            body = json.loads(resp.data)
        finally:
            self.active = None
            resp.release_conn()
        if not isinstance(body, dict):
            raise WatchError(None, f"the {self.resource.plural} list is not a JSON object")
        return body

    def list(self, stop: threading.Event | None = None, problems: Callable[[str], None] | None = None,
             each: Callable[[Key, Obj], Any] | None = None,
             pace: Callable[[], None] | None = None) -> tuple[dict[Key, Obj], str]:
        """Every object (all pages), keyed, and the list's resourceVersion. A 410 on a continue restarts the list.

        `each` sees every kept object as its page arrives, so work on it overlaps waiting for the next page; what
        it returns, unless None, is kept in the object's place (so a page's JSON need not outlive the page).
        `pace` is called before each page."""
        for _ in range(3):
            try:
                return self._list_pages(stop, problems, each, pace)
            except ApiException as exc:
                if exc.status != 410:
                    raise
        return self._list_pages(stop, problems, each, pace)

    def _list_pages(self, stop: threading.Event | None, problems: Callable[[str], None] | None,
                    each: Callable[[Key, Obj], Any] | None,
                    pace: Callable[[], None] | None = None) -> tuple[dict[Key, Obj], str]:
        items: dict[Key, Obj] = {}
        rv = ""
        cont: str | None = None
        while True:
            if pace is not None:
                pace()
            body = self.page(cont)
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            rv = rv or str(meta.get("resourceVersion") or "")
            for obj in body.get("items") or []:
                key, err = object_key(self.resource, obj)
                err = err or _outside(self.namespace, key)
                if err:
                    if problems:
                        problems(f"a listed {self.resource.kind} was left out: {err}")
                    continue
                kept = each(key, obj) if each is not None else None
                items[key] = obj if kept is None else kept
            cont = meta.get("continue") or None
            if not cont or (stop is not None and stop.is_set()):
                return items, rv

    def watch(self, resource_version: str, timeout_seconds: int) -> urllib3.BaseHTTPResponse:
        return self.raw((10.0, timeout_seconds + 30.0), [
            ("allowWatchBookmarks", True), ("resourceVersion", resource_version),
            ("timeoutSeconds", timeout_seconds), ("watch", True)])

    def cut(self) -> None:
        """Unblock a thread reading the active response (from another thread): shut its socket down."""
        resp = self.active
        if resp is None:
            return
        try:
            conn = getattr(resp, "connection", None) or getattr(resp, "_connection", None)
            sock = getattr(conn, "sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass


def iter_lines(resp: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The watch stream's lines (one JSON event each) as they arrive, chunk by chunk."""
    buf = b""
    for chunk in resp.stream(amt=None):
        buf += chunk
        if b"\n" not in chunk:
            continue
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if buf.strip():
        yield buf


# -- the cache -----------------------------------------------------------------------------------------------------

BatchSink = Callable[[Batch], None]
StateSink = Callable[[ConnectionState], None]


class ListWatchCache:
    """Keeps one resource's objects current and tells a consumer what changed. See the module docstring."""

    def __init__(self, api_client: client.ApiClient, resource: Resource, namespace: str | None = None, *,
                 on_batch: BatchSink | None = None, on_state: StateSink | None = None,
                 label_selector: str | None = None, coalesce: float = 0.05,
                 backoff: Backoff | None = None, forbidden_retry: float = 30.0,
                 watch_timeout: tuple[int, int] = (300, 600), max_problems: int = 100,
                 clock: Clock = utc_now, connection: Connection | None = None,
                 pace: Callable[[], None] | None = None) -> None:
        self.resource = resource
        self.pace = pace  # called between the pages of a list: a background cache (the trace feed's) waits there
        self.namespace = namespace
        self.lister = Lister(api_client, resource, namespace, label_selector)
        self.on_batch = on_batch or (lambda batch: None)
        self.on_state = on_state or (lambda state: None)
        self.coalesce = coalesce
        self.backoff = backoff or Backoff()
        self.forbidden_retry = forbidden_retry
        self.watch_timeout = watch_timeout  # seconds, drawn at random per watch as client-go does
        self.resource_version = ""
        self._objects: dict[Key, Obj] = {}
        self._models: dict[Key, Any] = {}  # Resource.model of each object, when the resource has one
        self._pending_models: dict[Key, Any] = {}  # for the keys added or modified since the last batch
        self._pending = Pending()
        self._reset_pending = False
        self._new_problems: list[Problem] = []
        self.problems: deque[Problem] = deque(maxlen=max_problems)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._synced = threading.Event()
        self.clock = clock
        self.connection = connection  # names the server and user in error sentences
        self._state = ConnectionState.connecting(clock(), source=resource.plural)
        self.forbidden = False  # the last answer was 401/403: the header says so, retries are slow
        self._thread: threading.Thread | None = None
        self._last_flush = 0.0

    # -- reading, from any thread ----------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    def snapshot(self) -> dict[Key, Obj]:
        with self._cond:
            return dict(self._objects)

    # -- running -----------------------------------------------------------------------------------------------

    def start(self) -> "ListWatchCache":
        """Run in a daemon thread of its own (tests, one-shot use); a Textual worker calls run() instead."""
        self._thread = threading.Thread(target=self.run, name=f"cache-{self.resource.plural}", daemon=True)
        self._thread.start()
        return self

    def stop(self, join: float | None = 5.0) -> None:
        self._stop.set()
        self.lister.cut()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and join is not None and self._thread is not threading.current_thread():
            self._thread.join(join)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        self._publish(self._state)  # "connecting" until the first watch is answered
        flusher = threading.Thread(target=self._flush_loop, name=f"flush-{self.resource.plural}", daemon=True)
        flusher.start()
        try:
            self._loop()
        finally:
            self._stop.set()
            with self._cond:
                self._cond.notify_all()
            flusher.join(5.0)

    def _loop(self) -> None:
        need_list = True
        while not self.stopping:
            delay: float | None = None
            forbidden = False
            try:
                if need_list:
                    if self._synced.is_set():
                        self._set_state(Phase.CONNECTING)  # relisting after a 410 or a 403
                    self._relist()
                    need_list = False
                    if self.stopping:
                        break
                started = time.monotonic()
                got_events = self._watch()
                if got_events or time.monotonic() - started > 1:
                    self.backoff.reset()
                else:
                    delay = self.backoff.next()  # a server that ends every watch at once must not spin us
                    self._set_state(Phase.DISCONNECTED, f"the API server ends every {self.resource.plural} "
                                    "watch at once", delay)
            except Expired:
                need_list = True
            except ApiException as exc:
                if self.stopping:
                    break
                if exc.status == 410:
                    need_list = True
                    continue
                forbidden = exc.status in (401, 403)
                # Forbidden is not a crash loop: said once, retried slowly in case access is granted, then relisted.
                delay = self.forbidden_retry if forbidden else self.backoff.next()
                need_list = need_list or forbidden
                self._set_state(Phase.DISCONNECTED, self._explain(exc, "list" if need_list else "watch"), delay)
            except WatchError as exc:
                delay = self.backoff.next()
                self._set_state(Phase.DISCONNECTED, f"The {self.resource.plural} watch failed: {exc}; "
                                "svcscope reconnects by itself.", delay)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                # The watch resumes from resource_version; if that is too old the server answers 410 and the
                # relist then clears whatever changed while we were away.
                if self.stopping:
                    break
                delay = self.backoff.next()
                self._set_state(Phase.DISCONNECTED, self._explain(exc, "list" if need_list else "watch"), delay)
            except Exception as exc:  # noqa: BLE001 - a cache thread must never die: report and retry
                if self.stopping:
                    break
                self._problem(f"unexpected {type(exc).__name__} in the {self.resource.plural} cache: {exc}")
                delay = self.backoff.next()
                self._set_state(Phase.DISCONNECTED, f"the {self.resource.plural} cache failed: "
                                f"{type(exc).__name__}: {exc}", delay)
            self.forbidden = forbidden
            if delay is not None:
                self._stop.wait(delay)

    def _explain(self, exc: BaseException, verb: str) -> str:
        return explain_error(exc, self.connection, (verb, self.resource.plural, self.namespace))

    def _set_state(self, phase: Phase, error: str | None = None, retry_in: float | None = None) -> None:
        if self.stopping:
            return
        old = self._state
        if old.phase is phase and phase is not Phase.DISCONNECTED:
            return
        now = self.clock()
        if phase is Phase.DISCONNECTED:
            retry_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
            self._state = ConnectionState.disconnected(now, error=error or "the connection failed",
                                                       retry_at=retry_at, source=self.resource.plural)
        elif phase is Phase.CONNECTED:
            self._state = ConnectionState.connected(now, source=self.resource.plural)
        else:
            self._state = ConnectionState.connecting(now, source=self.resource.plural)
        self._publish(self._state)

    def _publish(self, state: ConnectionState) -> None:
        try:
            self.on_state(state)
        except Exception as exc:  # noqa: BLE001 - a consumer's bug must not stop the cache
            self._problem(f"the state consumer failed: {exc}")

    def _problem(self, message: str) -> None:
        problem = Problem(self.resource.plural, message)
        with self._cond:
            self.problems.append(problem)
            self._new_problems.append(problem)
            self._cond.notify_all()

    # -- list and watch ----------------------------------------------------------------------------------------

    def _relist(self) -> None:
        models: dict[Key, Any] = {}

        def each(key: Key, obj: Obj) -> Any:
            # Models are built page by page, while the server prepares the next; unchanged objects keep theirs.
            old = self._objects.get(key)  # only this thread replaces _objects
            if old is not None and key in self._models and _rv(old) == _rv(obj):
                model = models[key] = self._models[key]
            else:
                model = models[key] = self._build(obj)
            return None if self.resource.keep_json else model  # lean: the model stands for the object

        items, rv = self.lister.list(self._stop, self._problem, each if self.resource.model else None, self.pace)
        if self.stopping:
            return
        with self._cond:
            old = self._objects
            for key, obj in items.items():
                prev = old.get(key)
                if prev is None:
                    self._pending.put(ADDED, key, obj)
                elif _rv(prev) != _rv(obj):
                    self._pending.put(MODIFIED, key, obj)
            for key, obj in old.items():
                if key not in items:
                    self._pending.put(DELETED, key, obj)
            self._objects = items
            # a lean resource keeps its models as its objects: one dict (50,000 entries: 2.6 MB) serves both
            self._models = items if not self.resource.keep_json and items == models else models
            self.resource_version = rv
            self._reset_pending = True
            self._cond.notify_all()
        self._synced.set()
        self.backoff.reset()

    def _watch(self) -> bool:
        """One watch request; returns whether it delivered anything. Raises Expired on 410."""
        timeout = random.randint(*self.watch_timeout)
        resp = self.lister.watch(self.resource_version, timeout)
        self._set_state(Phase.CONNECTED)  # only once the server answered: no "connected" flicker between retries
        got = False
        try:
            for line in iter_lines(resp):
                if self.stopping:
                    break
                got = self._handle(line) or got
        finally:
            self.lister.active = None
            resp.release_conn()
        return got

    def _handle(self, line: bytes) -> bool:
        try:
            event = json.loads(line)
        except ValueError:
            self._problem(f"a {self.resource.kind} watch event was not JSON: {line[:120]!r}")
            return False
        if not isinstance(event, dict):
            self._problem(f"a {self.resource.kind} watch event was not a JSON object: {line[:120]!r}")
            return False
        kind, obj = event.get("type"), event.get("object")
        if kind == "BOOKMARK":
            rv = _rv(obj)
            if rv:
                self.resource_version = rv
            return True
        if kind == "ERROR":
            status = obj if isinstance(obj, dict) else {}
            code = status.get("code")
            message = str(status.get("message") or "the server ended the watch with an error")
            if code == 410:
                raise Expired(message)
            if code in (401, 403):
                raise ApiException(status=code, reason=message)
            raise WatchError(code if isinstance(code, int) else None, message)
        if kind not in (ADDED, MODIFIED, DELETED):
            self._problem(f"a {self.resource.kind} watch event has an unknown type {kind!r}; skipped")
            return False
        key, err = object_key(self.resource, obj)
        err = err or _outside(self.namespace, key)
        rv = _rv(obj)
        if err:
            self._problem(f"a {self.resource.kind} {kind} event was skipped: {err}")
            if rv:
                self.resource_version = rv
            return False
        model = self._build(obj) if kind != DELETED and self.resource.model else None
        with self._cond:
            if kind == DELETED:
                prev = self._objects.pop(key, None)
                self._models.pop(key, None)
                self._pending_models.pop(key, None)
                if prev is not None:
                    self._pending.put(DELETED, key, obj if self.resource.keep_json else prev)
            else:
                had = key in self._objects
                kept = obj if self.resource.keep_json or model is None else model
                self._objects[key] = kept
                if self.resource.model:
                    self._pending_models[key] = model
                    if self._models is not self._objects:  # shared by a lean resource: set just above
                        self._models[key] = model
                self._pending.put(MODIFIED if had else ADDED, key, kept)
            if rv:
                self.resource_version = rv
            self._cond.notify_all()
        return True

    def _build(self, obj: Obj) -> Any:
        try:
            return self.resource.model(obj) if self.resource.model else None
        except Exception as exc:  # noqa: BLE001 - the models are forgiving; if one is not, report, never crash
            self._problem(f"building the model of a {self.resource.kind} failed: {type(exc).__name__}: {exc}")
            return None

    # -- delivering ----------------------------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._reset_pending or self._new_problems) and not self.stopping:
                    self._cond.wait()
                if self.stopping:
                    return
                wait = self._last_flush + self.coalesce - time.monotonic()
                if wait > 0 and not self._reset_pending:
                    self._cond.wait(wait)
                    continue
                batch = self._take_batch()
            try:
                self.on_batch(batch)
            except Exception as exc:  # noqa: BLE001 - a consumer's bug must not stop the cache
                self.problems.append(Problem(self.resource.plural, f"the batch consumer failed: {exc}"))
            # Not kept while waiting for the next: a reset batch of 50,000 pods is three 50,000-entry dicts (8 MB).
            del batch

    def _take_batch(self) -> Batch:
        """The pending changes as a batch (under the lock)."""
        added, modified, deleted = self._pending.take()
        reset = self._reset_pending
        models = dict(self._models) if reset else self._pending_models
        snapshot = None
        if reset:  # a lean resource's objects are its models: one copy serves both
            snapshot = models if self._objects is self._models else dict(self._objects)
        batch = Batch(self.resource.plural, added, modified, deleted, reset, snapshot, self.resource_version,
                      tuple(self._new_problems), models)
        self._pending_models = {}
        self._reset_pending = False
        self._new_problems = []
        self._last_flush = time.monotonic()
        return batch


def _rv(obj: Any) -> str:
    if isinstance(obj, Mapping):
        meta = obj.get("metadata")
        if isinstance(meta, Mapping):
            rv = meta.get("resourceVersion")
            if isinstance(rv, str):
                return rv
        return ""
    rv = getattr(obj, "resource_version", "")  # a lean resource's model (Resource.keep_json)
    return rv if isinstance(rv, str) else ""
