"""Driving the wizard from the keyboard, as a user does: tab to a field, type, pick from a Select with the arrows."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Select, Static

from tui.kube.service_spec import KINDS
from tui.screens.main import MainScreen
from tui.screens.wizard import WizardScreen


async def wait_until(pilot, predicate, what: str, attempts: int = 600):
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def open_wizard(pilot, how: str = "c") -> WizardScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.is_synced(), "the panes")
    if how == "c":
        await pilot.press("c")
    else:
        await pilot.press("colon", *how, "enter")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen, "the wizard")
    await wait_until(pilot, lambda: screen._pods_listed and screen._svc_cache is not None and screen._svc_cache.synced,
                     "the wizard's pods and Services")
    await pilot.pause()
    return screen


async def tab_to(pilot, wid: str, attempts: int = 60) -> None:
    """Press tab until the widget with this id has the focus (the keyboard's way through the form)."""
    for _ in range(attempts):
        focused = pilot.app.focused
        if focused is not None and focused.id == wid:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{wid} (focus on {pilot.app.focused})")


async def type_into(pilot, wid: str, text: str) -> None:
    await tab_to(pilot, wid)
    await pilot.press("ctrl+a", "ctrl+k")  # home, delete to the end: the field is empty
    if text:
        await pilot.press(*text)
    await pilot.pause()


async def choose(pilot, wid: str, value: str) -> None:
    """A Select: enter opens it, arrows move, enter picks."""
    await tab_to(pilot, wid)
    select = pilot.app.focused
    assert isinstance(select, Select)
    options = [v for _, v in select._options if v is not Select.NULL]  # noqa: SLF001 - the order shown
    steps = options.index(value) - options.index(select.value)
    await pilot.press("enter")
    await pilot.pause()
    for _ in range(abs(steps)):
        await pilot.press("down" if steps > 0 else "up")
    await pilot.press("enter")
    await pilot.pause()
    assert select.value == value


async def choose_kind(pilot, kind: str) -> None:
    assert kind in KINDS
    await choose(pilot, "kind", kind)


async def toggle(pilot, wid: str) -> None:
    await tab_to(pilot, wid)
    assert isinstance(pilot.app.focused, Checkbox)
    await pilot.press("space")
    await pilot.pause()


async def port_field(pilot, screen: WizardScreen, index: int, part: str, text: str) -> None:
    row = screen.port_rows[index]
    await type_into(pilot, f"p{row.uid}-{part}", text)


def error_text(screen: WizardScreen, fid: str) -> str:
    widget = screen.query_one(f"#err-{fid}", Static)
    return str(widget.content) if widget.display else ""


def steady(screen: WizardScreen) -> None:
    """No blinking cursors in snapshots."""
    for box in screen.query(Input):
        box.cursor_blink = False
