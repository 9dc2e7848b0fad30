"""The `:` command line (k9s): type a jump command, tab or right-arrow completes, enter runs, esc closes.

The widget only edits text and completes from the jump registry; running the command is the app's business
(it receives `CommandLine.Submitted`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input, Label

from tui.jump import JUMPS, JumpRegistry

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

HISTORY_LIMIT = 50


class JumpSuggester(Suggester):
    """Completes command words, then their arguments (namespaces, contexts) from the live app."""

    def __init__(self, registry: JumpRegistry, app: "SvcscopeApp") -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._registry = registry
        self._app = app

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        choices = self._registry.completions(value, self._app)
        return choices[0] if choices else None


class JumpInput(Input):
    BINDING_GROUP_TITLE = "Command line"
    BINDINGS = [
        Binding("tab", "complete", "complete (also right arrow)", show=False),
        Binding("escape", "close", "close", show=False),
        Binding("up", "history(-1)", "previous command", show=False, key_display="up"),
        Binding("down", "history(1)", "next command", show=False, key_display="down"),
    ]

    _cycle: list[str] = []

    def action_complete(self) -> None:
        """Complete to the first candidate; tab again steps through the others (kube-node-lease, kube-public, ...)."""
        if self.value in self._cycle:
            choices = self._cycle
            choice = choices[(choices.index(self.value) + 1) % len(choices)]
        else:
            line = self.parent_line
            choices = line.registry.completions(self.value, self.app)  # type: ignore[arg-type]
            if not choices:
                return
            choice = choices[0]
        self._cycle = choices
        self.value = choice
        self.cursor_position = len(choice)

    def action_close(self) -> None:
        self.parent_line.close()

    def action_history(self, step: int) -> None:
        self.parent_line.recall(step)

    @property
    def parent_line(self) -> "CommandLine":
        return self.query_ancestor(CommandLine)


class CommandLine(Horizontal):
    DEFAULT_CSS = """
    CommandLine {
        height: 1;
        display: none;
        background: $boost;
        &.-open { display: block; }
        & > Label { width: 1; color: $accent; text-style: bold; }
        & > JumpInput { width: 1fr; border: none; height: 1; padding: 0; background: $boost; }
    }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, registry: JumpRegistry = JUMPS, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._registry = registry
        self._history: list[str] = []
        self._recall_at = 0
        self._return_focus: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Label(":")
        yield JumpInput(
            placeholder="svc, ep, ns NAME, ctx NAME, ipvs, dig NAME, proxy, trace NAME, help, quit",
            suggester=JumpSuggester(self._registry, self.app),  # type: ignore[arg-type]
            compact=True,
            select_on_focus=False,
        )

    @property
    def registry(self) -> JumpRegistry:
        return self._registry

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, text: str = "") -> None:
        focused = self.screen.focused
        self._return_focus = focused if focused is not None and focused is not self.query_one(JumpInput) else None
        self.add_class("-open")
        field = self.query_one(JumpInput)
        field.value = text
        field.cursor_position = len(text)
        self._recall_at = len(self._history)
        # Synchronously, not field.focus() (deferred with call_later): keys already queued behind the ":" (a fast
        # typist, a tmux send-keys burst) must reach the line, not the screen.
        self.screen.set_focus(field)

    def close(self) -> None:
        self.remove_class("-open")
        self.query_one(JumpInput).value = ""
        back = self._return_focus
        self._return_focus = None
        if back is not None and back.is_attached and back.focusable:
            back.focus()
        else:
            self.screen.set_focus(None)

    def recall(self, step: int) -> None:
        if not self._history:
            return
        self._recall_at = max(0, min(len(self._history), self._recall_at + step))
        field = self.query_one(JumpInput)
        field.value = self._history[self._recall_at] if self._recall_at < len(self._history) else ""
        field.cursor_position = len(field.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text and (not self._history or self._history[-1] != text):
            self._history = [*self._history, text][-HISTORY_LIMIT:]
        self.close()
        if text:
            self.post_message(self.Submitted(text))

    @on(Input.Blurred)
    def _blurred(self, event: Input.Blurred) -> None:
        # clicking elsewhere or a screen change closes the line, as in k9s
        if self.is_open:
            self.remove_class("-open")
