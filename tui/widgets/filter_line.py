"""The `/` filter line (k9s): filters the pane that opened it as you type; enter keeps the filter, esc puts back the
one there was. Forms: `text`, `!text` (inverted), `-l key=value` (labels); see tui.widgets.pane.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label

from tui.widgets.pane import FilterError, LivePane


class FilterInput(Input):
    BINDING_GROUP_TITLE = "Filter line"
    BINDINGS = [Binding("escape", "cancel", "cancel the filter", show=False, key_display="esc")]

    def action_cancel(self) -> None:
        self.query_ancestor(FilterLine).cancel()


class FilterLine(Horizontal):
    DEFAULT_CSS = """
    FilterLine {
        height: 1;
        display: none;
        background: $boost;
        &.-open { display: block; }
        & > Label#prompt { width: 1; color: $accent; text-style: bold; }
        & > FilterInput { width: 1fr; border: none; height: 1; padding: 0; background: $boost; }
        & > Label#problem { width: auto; max-width: 60%; color: $text-error; padding: 0 1; }
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.pane: LivePane | None = None
        self._before = ""

    def compose(self) -> ComposeResult:
        yield Label("/", id="prompt")
        yield FilterInput(placeholder="text, !text to invert, -l key=value for labels", compact=True,
                          select_on_focus=False)
        yield Label("", id="problem")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, pane: LivePane) -> None:
        self.pane = pane
        self._before = pane.filter_text
        field = self.query_one(FilterInput)
        with field.prevent(Input.Changed):
            field.value = self._before
        field.cursor_position = len(self._before)
        self._say("")
        self.add_class("-open")
        field.focus()

    def _say(self, problem: str) -> None:
        self.query_one("#problem", Label).update(problem)

    def _apply(self, text: str) -> str | None:
        if self.pane is None:
            return None
        try:
            self.pane.apply_filter(text)
        except FilterError as exc:
            return str(exc)
        return None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        problem = self._apply(event.value)
        self._say(problem or "")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self._apply(event.value)
        if problem:
            self._say(problem)
            self.app.notify(problem, title="Filter", severity="error")
            return
        self._close()

    def cancel(self) -> None:
        self._apply(self._before)
        self._close()

    def _close(self) -> None:
        self.remove_class("-open")
        pane, self.pane = self.pane, None
        if pane is not None and pane.is_attached:
            pane.focus()

    @on(Input.Blurred)
    def _blurred(self, event: Input.Blurred) -> None:
        if self.is_open:  # focus went elsewhere (a click, a screen change): keep what is applied
            self.remove_class("-open")
            self.pane = None
