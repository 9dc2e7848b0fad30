"""The DNS screen (`:dig NAME`, `g` on a Service): ask a name, see dig's answer and the verdict against the live
EndpointSlices, one answer per CoreDNS pod when they are asked side by side.

Widgets do no I/O: `dig()` is a thread worker that reads the cluster DNS, asks the servers (tui.dns.probe), lists
the Service's slices and judges the answers (tui.dns.verdict); it posts `DnsAnswered` or `DnsFailed`, and the
handlers fill the widgets. The answer text leaves out dig's `;; WHEN:` line: the screen shows when it asked, by the
app's clock, in its status line.
"""

from __future__ import annotations

import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Log, Select, Static

from tui.screens.base import BaseScreen

if TYPE_CHECKING:
    from tui.dns.expect import Preset
    from tui.dns.probe import DnsServer, ProbeOutcome
    from tui.dns.verdict import Verdict

QTYPES = ("A", "AAAA", "SRV", "PTR", "CNAME", "TXT")
SERVERS = (("kube-dns Service", "kube-dns"), ("every CoreDNS pod", "coredns"),
           ("/etc/resolv.conf", "resolv"), ("custom addr:port", "custom"))
TIMEOUT = 2.0  # seconds per server; the probe's default, short enough for a screen


@dataclass(frozen=True, slots=True)
class DigRequest:
    text: str  # what the user typed: an FQDN, `svc/NAME`, `NS/NAME`, a bare Service name or an address (PTR)
    qtype: str
    server: str  # a SERVERS value
    custom: str  # ADDR[:PORT] when server is "custom"
    namespace: str  # for bare Service names


class DnsAnswered(Message):
    def __init__(self, qname: str, qtype: str, outcomes: list["ProbeOutcome"], verdict: "Verdict | None",
                 presets: list["Preset"], note: str) -> None:
        super().__init__()
        self.qname = qname
        self.qtype = qtype
        self.outcomes = outcomes
        self.verdict = verdict
        self.presets = presets
        self.note = note  # a problem that did not stop the query (the verdict could not be made, say)


class DnsFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class DigFailed(Exception):
    """A problem before any server was asked, as the one sentence to show."""


def expand_name(text: str, namespace: str, zone: str) -> str:
    """`svc/NAME`, `svc/NS/NAME`, `NS/NAME` and bare Service names become the Service's FQDN; addresses and dotted
    names are asked as typed."""
    text = text.strip()
    parts = [p for p in text.split("/") if p]
    if parts and parts[0] in ("svc", "service", "services"):
        parts = parts[1:]
    if "/" in text and 1 <= len(parts) <= 2:
        ns, name = (namespace, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        return f"{name}.{ns}.svc.{zone}"
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if text and "." not in text.rstrip("."):
        return f"{text}.{namespace}.svc.{zone}"
    return text.rstrip(".")


def address_map_of(app: Any) -> Mapping[str, tuple[str, int]]:
    """The demo's loopback stand-ins for pod and ClusterIP addresses: the app's, else SVCSCOPE_DNS_MAP."""
    mapping = getattr(app, "dns_address_map", None)
    if mapping:
        return mapping
    from tui.dns.servers import ADDRESS_MAP_ENV, parse_address_map

    text = os.environ.get(ADDRESS_MAP_ENV, "")
    try:
        return parse_address_map(text) if text else {}
    except ValueError:
        return {}


class DnsScreen(BaseScreen):
    """dig for a name, judged against the Service's live EndpointSlices."""

    BINDING_GROUP_TITLE = "DNS screen"
    BINDINGS = [
        Binding("escape", "app.back", "back", key_display="esc"),
        Binding("f5", "run", "dig again"),
    ]
    DEFAULT_CSS = """
    DnsScreen #dns-query, DnsScreen #dns-choices { height: 1; margin-bottom: 1; }
    DnsScreen #dns-name { width: 1fr; margin-right: 1; }
    DnsScreen #dns-type { width: 10; margin-right: 1; }
    DnsScreen #dns-server { width: 22; }
    DnsScreen #dns-preset { width: 1fr; margin-right: 1; }
    DnsScreen #dns-custom { width: 22; }
    DnsScreen #dns-status { height: auto; max-height: 2; padding: 0 1; }
    DnsScreen #dns-verdict { height: auto; max-height: 4; padding: 0 1; }
    DnsScreen #dns-answer { height: 1fr; border-top: solid $surface-lighten-2; }
    """

    # How servers are asked; a class attribute so a test can fix the fields dig shows that vary (id, query time).
    ask: Callable[..., "ProbeOutcome"] | None = None

    def __init__(self, name: str = "", qtype: str = "A") -> None:
        super().__init__()
        self.initial_name = name
        self.initial_type = qtype if qtype in QTYPES else "A"
        self._presets: list["Preset"] = []
        self.verdict: "Verdict | None" = None
        self.outcomes: list["ProbeOutcome"] = []
        self.status = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dns-query"):
            yield Input(self.initial_name, placeholder="name, svc/NAME or address", id="dns-name",
                        compact=True)
            yield Select([(t, t) for t in QTYPES], value=self.initial_type, allow_blank=False, id="dns-type",
                         compact=True)
            yield Select(list(SERVERS), value="kube-dns", allow_blank=False, id="dns-server",
                         compact=True)
        with Horizontal(id="dns-choices"):
            yield Select([], prompt="presets: ask a name first", id="dns-preset", compact=True)
            yield Input(placeholder="custom ADDR[:PORT]", id="dns-custom", compact=True)
        yield Static("", id="dns-status")
        yield Static("", id="dns-verdict")
        yield Log(id="dns-answer", highlight=False)

    def on_mount(self) -> None:
        self.query_one("#dns-name", Input).focus()
        if self.initial_name:
            self.action_run()
        else:
            self._set_status("Type a name (an FQDN, svc/NAME, a Service name or an address) and press enter.")

    # -- input ---------------------------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    @on(Select.Changed, "#dns-type, #dns-server")
    def _choice_changed(self, event: Select.Changed) -> None:
        if self.query_one("#dns-name", Input).value.strip():
            self.action_run()

    @on(Select.Changed, "#dns-preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        if not isinstance(event.value, int) or event.value >= len(self._presets):
            return
        preset = self._presets[event.value]
        self.query_one("#dns-name", Input).value = preset.name
        self.query_one("#dns-type", Select).value = preset.qtype  # its Changed runs the query when the type differs
        self.action_run()

    def request(self) -> DigRequest:
        app: Any = self.app
        return DigRequest(
            self.query_one("#dns-name", Input).value.strip(),
            str(self.query_one("#dns-type", Select).value),
            str(self.query_one("#dns-server", Select).value),
            self.query_one("#dns-custom", Input).value.strip(),
            app.scope.namespace or "default",
        )

    def action_run(self) -> None:
        req = self.request()
        if not req.text:
            self._set_status("Type a name to ask first.", "warning")
            return
        if req.server == "custom" and not req.custom:
            self._set_status("Give the custom server's ADDR[:PORT] in the field next to the presets.", "warning")
            return
        self._set_status(f"Asking {req.text} {req.qtype}...")
        self.dig(req)

    # -- results -------------------------------------------------------------------------------------------------

    @on(DnsAnswered)
    def _answered(self, event: DnsAnswered) -> None:
        from tui.dns import digfmt
        from tui.dns.probe import ProbeError, explain

        self.outcomes = event.outcomes
        self.verdict = event.verdict
        name = self.query_one("#dns-name", Input)
        name.value = event.qname.rstrip(".")
        name.action_end()
        log = self.query_one("#dns-answer", Log)
        log.clear()
        several = len(event.outcomes) > 1
        for outcome in event.outcomes:
            if several:
                log.write_line(f";; ---- {outcome.server.title}")
            log.write(digfmt.render(outcome, command=_command(outcome), show_when=False).lstrip("\n"))
        if event.verdict is not None:
            log.write("".join(f";; {line}\n" for line in event.verdict.lines()))
        # At 80x24 the header sections would hide the records: open the log at the first ANSWER SECTION.
        top = next((i for i, line in enumerate(log.lines) if line.startswith(";; ANSWER SECTION")), 0)
        self.call_after_refresh(log.scroll_to, y=top, animate=False)
        errors = [o for o in event.outcomes if isinstance(o, ProbeError)]
        when = self.app.clock().strftime("%H:%M:%S UTC") if hasattr(self.app, "clock") else ""
        if errors:
            line, severity = errors[0].message, "error"
        elif several:
            line, severity = f"{len(event.outcomes)} servers answered at {when}.", "ok"
        else:
            line, severity = f"{explain(event.outcomes[0])} at {when}.", "ok"
        if event.note:
            line = f"{line} {event.note}"
        self._set_status(line, severity)
        self._show_verdict(event.verdict)
        self._set_presets(event.presets)

    @on(DnsFailed)
    def _failed(self, event: DnsFailed) -> None:
        self.outcomes = []
        self.verdict = None
        self.query_one("#dns-answer", Log).clear()
        self.query_one("#dns-verdict", Static).update("")
        self._set_status(event.message, "error")

    def _set_status(self, line: str, severity: str = "") -> None:
        self.status = line
        style = {"error": "bold red", "warning": "yellow"}.get(severity, "")
        self.query_one("#dns-status", Static).update(Text(line, style=style))

    def _show_verdict(self, verdict: "Verdict | None") -> None:
        widget = self.query_one("#dns-verdict", Static)
        if verdict is None:
            widget.update("")
            return
        # The headline and what differs; what matched is at the end of the answer (the screen is 24 lines high).
        style = {"OK": "bold green", "FAIL": "bold red"}.get(verdict.state, "yellow")
        text = Text(verdict.headline(), style=style)
        for d in verdict.differences:
            text.append("\n  " + d.line(), style="red")
        widget.update(text)

    def _set_presets(self, presets: list["Preset"]) -> None:
        if presets == self._presets:
            return
        self._presets = presets
        select = self.query_one("#dns-preset", Select)
        with self.prevent(Select.Changed):
            select.prompt = f"presets: {len(presets)} names of this Service" if presets else "presets: none"
            select.set_options([(f"{p.qtype:<5} {p.name}  ({p.label})", i) for i, p in enumerate(presets)])

    # -- the worker ----------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="dns")
    def dig(self, req: DigRequest) -> None:
        try:
            self.post_message(_dig(self.app, req, type(self).ask))
        except DigFailed as exc:
            self.post_message(DnsFailed(str(exc)))
        except Exception as exc:  # a bug must still be one line in the screen, not a crash
            self.post_message(DnsFailed(f"The DNS query failed unexpectedly ({type(exc).__name__}: {exc}); "
                                        f"please report it."))


def _command(outcome: "ProbeOutcome") -> str:
    """dig's command line as the user would type it: the address asked for, without the demo's loopback port."""
    s = outcome.server
    port = f" -p {s.port}" if s.port != 53 and (not s.name or s.name == s.host) else ""
    return f"@{s.shown_name}{port} {outcome.qname} {outcome.qtype}"


def _api_call(app: Any, action: tuple[str, str, str | None], fn: Callable[[], Any]) -> Any:
    import urllib3
    from kubernetes.client.exceptions import ApiException

    from tui.kube.client import explain_error

    try:
        return fn()
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise DigFailed(explain_error(exc, app.connection, action)) from None


def _servers(app: Any, req: DigRequest, api: Any, address_map: Mapping[str, tuple[str, int]]) -> list["DnsServer"]:
    from tui.dns.servers import parse_server, read_cluster_dns, read_resolv_conf

    if req.server == "custom":
        try:
            return [parse_server(req.custom, dict(address_map), "custom server")]
        except ValueError as exc:
            raise DigFailed(f"The custom server {exc}.") from None
    if req.server == "resolv":
        rc = read_resolv_conf()
        if not rc.nameservers:
            raise DigFailed(f"{rc.source or '/etc/resolv.conf'} lists no nameserver: choose another server.")
        return [parse_server(rc.nameservers[0], dict(address_map), rc.source or "/etc/resolv.conf")]
    cd = _api_call(app, ("list", "services and pods", "kube-system"), lambda: read_cluster_dns(api))
    found = cd.service_servers(address_map)[:1] if req.server == "kube-dns" else cd.pod_servers(address_map)
    if not found:
        what = "kube-dns Service address" if req.server == "kube-dns" else "CoreDNS pod"
        why = "; ".join(cd.problems) or "nothing found in kube-system"
        raise DigFailed(f"No cluster DNS found: no {what} to ask ({why}); choose a custom server.")
    return found


def _dig(app: Any, req: DigRequest, ask: Callable[..., "ProbeOutcome"] | None) -> DnsAnswered:
    """Everything the screen shows for one request: blocking, run in the worker's thread."""
    from tui.dns.expect import expect, parse_name, presets
    from tui.dns.probe import probe, query_name
    from tui.dns.servers import detect_zone, list_objects
    from tui.dns.verdict import judge
    from tui.kube.models import ServiceView, SliceView

    api = app.connection.api_client
    address_map = address_map_of(app)
    zone = detect_zone(None, api).zone
    text = expand_name(req.text, req.namespace, zone)
    servers = _servers(app, req, api, address_map)
    run = ask or probe
    with ThreadPoolExecutor(max_workers=min(8, len(servers))) as pool:
        outcomes = list(pool.map(lambda s: run(text, req.qtype, s, timeout=TIMEOUT, tries=1), servers))
    qname = query_name(text, req.qtype)
    cn = parse_name(qname, zone)
    verdict = None
    found: list["Preset"] = []
    note = ""
    try:
        services: list[ServiceView] = []
        slices: list[SliceView] = []
        if cn.kind in ("service", "endpoint", "srv", "reverse"):
            ns = cn.namespace if cn.kind != "reverse" else None
            selector = f"kubernetes.io/service-name={cn.service}" if cn.kind != "reverse" else None
            services = [ServiceView.from_api(o) for o in
                        _api_call(app, ("list", "services", ns), lambda: list_objects(api, "services", ns))]
            slices = [SliceView.from_api(o) for o in _api_call(
                app, ("list", "endpointslices", ns), lambda: list_objects(api, "endpointslices", ns, selector))]
            svc = next((s for s in services if s.name == cn.service and s.namespace == cn.namespace), None)
            if svc is not None:
                found = presets(svc, [s for s in slices if s.service == svc.name], zone)
        verdict = judge(expect(qname, req.qtype, zone, services, slices), outcomes)
    except DigFailed as exc:
        note = f"No verdict: {exc}"
    return DnsAnswered(qname, req.qtype, outcomes, verdict, found, note)
