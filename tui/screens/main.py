"""The main screen: Services on top, the selected Service's EndpointSlices below (k9s' resource view).

Until the live panes land (issue 3) both regions are labelled placeholders that say so; they already take focus,
so the jump commands and the help screen behave as they will with the real panes.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.screens.base import BaseScreen

PANES = ("services", "endpointslices")


class PanePlaceholder(Static, can_focus=True):
    """A clearly labelled stand-in for a pane that is not built yet."""

    DEFAULT_CSS = """
    PanePlaceholder {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        color: $text-muted;
        content-align: center middle;
        text-align: center;
        &:focus { border: round $accent; border-title-color: $accent; }
    }
    """

    def __init__(self, title: str, text: str, *, id: str) -> None:
        super().__init__(text, id=id)
        self.border_title = title


class MainScreen(BaseScreen):
    DEFAULT_CSS = """
    MainScreen #body { height: 1fr; }
    MainScreen #services { height: 3fr; }
    MainScreen #endpointslices { height: 2fr; }
    """

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield PanePlaceholder(
                "Services",
                "Placeholder: the live Services pane is not built yet (issue 3).\n"
                "It will list the Services of the namespace shown in the header.",
                id="services",
            )
            yield PanePlaceholder(
                "EndpointSlices",
                "Placeholder: the EndpointSlices pane is not built yet (issue 3).\n"
                "It will show the selected Service's endpoints one by one.",
                id="endpointslices",
            )

    def focus_pane(self, name: str) -> None:
        self.query_one(f"#{name}").focus()
