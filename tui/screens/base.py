"""What every svcscope screen has: the header on top, the `:` command line and the key footer at the bottom.

A screen subclasses `BaseScreen` and implements `compose_body()`.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tui.widgets.command_line import CommandLine
from tui.widgets.header import HeaderBar


class BaseScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield HeaderBar()
        yield from self.compose_body()
        yield CommandLine()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def open_command_line(self, text: str = "") -> None:
        self.query_one(CommandLine).open(text)
