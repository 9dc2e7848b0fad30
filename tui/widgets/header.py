"""The one-line header: which context and namespace, how the connection is doing, and the READ-ONLY / DEMO marks.

It renders what the app holds (`app.scope`, `app.connection_state`) and re-renders the "retrying in Ns" countdown
once a second from the app's injected clock; it never talks to the cluster itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tui.kube.client import Scope
from tui.kube.connection import ConnectionState, Phase

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

MIN_NAME = 8  # never shorten a name below this


def shorten(text: str, limit: int) -> str:
    """Keep both ends of a long name (they differ at the end: arn:...:cluster/prod-eu); ASCII only, for SSH."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return f"{text[:head]}...{text[len(text) - (limit - 3 - head):]}"


def fit_names(context: str, namespace: str, room: int) -> tuple[str, str]:
    """Share `room` columns between the context and namespace names: long EKS/GKE context names and long
    namespaces must not push the connection state or the READ-ONLY mark off an 80-column screen."""
    if len(context) + len(namespace) <= room:
        return context, namespace
    ns_room = min(len(namespace), max(MIN_NAME, room // 3))
    ctx_room = max(MIN_NAME, room - ns_room)
    ns_room = max(min(len(namespace), MIN_NAME), room - min(len(context), ctx_room))
    return shorten(context, ctx_room), shorten(namespace, ns_room)


class HeaderBar(Horizontal):
    DEFAULT_CSS = """
    HeaderBar {
        dock: top;
        height: 1;
        background: $panel;
        & > Label { padding: 0 1 0 0; text-wrap: nowrap; }
        #brand { text-style: bold; color: $accent; padding: 0 1; }
        .field { color: $text-muted; padding: 0; }
        #context, #namespace { text-style: bold; padding: 0 2 0 0; }
        #state { padding: 0; }
        #state.-connected { color: $text-success; }
        #state.-connecting { color: $text-warning; }
        #state.-disconnected { color: $text-error; text-style: bold; }
        #spacer { width: 1fr; padding: 0; }
        #demo { background: $warning; color: $background; text-style: bold; padding: 0 1; }
        #read-only { background: $primary; color: $background; text-style: bold; padding: 0 1; margin-left: 1; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("svcscope", id="brand")
        yield Label("ctx ", classes="field")
        yield Label(id="context")
        yield Label("ns ", classes="field")
        yield Label(id="namespace")
        yield Label(id="state")
        yield Label(id="spacer")
        yield Label("DEMO", id="demo")
        yield Label("READ-ONLY", id="read-only")

    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        app = self.svcscope
        self.query_one("#demo").display = app.options.demo
        self.query_one("#read-only").display = app.options.read_only
        self.watch(app, "scope", self._show_scope, init=True)
        self.watch(app, "connection_state", self._show_state, init=True)
        # the countdown: cheap, and only renders a label
        self.set_interval(1.0, self._tick, name="header-countdown")

    def on_resize(self) -> None:
        self._fit()

    def _show_scope(self, scope: Scope) -> None:
        self._fit()

    def _show_state(self, state: ConnectionState) -> None:
        label = self.query_one("#state", Label)
        for phase in Phase:
            label.set_class(state.phase is phase, f"-{phase.value}")
        label.tooltip = state.error
        self._fit()

    def _tick(self) -> None:
        if self.svcscope.connection_state.phase is Phase.DISCONNECTED:
            self._fit()

    def _fit(self) -> None:
        """Lay the line out for the current width: the state and the marks always show, names yield."""
        app = self.svcscope
        scope, state_text = app.scope, app.connection_state.describe(app.clock())
        namespace = "*all*" if scope.all_namespaces else scope.namespace
        width = self.size.width or 80
        fixed = len("ctx ") + 2 + len("ns ") + 2 + len(state_text) + 1
        fixed += (len(" DEMO ") if app.options.demo else 0) + (len(" READ-ONLY ") + 1 if app.options.read_only else 0)
        brand = self.query_one("#brand", Label)
        room = width - fixed - len(" svcscope ")
        brand.display = room >= 2 * MIN_NAME or width >= 100
        if not brand.display:
            room = width - fixed
        context, namespace = fit_names(scope.context, namespace, max(room, 2 * MIN_NAME))
        self.query_one("#context", Label).update(context)
        self.query_one("#context", Label).tooltip = scope.context if context != scope.context else None
        self.query_one("#namespace", Label).update(namespace)
        self.query_one("#state", Label).update(state_text)
