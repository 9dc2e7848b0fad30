"""`?`: every key and every jump command, generated from the bindings and the jump registry so it cannot drift.

Keys come from the `BINDINGS` that svcscope's own classes declare: the app, the screen `?` was pressed on, and
each svcscope widget on it (panes add theirs, titled by their `BINDING_GROUP_TITLE`). What Textual's classes bring
(cursor keys inside an input, tab focus) is left out to keep the page about svcscope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Static

from tui.jump import JumpRegistry
from tui.screens.base import BaseScreen


@dataclass(frozen=True, slots=True)
class KeyHelp:
    group: str
    key: str
    description: str


def _is_ours(cls: type) -> bool:
    return cls.__module__.startswith("tui.")


def _group_title(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    title = getattr(node, "BINDING_GROUP_TITLE", None)
    if title:
        return title
    if isinstance(node, Screen):
        return "This screen"
    return type(node).__name__


def collect_keys(app: App, screen: Screen) -> list[KeyHelp]:
    """Every described binding of the app, the screen and svcscope's widgets on it, first binding of a key wins."""
    nodes: list[DOMNode] = [app, screen, *(w for w in screen.query("*") if _is_ours(type(w)))]
    out: list[KeyHelp] = []
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        group = _group_title(node)
        for binding in _bindings(node):
            if not binding.description or binding.system:
                continue
            key = app.get_key_display(binding)
            if (group, key) in seen:
                continue
            seen.add((group, key))
            out.append(KeyHelp(group, key, binding.description))
    return out


def _bindings(node: DOMNode) -> Iterable[Binding]:
    """The bindings svcscope's classes in the node's MRO declare, base classes first (as Textual merges them)."""
    for cls in reversed(type(node).__mro__):
        if _is_ours(cls) and "BINDINGS" in cls.__dict__:
            yield from Binding.make_bindings(cls.__dict__["BINDINGS"])


class HelpScreen(BaseScreen):
    """Pushed over the screen it describes; esc, q or ? goes back."""

    BINDINGS = [
        Binding("escape", "close", "back"),
        Binding("q", "close", "back", show=False),
        Binding("question_mark", "close", "back", show=False, key_display="?"),
    ]
    DEFAULT_CSS = """
    HelpScreen #help { height: 1fr; padding: 0 1; }
    HelpScreen .title { text-style: bold; color: $accent; margin-top: 1; }
    """

    def __init__(self, keys: list[KeyHelp], registry: JumpRegistry) -> None:
        super().__init__()
        self._keys = keys
        self._registry = registry

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys", classes="title")
            yield Static(self._keys_table(), id="keys")
            yield Static("Jump commands (type : then the command; tab completes)", classes="title")
            yield Static(self._jumps_table(), id="jumps")

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def _keys_table(self) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column("group", style="dim", no_wrap=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what")
        last = None
        for item in self._keys:
            table.add_row(item.group if item.group != last else "", item.key, item.description)
            last = item.group
        return table

    def _jumps_table(self) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column("command", style="bold", no_wrap=True)
        table.add_column("what")
        for command in self._registry:
            what = Text(command.help)
            if command.aliases:
                what.append(f"  (also {' '.join(f':{a}' for a in command.aliases)})", style="dim")
            table.add_row(command.usage, what)
        return table

    def action_close(self) -> None:
        self.dismiss()
