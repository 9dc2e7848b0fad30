"""The scope's first lists, started before the UI exists.

Start-up is import-bound (Textual, the app and its screens: 0.4-0.6 s on these machines) and list-bound (10,000
Services and their EndpointSlices: 1-2 s); neither needs to wait for the other. `Prefetch` starts the list+watch
caches of the scope as soon as the connection has passed its start-up probe, in threads of their own, and holds
what they deliver until the live feed (tui.live.LiveFeed) adopts them: the feed then gets the held batches and
states in order, and everything after as it happens, as from caches it had started itself. Caches no feed adopts
(another scope was chosen, the app failed to start) are stopped by `stop()`.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Callable, Union

from tui.kube.cache import ENDPOINTSLICES, SERVICES, Batch, ListWatchCache, Resource
from tui.kube.client import Connection
from tui.kube.connection import ConnectionState

Delivery = Union[Batch, ConnectionState]
Sink = Callable[[ListWatchCache, Delivery], None]


class Prefetch:
    def __init__(self, connection: Connection, resources: tuple[Resource, ...] = (SERVICES, ENDPOINTSLICES),
                 coalesce: float = 0.05) -> None:
        self.connection = connection
        self.namespace = None if connection.all_namespaces else connection.namespace
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._held: list[tuple[ListWatchCache, Delivery]] = []
        self.caches: list[ListWatchCache] = []
        for resource in resources:
            cache = ListWatchCache(connection.api_client, resource, self.namespace, coalesce=coalesce,
                                   connection=connection)
            cache.on_batch = cache.on_state = partial(self._deliver, cache)
            self.caches.append(cache)

    def start(self) -> "Prefetch":
        for cache in self.caches:
            cache.start()
        return self

    def serves(self, connection: Connection) -> bool:
        """Whether these caches list what `connection` shows (the same client, namespace and scope)."""
        return (connection is self.connection and self._sink is None
                and not any(cache.stopping for cache in self.caches))

    def adopt(self, sink: Sink) -> list[ListWatchCache]:
        """Hand what was delivered so far, then everything after, to `sink(cache, batch or state)`."""
        with self._lock:  # a delivery arriving meanwhile waits, then goes straight to the sink: order is kept
            for cache, item in self._held:
                sink(cache, item)
            self._held.clear()
            self._sink = sink
        return list(self.caches)

    def stop(self) -> None:
        for cache in self.caches:
            cache.stop(join=None)

    def _deliver(self, cache: ListWatchCache, item: Delivery) -> None:
        with self._lock:
            sink = self._sink
            if sink is None:
                self._held.append((cache, item))
                return
        sink(cache, item)
