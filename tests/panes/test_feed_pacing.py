"""The trace feed's background work (50,000 pods listed, 10,000 Services diagnosed) steps aside while the user types
or scrolls, so a key repaints promptly (bench/pane_burst.py); the app notes each key for it."""

from __future__ import annotations

import time

from tests.panes.conftest import SIZE, synced
from tui.trace_feed import MAX_YIELD, TraceFeed


def test_the_feed_waits_while_the_user_types_and_not_otherwise():
    typing = TraceFeed(None, None, since_input=lambda: 0.0)  # type: ignore[arg-type]
    idle = TraceFeed(None, None, since_input=lambda: 60.0)  # type: ignore[arg-type]
    try:
        started = time.monotonic()
        typing._yield_to_user()
        assert time.monotonic() - started >= MAX_YIELD * 0.9  # waited, but not forever: at most MAX_YIELD a step
        started = time.monotonic()
        idle._yield_to_user()
        assert time.monotonic() - started < MAX_YIELD
    finally:
        typing.stop()
        idle.stop()


async def test_a_key_press_is_noted_for_the_background_work(kube, app_for):
    kube.service("web")
    kube.service("api")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        assert app.since_input() > 60  # no key yet
        await pilot.press("down")
        assert app.since_input() < 60
