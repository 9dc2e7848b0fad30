"""The ConnectionState model the watch caches publish and the header renders."""

from datetime import datetime, timedelta, timezone

from tui.kube.connection import ConnectionState, Phase, combine

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_describe_each_phase_and_the_countdown():
    assert ConnectionState.connected(T0).describe(T0) == "connected"
    assert ConnectionState.connecting(T0).describe(T0) == "connecting"
    down = ConnectionState.disconnected(T0, error="the server went away.", retry_at=T0 + timedelta(seconds=4))
    assert down.describe(T0) == "disconnected, retrying in 4s"
    # a fraction of a second left still reads as 1s, never "0s"
    assert down.describe(T0 + timedelta(seconds=3, milliseconds=100)) == "disconnected, retrying in 1s"
    assert down.describe(T0 + timedelta(seconds=9)) == "disconnected, retrying now"
    assert ConnectionState.disconnected(T0, error="x").describe(T0) == "disconnected"


def test_retry_in_only_while_disconnected():
    assert ConnectionState.connected(T0).retry_in(T0) is None
    down = ConnectionState.disconnected(T0, error="x", retry_at=T0 + timedelta(seconds=2.5))
    assert down.retry_in(T0) == 3
    assert down.retry_in(T0 + timedelta(seconds=10)) == 0


def test_combine_shows_the_worst_source():
    ok = ConnectionState.connected(T0, source="services")
    syncing = ConnectionState.connecting(T0, source="endpointslices")
    down_late = ConnectionState.disconnected(
        T0 + timedelta(seconds=5), error="b", retry_at=T0 + timedelta(seconds=9), source="pods"
    )
    down_early = ConnectionState.disconnected(T0, error="a", retry_at=T0 + timedelta(seconds=4), source="services")
    assert combine([]) is None
    assert combine([ok]) is ok
    assert combine([ok, syncing]).phase is Phase.CONNECTING
    assert combine([ok, down_late, syncing]) is down_late
    # two sources down: the countdown shown is the first retry to come
    assert combine([down_late, ok, down_early]) is down_early
