"""Small keyboard dialogs: a yes/no confirmation that names what it will do, and a one-line prompt.

`y` or enter on "yes" confirms, `n` or esc declines; the default focus is on "no", so a stray enter never deletes.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDING_GROUP_TITLE = "Confirm"
    BINDINGS = [
        Binding("escape,n", "answer(False)", "no", key_display="n/esc"),
        Binding("y", "answer(True)", "yes"),
        Binding("left,right", "app.focus_next", "", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 95%; height: auto; border: round $error; border-title-color: $error;
        background: $surface; padding: 0 1;
    }
    ConfirmScreen #question { margin: 1 0; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, title: str, question: str, yes: str = "Delete") -> None:
        super().__init__()
        self._title, self._question, self._yes = title, question, yes

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Static(self._question, id="question", markup=False)
            with Horizontal():
                yield Button(f"{self._yes} (y)", id="yes", variant="error", compact=True)
                yield Button("Cancel (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """One line of text (a file name): enter returns it, esc cancels."""

    BINDING_GROUP_TITLE = "Prompt"
    BINDINGS = [Binding("escape", "cancel", "cancel", key_display="esc")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 70; max-width: 95%; height: auto; border: round $accent; border-title-color: $accent;
        background: $surface; padding: 0 1;
    }
    PromptScreen Input { margin: 1 0 0 0; background: $boost; }
    PromptScreen .hint { color: $text-muted; }
    """

    def __init__(self, title: str, value: str = "", hint: str = "enter saves, esc cancels") -> None:
        super().__init__()
        self._title, self._value, self._hint = title, value, hint

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Input(self._value, id="prompt", compact=True, select_on_focus=False)
            yield Label(self._hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
