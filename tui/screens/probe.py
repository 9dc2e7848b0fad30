"""The probe screen (`:probe NAME`, `p` on a Service): the tutorial's curl-again-and-again from this node, live.

Widgets do no I/O: `probe()` is a thread worker that resolves what to probe (tui.trace.probe_setup), runs the
connections (tui.trace.probe) and posts `ProbeProgress` after each batch and `ProbeDone` at the end (or
`ProbeFailed` with the sentence); the handlers fill the two tables: one row per connection (which real server took
it, its pod, how long, the answer), one row per real server (count, share, what it answered), and the verdict.

Keys: f5 probes again, h switches between TCP connects and HTTP GETs. `:probe NAME [-c N] [--http]`; NAME is a
Service (NAME or NS/NAME) or ADDR:PORT. In the demo a Service has nothing real to probe, and the screen says so.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from tui.screens.base import BaseScreen
from tui.widgets.fast_table import Column, FastTable, Row

if TYPE_CHECKING:
    from tui.kube.models import ServiceView
    from tui.trace.probe import Attempt, ProbeResult, Share

DEFAULT_COUNT = 10
MAX_COUNT = 1000
ATTEMPT_COLUMNS = (Column("n", "#", 3, True), Column("rs", "REAL SERVER", 21), Column("pod", "POD", 22),
                   Column("ms", "TIME", 9, True), Column("answer", "ANSWER", 19))
# Without pods to name (an address probed by hand, no IPVS), the answer gets the pod column's room.
NO_POD_COLUMNS = (Column("n", "#", 3, True, 0), Column("rs", "REAL SERVER", 21, False, 1),
                  Column("ms", "TIME", 9, True, 3), Column("answer", "ANSWER", 42, False, 4))
SHARE_COLUMNS = (Column("rs", "REAL SERVER", 21), Column("pod", "POD", 22), Column("count", "COUNT", 5, True),
                 Column("share", "SHARE", 5, True), Column("answers", "ANSWERS", 20))
VERDICT_STYLE = {"ok": "bold green", "info": "", "warning": "yellow", "error": "bold red"}


class ProbeProgress(Message):
    def __init__(self, attempts: Sequence["Attempt"]) -> None:
        super().__init__()
        self.attempts = attempts


class ProbeDone(Message):
    def __init__(self, result: "ProbeResult", ipvs_note: str) -> None:
        super().__init__()
        self.result = result
        self.ipvs_note = ipvs_note


class ProbeFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


def parse_args(arg: str) -> tuple[str, int, bool]:
    """`NAME [-c N] [--http]` -> (name, count, http); ValueError with the sentence for a bad count."""
    words = arg.split()
    name, count, http = "", DEFAULT_COUNT, False
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--http":
            http = True
        elif w in ("-c", "--count") and i + 1 < len(words):
            i += 1
            if not words[i].isdigit() or not 1 <= int(words[i]) <= MAX_COUNT:
                raise ValueError(f"the count must be a number from 1 to {MAX_COUNT}")
            count = int(words[i])
        elif not name:
            name = w
        i += 1
    return name, count, http


def open_probe(app: Any, service: "ServiceView | None" = None, arg: str = "") -> None:
    """Push the probe screen for a Service (the Services pane's `p`) or for `:probe`'s argument."""
    if service is not None:
        arg = f"{service.namespace}/{service.name}"
    try:
        name, count, http = parse_args(arg)
    except ValueError as exc:
        app.notify(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", title="Probe", severity="error")
        return
    if not name:
        app.notify("Select a Service first, or give :probe a Service name or ADDR:PORT.", title="Probe")
        return
    app.push_screen(ProbeScreen(name, count, http))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def attempt_row(a: "Attempt") -> Row:
    if a.ok:
        # the body's first line is what tells pods apart; the status only when it is not a plain 200
        answer = (a.body if a.status.startswith("200") else f"{a.status} {a.body}".strip()) if a.status \
            else "connected"
    else:
        answer = a.error
    return Row(a.index, (str(a.index), a.real_server or "?", a.pod, _ms(a.seconds), answer),
               "" if a.ok else "error")


def share_row(s: "Share") -> Row:
    level = "warning" if s.failed else ""
    return Row(s.real_server, (s.real_server, s.pod, str(s.count), f"{s.share:.0%}", " | ".join(s.bodies)), level)


class ProbeScreen(BaseScreen):
    """N connections to a Service's virtual server: where each went, the spread, and whether it is as promised."""

    BINDING_GROUP_TITLE = "Probe screen"
    BINDINGS = [
        Binding("escape", "app.back", "back", key_display="esc"),
        Binding("f5", "run", "probe again"),
        Binding("h", "toggle_http", "tcp/http"),
    ]
    DEFAULT_CSS = """
    ProbeScreen #probe-status { height: auto; max-height: 2; padding: 0 1; }
    ProbeScreen #probe-verdict { height: auto; max-height: 2; padding: 0 1; }
    ProbeScreen #probe-attempts { height: 1fr; }
    ProbeScreen #probe-shares { height: 6; border-top: solid $surface-lighten-2; }
    """

    # Hooks a test sets to drive the probe in-process: where the connection table comes from, the timer.
    conn_table: Callable[[], Sequence[Any]] | None = None
    clock: Callable[[], float] | None = None

    def __init__(self, target: str, count: int = DEFAULT_COUNT, http: bool = False) -> None:
        super().__init__()
        self.target_text = target
        self.count = count
        self.http = http
        self.result: "ProbeResult | None" = None
        self.status = ""
        self.error = ""
        self._cancel = threading.Event()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="probe-status")
        yield Static("", id="probe-verdict")
        yield FastTable(ATTEMPT_COLUMNS, id="probe-attempts", empty_text="No connection yet.")
        yield FastTable(SHARE_COLUMNS, id="probe-shares", empty_text="No real server known yet.")

    def on_mount(self) -> None:
        self.query_one("#probe-attempts", FastTable).focus()
        self.action_run()

    def on_unmount(self) -> None:
        self._cancel.set()

    # -- keys ----------------------------------------------------------------------------------------------------

    def action_run(self) -> None:
        self._cancel.set()
        self._cancel = threading.Event()
        self.result, self.error = None, ""
        self.query_one("#probe-attempts", FastTable).set_rows([])
        self.query_one("#probe-shares", FastTable).set_rows([])
        self.query_one("#probe-verdict", Static).update("")
        how = "HTTP GETs" if self.http else "TCP connections"
        self._set_status(f"Probing {self.target_text}: {self.count} {how}...")
        self.probe(self._cancel)

    def action_toggle_http(self) -> None:
        self.http = not self.http
        self.action_run()

    # -- results -------------------------------------------------------------------------------------------------

    @on(ProbeProgress)
    def _progress(self, event: ProbeProgress) -> None:
        self._show_attempts(event.attempts)

    def _show_attempts(self, attempts: Sequence["Attempt"]) -> None:
        table = self.query_one("#probe-attempts", FastTable)
        columns = ATTEMPT_COLUMNS if any(a.pod for a in attempts) else NO_POD_COLUMNS
        if table.columns != columns:
            table.set_columns(columns)
        table.set_rows(attempt_row(a) for a in attempts)

    @on(ProbeDone)
    def _done(self, event: ProbeDone) -> None:
        from tui.commands.probe import ms

        r = event.result
        self.result = r
        self._show_attempts(r.attempts)
        shares = self.query_one("#probe-shares", FastTable)
        shares.set_rows(share_row(s) for s in r.shares)
        shares.set_empty_text(r.table_note[:1].upper() + r.table_note[1:] + "." if r.table_note
                              else "No real server known.", "warning" if r.table_note else "")
        vs = r.virtual_server
        how = "HTTP GET /" if r.http else "TCP connect"
        ipvs = (f"IPVS {vs.scheduler}{', persistent ' + str(vs.timeout) + ' s' if vs.persistent else ''}, "
                f"{len(vs.real_servers)} real servers" if vs is not None else "no IPVS entry")
        mean = ms(sum(a.seconds for a in r.attempts) / len(r.attempts)) if r.attempts else ""
        self._set_status(f"{r.target.title}: {r.succeeded}/{len(r.attempts)} x {how}, mean {mean}; {ipvs}.")
        label = {"ok": "OK", "info": "NOTE", "warning": "WARN", "error": "FAIL"}[r.verdict.level]
        text = Text(f"{label} ", style=VERDICT_STYLE[r.verdict.level] or "bold")
        text.append(r.verdict.text, style=VERDICT_STYLE[r.verdict.level])
        if vs is None and event.ipvs_note and not r.table_note:
            text.append(f"\n{event.ipvs_note}", style="dim")
        self.query_one("#probe-verdict", Static).update(text)

    @on(ProbeFailed)
    def _failed(self, event: ProbeFailed) -> None:
        self.error = event.message
        self.query_one("#probe-attempts", FastTable).set_empty_text(event.message, "error")
        self._set_status(f"Cannot probe {self.target_text}.", "error")

    def _set_status(self, line: str, severity: str = "") -> None:
        self.status = line
        style = {"error": "bold red", "warning": "yellow"}.get(severity, "")
        self.query_one("#probe-status", Static).update(Text(line, style=style))

    # -- the worker ----------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="probe")
    def probe(self, cancel: threading.Event) -> None:
        try:
            self._probe(cancel)
        except Exception as exc:  # a bug must still be one line in the screen, not a crash
            self.post_message(ProbeFailed(f"The probe failed unexpectedly ({type(exc).__name__}: {exc}); "
                                          "please report it."))

    def _probe(self, cancel: threading.Event) -> None:
        from tui.trace.probe import run_probe
        from tui.trace.probe_setup import DEMO_SENTENCE, ProbeSetupError, parse_address, prepare

        app: Any = self.app
        by_address = parse_address(self.target_text) is not None
        if getattr(app.options, "demo", False) and not by_address:
            self.post_message(ProbeFailed(DEMO_SENTENCE[:1].upper() + DEMO_SENTENCE[1:] + "."))
            return
        try:
            api = None if by_address else app.connection.api_client
            prepared = prepare(api, app.scope.namespace or "default", self.target_text)
        except ProbeSetupError as exc:
            self.post_message(ProbeFailed(f"{str(exc)[:1].upper()}{str(exc)[1:]}."))
            return
        except Exception as exc:  # noqa: BLE001 - API failures in the app's words
            from tui.kube.client import explain_error

            self.post_message(ProbeFailed(explain_error(exc, app.connection, ("get", "services",
                                                                               app.scope.namespace))))
            return
        cls = type(self)
        extra: dict[str, Any] = {}
        if cls.conn_table is not None:
            extra["conn_table"] = cls.conn_table
        if cls.clock is not None:
            extra["clock"] = cls.clock
        result = run_probe(prepared.target, self.count, http=self.http, virtual_server=prepared.virtual_server,
                           pods=prepared.pods, progress=lambda attempts: self.post_message(ProbeProgress(attempts)),
                           cancel=cancel, **extra)
        if not cancel.is_set():
            self.post_message(ProbeDone(result, prepared.ipvs_note))
