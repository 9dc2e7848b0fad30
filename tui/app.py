"""SvcscopeApp: screens, global keys, the jump commands, and the state every screen shares.

State lives here and flows one way: workers (threads, never touching widgets) post messages from tui.messages;
`@on` handlers update the app's reactives (`scope`, `connection_state`); widgets watch those and render.
Worker failures are handled in one place (`on_worker_state_changed`) and reach the user as one sentence.

`create_app` is the one factory the CLI and the tests both use (posting's pattern): a connection, a clock (no
wall-clock values in tests or snapshots), and options.

What panes and screens use:
    app.scope               reactive Scope(context, namespace, all_namespaces): watch it to (re)start caches
    app.connection          the Connection for that scope (its api_client); replaced on `:ctx`
    app.post_connection_state   a thread-safe StateSink to hand to tui.kube.cache.ListWatchCache(on_state=...)
    app.refresh_signal      published on ctrl+r: subscribe to relist
    app.clock, app.options  the injected clock (AGE columns) and AppOptions (read_only, demo)
    tui.jump.JUMPS.register(JumpCommand(...))   replace a "not built yet" jump command with the real screen
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from textual import events, on, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from tui import __version__
from tui.config import StateStore
from tui.jump import JUMPS, JumpRegistry, UnknownJump
from tui.kube.client import Connection, KubeConnectionError, Scope, check_access, explain_error, get, reconnect
from tui.kube.connection import Clock, ConnectionState, Phase, combine, utc_now
from tui.kube.prefetch import Prefetch
from tui.messages import ConnectionStateChanged, ContextSwitched, NamespacesListed
from tui.palette import JumpProvider
from tui.screens.base import BaseScreen
from tui.screens.help import HelpScreen, collect_keys
from tui.screens.main import MainScreen
from tui.screens.picker import Choice, PickerScreen
from tui.widgets.command_line import CommandLine

if TYPE_CHECKING:  # the kube-proxy modules load with the screen, not at start-up
    from tui.kube.node_site import ProxySite

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # class-level default only; __init__ sets the real state
ALL_WORDS = ("all", "*", "-A", "--all-namespaces")
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LIST_TIMEOUT = (5.0, 30.0)


@dataclass(frozen=True, slots=True)
class AppOptions:
    read_only: bool = False
    demo: bool = False
    no_color: bool = False
    theme: str = "textual-dark"


class SvcscopeApp(App[int]):
    TITLE = "svcscope"
    SUB_TITLE = __version__
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {JumpProvider}
    COMMAND_PALETTE_DISPLAY = "^p"
    BINDINGS = [
        # priority: handled as the key arrives, so keys typed right behind it land in the line (see check_action)
        Binding("colon", "command_line", "command", key_display=":", priority=True),
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("ctrl+r", "refresh", "refresh"),
        Binding("escape", "back", "back", key_display="esc"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    scope: reactive[Scope] = reactive(Scope("", "default"), init=False)
    connection_state: reactive[ConnectionState] = reactive(ConnectionState.connecting(_EPOCH), init=False)

    def __init__(
        self,
        connection: Connection,
        *,
        clock: Clock = utc_now,
        options: AppOptions = AppOptions(),
        state: StateStore | None = None,
        registry: JumpRegistry = JUMPS,
        dns_address_map: dict[str, tuple[str, int]] | None = None,
        ipvs_reader: Callable[[], Any] | None = None,
        proxy_site: "ProxySite | None" = None,
        prefetch: Prefetch | None = None,
    ) -> None:
        # Textual decides on colour from NO_COLOR while constructing the app: set it for that moment only, so the
        # setting neither leaks into this process's environment nor into child processes.
        added = options.no_color and "NO_COLOR" not in os.environ
        if added:
            os.environ["NO_COLOR"] = "1"
        try:
            super().__init__()
        finally:
            if added:
                del os.environ["NO_COLOR"]
        self.connection = connection
        self.clock = clock
        self.options = options
        self.state_store = state
        self.registry = registry
        self.known_namespaces: tuple[str, ...] = ()
        # The demo's loopback stand-ins for CoreDNS pod and kube-dns addresses (tui.sim.dns_server.SimDns).
        self.dns_address_map = dns_address_map or {}
        # Makes the IPVS screen's reader (tui.ipvs.readers); None: this node's kernel (the demo: its emulator).
        self.ipvs_reader = ipvs_reader
        # Where the kube-proxy screen finds "this node" (the demo's emulated node1; None: this host).
        self.proxy_site = proxy_site
        # The CLI's caches of this scope, listing since before Textual was imported; the main screen adopts them.
        self.prefetch = prefetch
        self._states: dict[str, ConnectionState] = {}
        self.last_input = 0.0  # time.monotonic() of the user's last key, click or wheel: background work yields
        # Published on ctrl+r; panes and caches subscribe to relist.
        self.refresh_signal: Signal[None] = Signal(self, "refresh")
        self.set_reactive(SvcscopeApp.scope, connection.scope)
        self._reset_states()
        if options.theme in self.available_themes:
            self.theme = options.theme

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry server text (brackets and all): plain text unless asked otherwise."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[arg-type]

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)) and \
                not event.is_forwarded:
            self.last_input = time.monotonic()
        await super().on_event(event)

    def since_input(self) -> float:
        """Seconds since the user's last key, click or wheel (the trace feed steps aside meanwhile)."""
        return time.monotonic() - self.last_input

    # --- screens and global keys -----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        if self.options.theme not in self.available_themes:
            self.notify(f"Unknown theme {self.options.theme!r} in the settings; using {self.theme}.",
                        severity="warning")
        self.list_namespaces()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line" and isinstance(self.focused, (Input, TextArea)):
            return False  # a ":" typed into a field (host:port, a filter) is just a character
        return True

    def action_command_line(self) -> None:
        self.open_command_line("")

    def open_command_line(self, text: str = "") -> None:
        if isinstance(self.screen, BaseScreen):
            self.screen.open_command_line(text)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(collect_keys(self, self.screen), self.registry))

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_filter(self) -> None:
        # Panes bind `/` themselves; reaching the app means nothing focused can filter.
        self.notify("Nothing to filter here: focus a pane that lists something (filters arrive with issue 3).")

    def action_refresh(self) -> None:
        self.list_namespaces()
        self.refresh_signal.publish(None)

    async def action_quit(self) -> None:
        self.exit(0)

    # --- jump commands ---------------------------------------------------------------------------------------

    @on(CommandLine.Submitted)
    def run_command(self, event: CommandLine.Submitted) -> None:
        try:
            command, arg = self.registry.parse(event.text)
        except UnknownJump as exc:
            self.notify(str(exc), title="Command", severity="error")
            return
        command.handler(self, arg)

    def main_screen(self) -> MainScreen:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()
        return self.screen_stack[0]  # type: ignore[return-value]

    def jump_to_pane(self, name: str) -> None:
        self.main_screen().focus_pane(name)

    def open_dns(self, name: str = "", qtype: str = "A") -> None:
        """The DNS screen for `name` (an FQDN, `svc/NAME`, `svc/NS/NAME`, a Service name or an address), asked at
        once; with no name it waits for one. Panes bind `g` to this with the selected Service."""
        from tui.screens.dns import DnsScreen

        self.push_screen(DnsScreen(name, qtype))

    def open_ipvs(self, service: tuple[str, str] | None = None) -> None:
        """The IPVS screen; with a Service (namespace, name), filtered to its virtual servers."""
        from tui.screens.ipvs import IPVSScreen

        self.push_screen(IPVSScreen(service))

    def show_service(self, key: tuple[str, str]) -> None:
        """Back on the main screen, the cursor on this Service (the IPVS screen's enter)."""
        main = self.main_screen()
        main.focus_pane("services")
        if not main.services.move_cursor_to_key(key):
            self.notify(f"{key[0]}/{key[1]} is not in the Services pane (another namespace, or a filter hides it).",
                        title="Service")

    def open_proxy(self) -> None:
        """The kube-proxy screen: configured vs running mode per node, leftovers, the guarded switch."""
        from tui.screens.proxy import ProxyScreen

        self.push_screen(ProxyScreen())

    def open_trace(self, name: str) -> None:
        """The trace screen of Service `name` (`NAME` or `NS/NAME`; "": the selected one), from the main screen's
        live state."""
        main = self.main_screen()
        if not name.strip():
            main.action_trace()
            return
        found = main.find_service(name)
        if isinstance(found, str):
            self.notify(found, title="Trace", severity="error")
            return
        main.open_trace(found)

    def context_names(self) -> list[str]:
        return [c.name for c in self.connection.contexts]

    def set_namespace(self, name: str) -> None:
        name = name.strip()
        everything = name in ALL_WORDS
        if not everything and (len(name) > 63 or not _NAMESPACE_RE.match(name)):
            self.notify(
                f"{name!r} is not a namespace name (lowercase letters, digits and '-', at most 63).",
                title="Namespace",
                severity="error",
            )
            return
        if not everything and self.known_namespaces and name not in self.known_namespaces:
            self.notify(f"Namespace {name} does not exist (yet) in {self.scope.context}.", severity="warning")
        scope = Scope(self.scope.context, self.scope.namespace if everything else name, everything)
        self.connection = self.connection.with_namespace(scope.namespace, everything)
        self.scope = scope
        self._remember(scope)

    def set_context(self, name: str) -> None:
        name = name.strip()
        if name == self.scope.context:
            self.notify(f"Already on context {name}.", title="Context")
            return
        if self.connection.contexts and name not in self.context_names():
            self.notify(
                f"Context {name} is not in the kubeconfig (contexts: {', '.join(self.context_names())}).",
                title="Context",
                severity="error",
            )
            return
        self.notify(f"Connecting to context {name}...", title="Context")
        self.switch_context(name)

    def pick_namespace(self) -> None:
        choices = [Choice("all", "all namespaces"), *(Choice(n, n) for n in self.known_namespaces)]
        hint = "" if self.known_namespaces else "The namespaces cannot be listed here: type one, enter picks it."
        current = "all" if self.scope.all_namespaces else self.scope.namespace
        self.push_screen(
            PickerScreen("Namespace", choices, current=current, hint=hint),
            lambda picked: self.set_namespace(picked) if picked else None,
        )

    def pick_context(self) -> None:
        if self.connection.in_cluster:
            self.notify("Running with the in-cluster service account: there are no contexts.", title="Context")
            return
        choices = [
            Choice(c.name, f"{c.name}  ({c.cluster}{', ' + c.namespace if c.namespace else ''})")
            for c in self.connection.contexts
        ]
        self.push_screen(
            PickerScreen("Context", choices, current=self.scope.context),
            lambda picked: self.set_context(picked) if picked else None,
        )

    def _remember(self, scope: Scope) -> None:
        if self.state_store is None:
            return
        try:
            self.state_store.remember(scope.context, scope.namespace, scope.all_namespaces)
        except OSError as exc:
            self.notify(
                f"Could not remember the namespace in {self.state_store.path} ({exc.strerror or exc}).",
                severity="warning",
            )

    # --- connection state ------------------------------------------------------------------------------------

    def _reset_states(self) -> None:
        # start-up already probed the server successfully: connected until a cache says otherwise
        self._states = {"": ConnectionState.connected(self.clock())}
        self.connection_state = self._states[""]

    def post_connection_state(self, state: ConnectionState) -> None:
        """A StateSink for the watch caches (tui.kube.cache): callable from any thread."""
        self.post_message(ConnectionStateChanged(state))

    @on(ConnectionStateChanged)
    def _connection_state_changed(self, event: ConnectionStateChanged) -> None:
        before = self.connection_state
        self._states[event.state.source] = event.state
        now = combine(self._states.values())
        if now is None:
            return
        self.connection_state = now
        if now.phase is Phase.DISCONNECTED and before.phase is not Phase.DISCONNECTED:
            self.notify(_sentence(now.error or "lost the connection to the API server"), title="Disconnected",
                        severity="error", timeout=10)
        elif now.phase is Phase.CONNECTED and before.phase is Phase.DISCONNECTED:
            self.notify(f"Connection to {self.connection.server} restored.", title="Connected")

    @on(ContextSwitched)
    def _context_switched(self, event: ContextSwitched) -> None:
        old, self.connection = self.connection, event.connection
        self.known_namespaces = ()
        self._reset_states()
        self.scope = event.connection.scope
        self._remember(self.scope)
        self.notify(f"Now on context {self.scope.context}, {self.scope.label}.", title="Context")
        old.close()
        self.list_namespaces()

    @on(NamespacesListed)
    def _namespaces_listed(self, event: NamespacesListed) -> None:
        if event.context == self.scope.context:
            self.known_namespaces = event.names

    # --- workers (threads: blocking client calls; they only post messages) -----------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="context")
    def switch_context(self, name: str) -> None:
        remembered = self.state_store.namespace_for(name) if self.state_store else None
        conn = reconnect(
            self.connection,
            name,
            remembered.namespace if remembered else None,
            bool(remembered and remembered.all_namespaces),
        )
        try:
            check_access(conn)
        except BaseException:
            conn.close()
            raise
        if get_current_worker().is_cancelled:  # a newer :ctx superseded this one while it probed
            conn.close()
            return
        self.post_message(ContextSwitched(conn))

    @work(thread=True, exclusive=True, exit_on_error=False, group="namespaces")
    def list_namespaces(self) -> None:
        """Namespaces for completion; quietly none when the user may not list them (common with narrow RBAC)."""
        from kubernetes.client.exceptions import ApiException

        conn = self.connection
        try:  # raw: the generated CoreV1Api would cost 0.3-0.6 s of import while the first lists load
            resp = get(conn.api_client, "/api/v1/namespaces", timeout=LIST_TIMEOUT)
            doc: Any = json.loads(resp.data)
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                self.post_message(NamespacesListed(conn.context, ()))
                return
            raise
        names = sorted(
            item["metadata"]["name"]
            for item in doc.get("items", [])
            if isinstance(item, dict) and isinstance(item.get("metadata"), dict) and item["metadata"].get("name")
        )
        self.post_message(NamespacesListed(conn.context, tuple(names)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker failure ends here, once, as one sentence."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, KubeConnectionError):
            message = error.message
        elif error is not None:
            message = explain_error(error, self.connection)
        else:
            return
        titles = {"context": "Context switch failed", "namespaces": "Listing namespaces failed"}
        self.notify(message, title=titles.get(event.worker.group, "Error"), severity="error", timeout=10)


def _sentence(text: str) -> str:
    """Sources may report a phrase ("the API server refused the connection"): show it as a sentence."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def create_app(
    connection: Connection,
    *,
    clock: Clock = utc_now,
    options: AppOptions = AppOptions(),
    state: StateStore | None = None,
    dns_address_map: dict[str, tuple[str, int]] | None = None,
    ipvs_reader: Callable[[], Any] | None = None,
    proxy_site: "ProxySite | None" = None,
    prefetch: Prefetch | None = None,
) -> SvcscopeApp:
    """The one way to build the app, for the CLI and for tests alike."""
    return SvcscopeApp(connection, clock=clock, options=options, state=state, dns_address_map=dns_address_map,
                       ipvs_reader=ipvs_reader, proxy_site=proxy_site, prefetch=prefetch)
