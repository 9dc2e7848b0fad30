"""Snapshots of the shell's screens at 80x24 and 160x48 (SVGs under snapshots/tui/test_snapshots/).

Sync tests, as snap_compare requires; the app is built by the same factory as the CLI with a fixed clock, so no
wall-clock value reaches an SVG. Update deliberately: `pytest tests/tui/test_snapshots.py --snapshot-update`,
then look at the SVGs.
"""

from __future__ import annotations

import pytest

from tui.widgets.command_line import JumpInput

SIZES = [(80, 24), (160, 48)]


async def _synced(pilot) -> None:
    """The main screen's panes have listed what the server holds (the live feed runs in threads)."""
    from tui.screens.main import MainScreen

    main = pilot.app.screen_stack[0]
    for _ in range(600):  # generous: DIAGNOSIS waits for the pods' first list too, on a loaded machine
        if not isinstance(main, MainScreen) or main.is_settled():  # DIAGNOSIS filled in too
            return
        await pilot.pause(0.05)


async def _settle(pilot) -> None:
    await _synced(pilot)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(demo=True), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(read_only=True), press=["question_mark"], terminal_size=size, run_before=_settle)


def test_command_line_completing_a_namespace(snap_compare, make_app):
    async def type_partial_namespace(pilot) -> None:
        app = pilot.app
        await _synced(pilot)
        for _ in range(200):  # the namespace list arrives from a worker
            if app.known_namespaces:
                break
            await pilot.pause(0.05)
        await pilot.press("colon")
        app.screen.query_one(JumpInput).cursor_blink = False
        await pilot.press(*"ns ku")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=type_partial_namespace)


def test_namespace_picker(snap_compare, make_app):
    async def open_picker(pilot) -> None:
        app = pilot.app
        await _synced(pilot)
        for _ in range(200):
            if app.known_namespaces:
                break
            await pilot.pause(0.05)
        await pilot.press("colon", *"ns", "enter")
        await pilot.pause()
        app.screen.query_one("#filter").cursor_blink = False
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_picker)
