"""The probe screen at 80x24 after `:probe 127.0.0.42:8080 -c 6 --http` against a real loopback HTTP listener
(SVG under snapshots/probe_screen/). Nothing IPVS is in front of it, so the screen says the connection table is
unavailable (the table is read from /nonexistent/proc, the same on every machine); the probe's timer is a fixed
step so each connection shows 1.5 ms. Update deliberately:
`pytest tests/probe_screen/test_probe_snapshots.py --snapshot-update`, then look at the SVG.
"""

from __future__ import annotations

import itertools

from tui.screens.probe import ProbeScreen
from tui.ipvs.conntable import read_conn_table


def test_probe_screen_loopback_http(snap_compare, make_probe_app, listener, monkeypatch):
    ticks = itertools.count()
    monkeypatch.setattr(ProbeScreen, "conn_table", staticmethod(lambda: read_conn_table("/nonexistent/proc")))
    monkeypatch.setattr(ProbeScreen, "clock", staticmethod(lambda: next(ticks) * 0.0015))

    async def run_probe(pilot) -> None:
        await pilot.press("colon", *f"probe {listener[0]}:{listener[1]} -c 6 --http", "enter")
        for _ in range(400):
            screen = pilot.app.screen
            if isinstance(screen, ProbeScreen) and (screen.result is not None or screen.error):
                break
            await pilot.pause(0.05)
        screen = pilot.app.screen
        assert isinstance(screen, ProbeScreen) and screen.result is not None and screen.result.succeeded == 6
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(make_probe_app(), terminal_size=(80, 24), run_before=run_probe)
