"""The probe screen driven like a user: `:probe ADDR:PORT` against a real loopback listener (no IPVS in front of
it: the screen must say the connection table is unavailable), refused connections, `p` on a Service of the demo
cluster (nothing real to probe, said so), bad arguments, and switching to HTTP."""

from __future__ import annotations

from tui.screens.main import MainScreen
from tui.screens.probe import ProbeScreen, parse_args
from tui.ipvs.conntable import read_conn_table
from tui.trace.probe_setup import DEMO_SENTENCE
from tui.widgets.fast_table import FastTable

SIZE = (80, 24)


async def wait_until(pilot, predicate, what: str, attempts: int = 600):
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def probe_screen(pilot, command: str) -> ProbeScreen:
    await pilot.press("colon", *command, "enter")
    screen = await wait_until(pilot, lambda: isinstance(pilot.app.screen, ProbeScreen) and pilot.app.screen,
                              "the probe screen")
    await wait_until(pilot, lambda: screen.result is not None or screen.error, "the probe to end")
    return screen


def cells(screen: ProbeScreen, table: str) -> list[tuple[str, ...]]:
    t = screen.query_one(f"#{table}", FastTable)
    return [t.row(k).cells for k in t.visible_keys()]


def test_parse_args():
    assert parse_args("web") == ("web", 10, False)
    assert parse_args("dev/web -c 25 --http") == ("dev/web", 25, True)
    assert parse_args("--http 10.0.0.1:80") == ("10.0.0.1:80", 10, True)


async def test_probe_of_a_loopback_listener_lists_each_answer_and_says_ipvs_is_not_there(
        make_probe_app, listener, tmp_path, monkeypatch):
    monkeypatch.setattr(ProbeScreen, "conn_table", staticmethod(lambda: read_conn_table(str(tmp_path))))
    app = make_probe_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await probe_screen(pilot, f"probe {listener[0]}:{listener[1]} -c 4 --http")
        rows = cells(screen, "probe-attempts")
        assert [r[0] for r in rows] == ["1", "2", "3", "4"]
        assert all(r[1] == "?" and r[4] == "pc-deployment-7d7dd5499b-9qnr7" for r in rows)
        assert cells(screen, "probe-shares") == []
        shares = screen.query_one("#probe-shares", FastTable)
        assert shares.empty_text.startswith("There is no IPVS connection table here")
        assert shares.empty_level == "warning"
        assert screen.result is not None and screen.result.verdict.level == "info"
        assert screen.status.startswith(f"{listener[0]}:{listener[1]}: 4/4 x HTTP GET /, mean ")
        assert screen.status.endswith("; no IPVS entry.")
        # h switches to plain TCP connects and probes again
        screen.result = None
        await pilot.press("h")
        await wait_until(pilot, lambda: screen.result is not None, "the TCP probe")
        assert not screen.http and all(r[4] == "connected" for r in cells(screen, "probe-attempts"))


async def test_refused_connections_are_rows_in_error(make_probe_app, closed_port):
    app = make_probe_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await probe_screen(pilot, f"probe 127.0.0.1:{closed_port} -c 2")
        rows = cells(screen, "probe-attempts")
        assert len(rows) == 2 and all(r[4].startswith("connection refused: nothing accepts") for r in rows)
        table = screen.query_one("#probe-attempts", FastTable)
        assert all(table.row(k).level == "error" for k in table.visible_keys())
        assert screen.result.verdict.level == "error"


async def test_p_on_a_demo_service_says_there_is_nothing_real_to_probe(make_probe_app):
    app = make_probe_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await wait_until(pilot, lambda: main.is_synced() and main.selected, "the Services pane")
        ns, name = main.selected
        await pilot.press("p")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, ProbeScreen) and app.screen, "the screen")
        await wait_until(pilot, lambda: screen.error, "the refusal")
        assert screen.target_text == f"{ns}/{name}"
        assert screen.error == DEMO_SENTENCE[:1].upper() + DEMO_SENTENCE[1:] + "."
        assert screen.status == f"Cannot probe {ns}/{name}."
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "back on the main screen")


async def test_probe_completes_service_names(make_probe_app):
    app = make_probe_app()
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await wait_until(pilot, lambda: main.is_synced() and main.selected, "the Services pane")
        assert app.registry.completions("probe service-n", app) == ["probe service-nodeport"]
        assert "probe service-clusterip" in app.registry.completions("probe ", app)


async def test_an_unknown_service_outside_the_demo_is_named(make_probe_app):
    app = make_probe_app(demo_mode=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await probe_screen(pilot, "probe no-such-svc")
        assert screen.error == "No Service named no-such-svc in namespace dev."


async def test_a_bad_count_is_a_notification_not_a_screen(make_probe_app):
    app = make_probe_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"probe web -c 0", "enter")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ProbeScreen)
        assert any("count must be a number from 1 to 1000" in n.message for n in app._notifications)
