"""How the app's link to the API server is doing: connected, connecting, or disconnected and retrying.

The watch caches (tui/kube/cache.py) own the truth: each cache publishes a `ConnectionState` whenever its link
changes (list started, watch established, connection dropped and the next retry scheduled). The UI never probes on
its own; it keeps the latest state per source, shows `combine(...)` of them in the header, and re-renders the
"retrying in Ns" countdown from `retry_at` once a second with its injected clock.

Times are timezone-aware UTC datetimes taken from an injected clock (`Clock`), so tests and snapshots never see
wall-clock values.

Publishing contract for a cache (no Textual here; the app wraps each state in a message):
    state = ConnectionState.connecting(now, source="services")
    state = ConnectionState.connected(now, source="services")
    state = ConnectionState.disconnected(now, error="one sentence", retry_at=now + backoff, source="services")
`error` is one sentence an admin can act on (tui.kube.client.explain_error builds it from an exception).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Callable, Iterable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; everything that shows time takes a Clock so tests can pass a fixed one."""
    return datetime.now(timezone.utc)


class Phase(str, Enum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"


# Worst first: combining several sources shows the most alarming one.
_SEVERITY = {Phase.DISCONNECTED: 2, Phase.CONNECTING: 1, Phase.CONNECTED: 0}


@dataclass(frozen=True, slots=True)
class ConnectionState:
    phase: Phase
    since: datetime  # when this phase began (last change time)
    error: str | None = None  # why we are disconnected, one sentence
    retry_at: datetime | None = None  # when the next attempt starts, while disconnected
    source: str = ""  # which cache reported it ("services", "endpointslices", ...); "" for the app's own probe

    @classmethod
    def connecting(cls, now: datetime, *, source: str = "") -> "ConnectionState":
        return cls(Phase.CONNECTING, now, source=source)

    @classmethod
    def connected(cls, now: datetime, *, source: str = "") -> "ConnectionState":
        return cls(Phase.CONNECTED, now, source=source)

    @classmethod
    def disconnected(
        cls, now: datetime, *, error: str, retry_at: datetime | None = None, source: str = ""
    ) -> "ConnectionState":
        return cls(Phase.DISCONNECTED, now, error=error, retry_at=retry_at, source=source)

    def retry_in(self, now: datetime) -> int | None:
        """Whole seconds until the next attempt, rounded up (never negative); None when no retry is scheduled."""
        if self.phase is not Phase.DISCONNECTED or self.retry_at is None:
            return None
        return max(0, math.ceil((self.retry_at - now).total_seconds()))

    def describe(self, now: datetime) -> str:
        """The header's words: "connected", "connecting", "disconnected, retrying in 4s", "disconnected, retrying"."""
        if self.phase is not Phase.DISCONNECTED:
            return self.phase.value
        seconds = self.retry_in(now)
        if seconds is None:
            return "disconnected"
        if seconds == 0:
            return "disconnected, retrying now"
        return f"disconnected, retrying in {seconds}s"

    def with_source(self, source: str) -> "ConnectionState":
        return replace(self, source=source)


def combine(states: Iterable[ConnectionState]) -> ConnectionState | None:
    """One state for the header from every source's latest: the worst phase wins; among equals, the oldest
    (the longest-standing trouble, and the earliest scheduled retry for the countdown)."""
    worst: ConnectionState | None = None
    for state in states:
        if worst is None:
            worst = state
            continue
        a, b = _SEVERITY[state.phase], _SEVERITY[worst.phase]
        if a > b or (a == b and _earlier(state, worst)):
            worst = state
    return worst


def _earlier(a: ConnectionState, b: ConnectionState) -> bool:
    if a.phase is Phase.DISCONNECTED and a.retry_at is not None and b.retry_at is not None:
        return a.retry_at < b.retry_at
    return a.since < b.since
