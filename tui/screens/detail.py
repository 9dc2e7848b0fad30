"""One Service in full: `y` its YAML as the server has it, `d` a summary as `kubectl describe svc` prints it.

Both are kubectl's own layouts (tui.kube.describe, compared byte for byte with kubectl in the tests). The screen
stays live: the main screen hands it every change of its Service (and of its EndpointSlices), and says so when the
Service is deleted. The Events of `d` are read once, by a worker, with kubectl's field selector.

Keys: `y` and `d` switch between the two, arrows/page keys scroll (both ways), `esc` goes back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Footer, Static

from tui.kube.cache import Lister, Resource
from tui.kube.describe import describe_service, service_yaml
from tui.kube.models import SliceView
from tui.screens.base import BaseScreen

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

Key = tuple[str, str]
MODES = {"yaml": "YAML", "describe": "describe"}
EVENTS_TIMEOUT = 15.0
EVENTS = Resource("events", "Event", "v1")  # read raw, as the caches read (no generated API classes to import)


class EventsRead(Message):
    """The Service's events (None: they could not be read, and describe leaves them out as kubectl does)."""

    def __init__(self, key: Key, events: list[dict[str, Any]] | None) -> None:
        super().__init__()
        self.key = key
        self.events = events


class DetailScreen(BaseScreen):
    BINDING_GROUP_TITLE = "Service detail"
    BINDINGS = [
        Binding("escape", "close", "back", key_display="esc"),
        Binding("y", "mode('yaml')", "yaml"),
        Binding("d", "mode('describe')", "describe"),
    ]
    DEFAULT_CSS = """
    DetailScreen #detail {
        height: 1fr;
        border: round $accent;
        border-title-color: $accent;
        border-subtitle-color: $text-warning;
        padding: 0 1;
    }
    DetailScreen #content { width: auto; }
    DetailScreen FooterKey .footer-key--key { padding: 0 0 0 1; }
    DetailScreen FooterKey .footer-key--description { padding: 0 0 0 1; }
    """

    def __init__(self, key: Key, mode: str, obj: Mapping[str, Any], slices: Sequence[SliceView]) -> None:
        super().__init__()
        self.key = key
        self.mode = mode
        self.obj: Mapping[str, Any] | None = obj
        self.slices = list(slices)
        self.events: list[dict[str, Any]] | None = None
        self._events_asked = False

    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    def compose_body(self) -> ComposeResult:
        with ScrollableContainer(id="detail"):
            yield Static(id="content")

    def on_mount(self) -> None:
        self.query_one(Footer).show_command_palette = False  # as on the main screen: the keys fit 80 columns
        self._render_content()
        self.query_one("#detail").focus()

    # -- what the main screen feeds ---------------------------------------------------------------------------

    def show(self, obj: Mapping[str, Any] | None, slices: Sequence[SliceView]) -> None:
        """The Service changed (None: it was deleted; the last version stays on screen, marked)."""
        if obj is not None:
            self.obj = obj
        self.slices = list(slices)
        self._deleted = obj is None
        self._render_content()

    _deleted = False

    # -- rendering --------------------------------------------------------------------------------------------

    def _render_content(self) -> None:
        if not self.is_mounted or self.obj is None:
            return
        ns, name = self.key
        box = self.query_one("#detail")
        box.border_title = f"Service {ns}/{name}: {MODES[self.mode]}"
        box.border_subtitle = "deleted from the cluster: showing its last version" if self._deleted else ""
        content = self.query_one("#content", Static)
        if self.mode == "yaml":
            text = service_yaml(self.obj)
            content.update(Syntax(text, "yaml", theme="ansi_dark", background_color="default", word_wrap=False))
        else:
            if not self._events_asked:
                self._events_asked = True
                self._read_events(self.key, str(_meta(self.obj).get("uid") or ""))
            text = describe_service(self.obj, self.slices, self.events, self.svcscope.clock())
            content.update(Text(text, no_wrap=True, end=""))

    def text(self) -> str:
        """What the screen shows, as plain text (tests)."""
        if self.obj is None:
            return ""
        if self.mode == "yaml":
            return service_yaml(self.obj)
        return describe_service(self.obj, self.slices, self.events, self.svcscope.clock())

    def action_mode(self, mode: str) -> None:
        self.mode = mode
        self._render_content()
        self.query_one("#detail").scroll_home(animate=False)

    def action_close(self) -> None:
        self.dismiss()

    # -- events (a worker: the only I/O here) -----------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="events")
    def _read_events(self, key: Key, uid: str) -> None:
        ns, name = key
        selector = f"involvedObject.name={name},involvedObject.namespace={ns},involvedObject.kind=Service"
        if uid:
            selector += f",involvedObject.uid={uid}"
        lister = Lister(self.svcscope.connection.api_client, EVENTS, ns, field_selector=selector,
                        request_timeout=EVENTS_TIMEOUT)
        try:
            body = lister.page(limit=500)  # kubectl's one request
            items: list[dict[str, Any]] | None = [e for e in body.get("items") or [] if isinstance(e, dict)]
        except Exception:  # noqa: BLE001 - kubectl describe leaves Events out when it cannot read them
            items = None
        self.post_message(EventsRead(key, items))

    @on(EventsRead)
    def _events_read(self, event: EventsRead) -> None:
        if event.key == self.key:
            self.events = event.events
            self._render_content()


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}
