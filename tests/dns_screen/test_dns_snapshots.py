"""The DNS screen at 80x24 after `:dig` of the demo's headless Service (SVG under snapshots/dns_screen/).

The answer comes from the demo's DNS over real UDP; the two fields of dig's text that change from run to run, the
message id, the query time, the demo's loopback port and the record order, are fixed after the real query (the screen's `ask` hook), and the screen prints
no `;; WHEN:` line, its status line tells the time by the app's fixed clock. Update deliberately:
`pytest tests/dns_screen/test_dns_snapshots.py --snapshot-update`, then look at the SVG.
"""

from __future__ import annotations

import dataclasses

from textual.widgets import Input

from tui.dns.probe import DigResult, probe
from tui.screens.dns import DnsScreen


def steady_probe(*args, **kwargs):
    outcome = probe(*args, **kwargs)
    if isinstance(outcome, DigResult):
        server = dataclasses.replace(outcome.server, port=53)  # the demo's loopback port differs each run
        answer = tuple(sorted(outcome.answer, key=lambda r: (r.name, r.rdtype, r.rdata)))  # the sim shuffles
        return dataclasses.replace(outcome, id=4242, query_ms=1.0, server=server, answer=answer)
    return outcome


def test_dns_screen_headless_service(snap_compare, make_dns_app, monkeypatch):
    monkeypatch.setattr(DnsScreen, "ask", staticmethod(steady_probe))

    async def dig_headless(pilot) -> None:
        await pilot.press("colon", *"dig svc/service-headliness", "enter")
        for _ in range(400):
            screen = pilot.app.screen
            if isinstance(screen, DnsScreen) and screen.verdict is not None:
                break
            await pilot.pause(0.05)
        screen = pilot.app.screen
        assert isinstance(screen, DnsScreen) and screen.verdict is not None and screen.verdict.state == "OK"
        screen.query_one("#dns-name", Input).cursor_blink = False
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(make_dns_app(), terminal_size=(80, 24), run_before=dig_headless)
