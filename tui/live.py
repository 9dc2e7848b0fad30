"""The live feed: the list+watch caches of the scope shown, run in thread workers, their batches posted as messages.

One direction of data (design.md): each tui.kube.cache.ListWatchCache runs in a Textual thread worker of the
screen that shows it and never touches a widget; its flusher thread posts `LiveBatch` and `LiveState` messages
to that screen, whose handlers own the ClusterState and feed the panes. A scope change (`:ns`, `:ctx`, ctrl+r)
stops every cache (their sockets are cut, the threads end within moments) and starts fresh ones under a new
identity, so a batch still in flight from the old scope is recognised and dropped: nothing stale reaches a pane.

Services and EndpointSlices are watched for the whole scope. Pods are watched only for the selected Service when it
has no endpoint (label selector = its selector), to say why the EndpointSlices pane is empty: 50,000 pods of a big
cluster would cost more memory than everything else together, and the answer is needed for one Service at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from tui.kube.cache import ENDPOINTSLICES, PODS, SERVICES, Backoff, Batch, ListWatchCache, Resource
from tui.kube.client import Connection
from tui.kube.connection import Clock, ConnectionState, utc_now
from tui.kube.prefetch import Prefetch

Key = tuple[str, str]


class LiveBatch(Message):
    """A cache's change batch (tui.kube.cache.Batch); `cache` tells the receiver whether it is still current."""

    def __init__(self, cache: ListWatchCache, batch: Batch) -> None:
        super().__init__()
        self.cache = cache
        self.batch = batch


class LiveState(Message):
    """A cache's link changed (connecting, connected, disconnected with a sentence)."""

    def __init__(self, cache: ListWatchCache, state: ConnectionState) -> None:
        super().__init__()
        self.cache = cache
        self.state = state


@dataclass(frozen=True)
class PodWatch:
    """Which pods the pod cache follows: the selected Service's namespace and selector."""

    service: Key
    selector: str


class LiveFeed:
    """Starts, restarts and stops the caches of one screen. Call from the UI thread only."""

    def __init__(self, target: MessagePump, *, header: Callable[[ConnectionState], None] | None = None,
                 clock: Clock = utc_now, coalesce: float = 0.05,
                 backoff: Callable[[], Backoff] = Backoff, prefetch: Prefetch | None = None) -> None:
        self.target = target
        self.prefetch = prefetch  # the CLI's caches, started before the app: adopted by the first start()
        self.header = header or (lambda state: None)  # the app's connection state (the header)
        self.clock = clock
        self.coalesce = coalesce
        self.backoff = backoff
        self.scope_caches: list[ListWatchCache] = []
        self.pod_cache: ListWatchCache | None = None
        self.pod_watch: PodWatch | None = None
        self.connection: Connection | None = None

    # -- the scope ---------------------------------------------------------------------------------------------

    def start(self, connection: Connection) -> None:
        """Watch Services and EndpointSlices of the connection's scope; anything running before is stopped."""
        self.stop()
        self.connection = connection
        prefetch, self.prefetch = self.prefetch, None
        if prefetch is not None and prefetch.serves(connection):
            self.scope_caches = prefetch.adopt(partial(self._deliver, True))
            return
        if prefetch is not None:
            prefetch.stop()
        namespace = None if connection.all_namespaces else connection.namespace
        for resource in (SERVICES, ENDPOINTSLICES):
            self.scope_caches.append(self._start(resource, namespace, None, header=True))

    def stop(self) -> None:
        for cache in self.scope_caches:
            cache.stop(join=None)
        self.scope_caches = []
        self.watch_pods(None)

    def is_current(self, cache: ListWatchCache) -> bool:
        return cache in self.scope_caches or cache is self.pod_cache

    # -- the selected Service's pods ----------------------------------------------------------------------------

    def watch_pods(self, watch: PodWatch | None) -> bool:
        """Follow these pods (None: none). Returns whether a new pod cache was started."""
        if watch == self.pod_watch and (watch is None or self.pod_cache is not None):
            return False
        if self.pod_cache is not None:
            self.pod_cache.stop(join=None)
        self.pod_cache, self.pod_watch = None, watch
        if watch is None or self.connection is None:
            return False
        self.pod_cache = self._start(PODS, watch.service[0], watch.selector, header=False)
        return True

    # -- running -----------------------------------------------------------------------------------------------

    def _deliver(self, header: bool, cache: ListWatchCache, item: Batch | ConnectionState) -> None:
        """A cache's batch or state, as a message to the target (from the cache's threads)."""
        if isinstance(item, Batch):
            self.target.post_message(LiveBatch(cache, item))
        elif not cache.stopping:
            self.target.post_message(LiveState(cache, item))
            if header:  # the pods of one Service are not "the connection": a 403 on pods must not alarm the header
                self.header(item)

    def _start(self, resource: Resource, namespace: str | None, selector: str | None,
               header: bool) -> ListWatchCache:
        assert self.connection is not None
        target = self.target
        cache = ListWatchCache(self.connection.api_client, resource, namespace, label_selector=selector,
                               coalesce=self.coalesce, backoff=self.backoff(), clock=self.clock,
                               connection=self.connection)
        cache.on_batch = cache.on_state = partial(self._deliver, header, cache)
        target.run_worker(cache.run, name=f"live-{resource.plural}", group="live", thread=True,
                          exit_on_error=False)
        return cache
