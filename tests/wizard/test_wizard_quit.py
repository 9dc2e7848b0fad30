"""q in the wizard asks before quitting svcscope (it used to reach the app's quit and lose the form silently): in the
review and on a form field that does not take text; n keeps everything typed, y quits."""

from __future__ import annotations

from textual.widgets import Input, Select

from tests.wizard.pilot import open_wizard, port_field, tab_to, type_into, wait_until
from tui.screens.confirm import ConfirmScreen
from tui.screens.wizard import WizardScreen

SIZE = (80, 24)


async def fill(pilot, screen: WizardScreen) -> None:
    await type_into(pilot, "name", "kept")
    await type_into(pilot, "selector", "app=nginx-pod")
    await port_field(pilot, screen, 0, "port", "80")


async def test_q_in_the_review_asks_and_no_keeps_the_review(demo, make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await fill(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.mode == "review", "the review")
        await pilot.press("q")
        confirm = await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question")
        assert "is not created" in str(confirm.query_one("#question").content)
        assert app.is_running
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen, "back in the wizard")
        assert screen.mode == "review" and app.is_running
        await pilot.press("escape")  # back to the form: what was typed is still there
        await wait_until(pilot, lambda: screen.mode == "form", "the form")
        assert screen.query_one("#name", Input).value == "kept"


async def test_q_on_a_select_asks_and_yes_quits(demo, make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "gone")
        await tab_to(pilot, "kind")
        assert isinstance(app.focused, Select)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to quit")
    assert app.return_code == 0


async def test_q_typed_into_a_field_is_a_letter(demo, make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "q")
        assert screen.query_one("#name", Input).value == "q"
        assert app.screen is screen
