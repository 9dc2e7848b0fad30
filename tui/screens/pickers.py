"""Namespace and context pickers: `:ns` and `:ctx` without an argument open a list to choose from.

A picker is a ModalScreen[str | None] (posting's pattern): type to narrow the list, enter picks the highlighted
entry (or what was typed, for a namespace the user may not list), esc dismisses with None. The choice goes through
the app's `set_namespace` / `set_context`, which remember it in the state file (tui.config), so the next session
starts there.

`register(registry)` gives `:ns` and `:ctx` their no-argument behaviour, replacing the registry's entries in place
(tui.jump's documented way for screens that arrive later); the main screen calls it with the app's registry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit
from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui.jump import JUMPS, JumpRegistry

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

ALL_NAMESPACES = "all"


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what is handed back
    label: str  # the name shown
    detail: str = ""  # shown dimmed after it
    current: bool = False


class PickerScreen(ModalScreen[str | None]):
    BINDING_GROUP_TITLE = "Picker"
    BINDINGS = [
        Binding("escape", "cancel", "cancel", key_display="esc"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]
    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    PickerScreen Input { border: none; height: 1; padding: 0; margin-bottom: 1; background: $boost; }
    PickerScreen OptionList { height: auto; max-height: 16; border: none; padding: 0; }
    PickerScreen #hint { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, choices: Sequence[Choice], hint: str, *, free_text: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.hint = hint
        self.free_text = free_text  # enter with nothing matching returns what was typed

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Input(placeholder="type to narrow", compact=True, id="query")
            yield OptionList(id="choices")
            yield Label(self.hint, id="hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _matching(self, query: str) -> list[Choice]:
        q = query.strip().lower()
        return [c for c in self.choices if q in c.label.lower() or q in c.detail.lower()]

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matching = self._matching(query)
        for choice in matching:
            text = Text(("* " if choice.current else "  ") + choice.label,
                        style="bold" if choice.current else "")
            if choice.detail:
                text.append(f"  {choice.detail}", style="dim")
            options.add_option(Option(text, id=choice.value))
        if matching:
            current = next((i for i, c in enumerate(matching) if c.current), 0)
            options.highlighted = current if not query.strip() else 0

    @on(Input.Changed)
    def _query_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            at = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, at + step))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        elif self.free_text and event.value.strip():
            self.dismiss(event.value.strip())

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def namespace_picker(app: "SvcscopeApp") -> PickerScreen:
    scope = app.scope
    names = list(app.known_namespaces)
    if not scope.all_namespaces and scope.namespace not in names:
        names.insert(0, scope.namespace)
    choices = [Choice(ALL_NAMESPACES, "all namespaces", "-A", scope.all_namespaces)]
    choices += [Choice(n, n, "", not scope.all_namespaces and n == scope.namespace) for n in names]
    hint = ("enter picks, esc cancels; a name that is not listed can be typed" if app.known_namespaces
            else "this user may not list namespaces: type the one to show, then enter")
    return PickerScreen(f"Namespace ({scope.context})", choices, hint, free_text=True)


def context_picker(app: "SvcscopeApp") -> PickerScreen:
    current = app.scope.context
    # the server's host, not its port: hosts tell clusters apart (the port is 6443 or 443 nearly everywhere)
    choices = [Choice(c.name, c.name, f"{c.cluster} at {urlsplit(c.server).hostname or '?'}, namespace "
                      f"{c.namespace or 'default'}", c.name == current) for c in app.connection.contexts]
    if not choices:
        choices = [Choice(current, current, "the in-cluster service account", True)]
    return PickerScreen("Context", choices, "enter switches (the last namespace of each context is remembered)")


def _namespace(app: "SvcscopeApp", arg: str) -> None:
    if arg:
        app.set_namespace(arg)
        return

    def chosen(name: str | None) -> None:
        if name is None:
            return
        app.set_namespace(name)

    app.push_screen(namespace_picker(app), chosen)


def _context(app: "SvcscopeApp", arg: str) -> None:
    if arg:
        app.set_context(arg)
        return

    def chosen(name: str | None) -> None:
        if name is not None and name != app.scope.context:
            app.set_context(name)

    app.push_screen(context_picker(app), chosen)


def register(registry: JumpRegistry = JUMPS) -> None:
    """`:ns` and `:ctx` without an argument open the pickers; with one they switch at once, as before."""
    for name, handler, what in (("ns", _namespace, "switch namespace (a picker without NAME); `all` for every "
                                 "namespace"), ("ctx", _context, "switch kubeconfig context (a picker without NAME)")):
        command = registry.lookup(name)
        if command is not None:
            registry.register(replace(command, handler=handler, help=what))
