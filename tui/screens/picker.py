"""A small modal picker (`:ns` and `:ctx` without a name): type to narrow the list, enter picks, esc cancels.

Free text is allowed, so a namespace the user may not list (narrow RBAC) can still be typed in full.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what the picker returns
    label: str  # what the list shows


class PickerScreen(ModalScreen[str | None]):
    BINDING_GROUP_TITLE = "Picker"
    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("down", "move(1)", "next", show=False, key_display="down"),
        Binding("up", "move(-1)", "previous", show=False, key_display="up"),
    ]
    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 60; max-width: 90%; height: auto; max-height: 80%;
        border: round $accent; border-title-color: $accent; background: $surface; padding: 0 1;
    }
    PickerScreen Input { border: none; height: 1; padding: 0; background: $boost; margin-bottom: 1; }
    PickerScreen OptionList { height: auto; max-height: 16; border: none; padding: 0; }
    PickerScreen .hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, choices: list[Choice], *, current: str | None = None, hint: str = "") -> None:
        super().__init__()
        self._title = title
        self._choices = choices
        self._current = current
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Input(placeholder="type to filter, or a name", id="filter", compact=True)
            yield OptionList(id="choices")
            yield Label(self._hint or "enter picks, esc cancels", classes="hint")

    def on_mount(self) -> None:
        self._show("")
        self.query_one("#filter", Input).focus()

    def _show(self, text: str) -> None:
        options = self.query_one("#choices", OptionList)
        options.clear_options()
        needle = text.strip().lower()
        shown = [c for c in self._choices if needle in c.value.lower() or needle in c.label.lower()]
        for choice in shown:
            mark = "* " if choice.value == self._current else "  "
            options.add_option(Option(mark + choice.label, id=choice.value))
        if shown:
            options.highlighted = next((i for i, c in enumerate(shown) if c.value == self._current), 0)

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._show(event.value)

    @on(Input.Submitted, "#filter")
    def _submit(self, event: Input.Submitted) -> None:
        options = self.query_one("#choices", OptionList)
        typed = event.value.strip()
        exact = next((c.value for c in self._choices if c.value == typed), None)
        if exact is not None:
            self.dismiss(exact)
        elif options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        else:
            self.dismiss(typed or None)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one("#choices", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)
