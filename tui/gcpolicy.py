"""The cyclic garbage collector while a full list loads.

Listing 10,000 Services and their EndpointSlices allocates well over a million containers (the decoded JSON and the
models), nearly all of them kept. With the default thresholds the collector keeps rescanning that growing heap:
on these machines it doubled the CPU time of decoding and modelling the lists (1.2-1.4 s instead of 0.7 s). While a
first list loads the collector runs rarely (`relax`); once it is in, what it brought is frozen (never rescanned; still
freed by reference counting) and the usual thresholds come back (`settle`). Relaxed thresholds still collect, only
less often, so a start-up that never settles does not leak.
"""

from __future__ import annotations

import gc

STARTUP_THRESHOLDS = (1_000_000, 50, 1000)  # measured: collections then cost 0.05 s of start-up, not 1-2 s
_saved: tuple[int, int, int] | None = None


def relax() -> None:
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        gc.set_threshold(*STARTUP_THRESHOLDS)


def settle() -> None:
    """Freeze what the first lists brought, and collect as usual from here on."""
    global _saved
    gc.freeze()
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
