"""Fault injection for the simulated cluster: the failures a client of a real apiserver must survive.

Every knob is thread-safe and takes effect while the server runs, so a test can flip one between two requests:

    cluster.faults.drop_watches()                     # every open watch connection breaks now
    cluster.faults.drop_watches(after_events=2)       # ... after two more events each
    cluster.faults.expire_history()                   # any watch resume or list continue gets 410 Expired
    cluster.faults.delay(0.5)                         # every answer waits half a second (0 turns it off)
    cluster.faults.answer(503, "GET", "/api/v1/services*", times=2)   # fnmatch pattern on the path
    cluster.faults.answer(500, "GET", "*watch=true*")                 # a pattern with "?" or "=" sees the query
    cluster.faults.send_malformed("services", "spec-string", where="watch")
    cluster.faults.restart_server()                   # stop and start the HTTP server on the same port
    cluster.faults.clear()

`restart_server`, `stop_server` and `start_server` need the cluster; SimCluster wires them up.
"""

from __future__ import annotations

import copy
import fnmatch
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from tui.sim import errors
from tui.sim.store import Store

Obj = dict[str, Any]

# The shapes a malformed object can take; each turns a well-formed object into one that breaks naive clients.
MALFORMED_SHAPES: dict[str, Callable[[Obj], Obj]] = {
    "spec-string": lambda o: {**o, "spec": "this spec is a string"},
    "ports-not-list": lambda o: {**o, "spec": {**(o.get("spec") if isinstance(o.get("spec"), dict) else {}),
                                               "ports": {"port": "eighty"}}},
    "metadata-missing": lambda o: {k: v for k, v in o.items() if k != "metadata"} | {"metadata": None},
    "endpoints-not-list": lambda o: {**o, "endpoints": "none"},
}

_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "forbidden: the request was refused (injected fault)"),
    404: ("NotFound", "the server could not find the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Expired", "the resource version is too old"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", "Internal error occurred: injected fault"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
}


def status_error(code: int, message: str | None = None) -> errors.ApiError:
    reason, default = _REASONS.get(code, ("InternalError", f"injected HTTP {code}"))
    return errors.ApiError(code, reason, message or default)


class WatchHandle(Protocol):
    """What the server registers for each open watch, so that faults can break it from any thread."""

    def drop(self, after_events: int | None, abrupt: bool) -> None: ...


@dataclass
class _Answer:
    code: int
    method: str
    pattern: str
    remaining: int | None
    message: str | None


class Faults:
    def __init__(self, store: Store) -> None:
        self._lock = threading.Lock()
        self._store = store
        self._delay = 0.0
        self._answers: list[_Answer] = []
        self._malformed: list[tuple[str, str, str]] = []  # (plural, shape, where)
        self._watches: set[WatchHandle] = set()
        self._expired_listeners: list[Callable[[], None]] = []
        # Set by SimCluster: stop/start the HTTP server, keeping the store.
        self.on_stop_server: Callable[[], None] | None = None
        self.on_start_server: Callable[[], None] | None = None

    # -- knobs ----------------------------------------------------------------------------------------------

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, float(seconds))

    @property
    def delay_seconds(self) -> float:
        return self._delay

    def answer(self, code: int, method: str = "*", path: str = "*", times: int | None = None,
               message: str | None = None) -> None:
        """Answer `code` (with the apiserver's Status) to requests whose method and path match, `times` times."""
        with self._lock:
            self._answers.append(_Answer(code, method.upper(), path, times, message))

    def drop_watches(self, after_events: int | None = None, abrupt: bool = True) -> int:
        """Break every open watch now, or after `after_events` more events on each. Returns how many were open.

        `abrupt` resets the connection mid-stream (a broken chunked response, as when a proxy dies); otherwise
        the stream ends cleanly as when the apiserver closes a watch.
        """
        with self._lock:
            watches = list(self._watches)
        for w in watches:
            w.drop(after_events, abrupt)
        return len(watches)

    def expire_history(self) -> None:
        """As an etcd compaction: watches resuming from any current resourceVersion and list continues get 410."""
        self._store.expire_history()
        for listener in list(self._expired_listeners):
            listener()

    def send_malformed(self, plural: str = "services", shape: str = "spec-string", where: str = "watch") -> None:
        """The next watch event (where="watch") or list answer (where="list") of `plural` carries one object
        malformed in `shape` (see MALFORMED_SHAPES); where="both" arms both."""
        if shape not in MALFORMED_SHAPES:
            raise ValueError(f"unknown malformed shape {shape!r}: choose one of {', '.join(MALFORMED_SHAPES)}")
        if where not in ("watch", "list", "both"):
            raise ValueError("where must be 'watch', 'list' or 'both'")
        with self._lock:
            for w in (("watch", "list") if where == "both" else (where,)):
                self._malformed.append((plural, shape, w))

    def stop_server(self) -> None:
        if self.on_stop_server is None:
            raise RuntimeError("stop_server needs a running SimCluster")
        self.on_stop_server()

    def start_server(self) -> None:
        if self.on_start_server is None:
            raise RuntimeError("start_server needs a SimCluster")
        self.on_start_server()

    def restart_server(self) -> None:
        self.stop_server()
        self.start_server()

    def clear(self) -> None:
        with self._lock:
            self._delay = 0.0
            self._answers.clear()
            self._malformed.clear()

    # -- used by the server ---------------------------------------------------------------------------------

    def match_answer(self, method: str, path: str, path_qs: str | None = None) -> errors.ApiError | None:
        with self._lock:
            for a in self._answers:
                target = path_qs if path_qs is not None and ("?" in a.pattern or "=" in a.pattern) else path
                if a.method in ("*", method) and fnmatch.fnmatchcase(target, a.pattern):
                    if a.remaining is not None:
                        a.remaining -= 1
                        if a.remaining <= 0:
                            self._answers.remove(a)
                    return status_error(a.code, a.message)
        return None

    def take_malformed(self, plural: str, where: str) -> str | None:
        with self._lock:
            for i, (p, shape, w) in enumerate(self._malformed):
                if p == plural and w == where:
                    del self._malformed[i]
                    return shape
        return None

    @staticmethod
    def malform(obj: Obj, shape: str) -> Obj:
        return MALFORMED_SHAPES[shape](copy.deepcopy(dict(obj)))

    def register_watch(self, handle: WatchHandle) -> Callable[[], None]:
        with self._lock:
            self._watches.add(handle)

        def unregister() -> None:
            with self._lock:
                self._watches.discard(handle)

        return unregister

    @property
    def open_watches(self) -> int:
        with self._lock:
            return len(self._watches)

    def on_expire(self, listener: Callable[[], None]) -> None:
        self._expired_listeners.append(listener)
