"""The controllers that keep the simulated cluster's derived objects current.

Interface (SimCluster calls these; owned by the sim-semantics work):
    Controllers(store, clock=...)     subscribes to the store on start
    .start(loop)                      reconcile on the sim's asyncio loop whenever a watched object changes
    .sync()                           reconcile everything now, synchronously (after a scenario load, in tests)
    .stop()
"""

from __future__ import annotations

import asyncio

from tui.sim.store import Store


class Controllers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        pass  # placeholder until the EndpointSlice, Deployment and DaemonSet controllers land

    def sync(self) -> None:
        pass

    def stop(self) -> None:
        pass
