"""The Service wizard: every Service type from one form, checked as you type, then preview -> server dry run ->
create through the guarded path (tui.kube.service_ops); and the Service delete with its confirmation.

The form holds text; tui.kube.service_form turns it into a ServiceSpec and says which field each apiserver error
belongs to, so the screen only reads widgets and paints answers. Two caches of its own keep the suggestions live
while it is open: the pods of the namespace typed (selector labels with their pod counts, ready pods, named
container ports for targetPort) and every Service (nodePorts already taken, caught before sending).

Keys: tab/shift+tab between fields, enter to the next field, ctrl+n adds a port, ctrl+s reviews the YAML; in
the review enter runs the server dry run and then creates, `s` saves the YAML to a file, esc goes back to the form
with everything typed kept. Errors from the server (422 causes, 409, 403) land on the fields they name.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Checkbox, ContentSwitcher, Footer, Input, Label, Select, Static

from tui.kube import service_form as form
from tui.kube.cache import PODS, SERVICES, Batch, ListWatchCache, Resource
from tui.kube.connection import ConnectionState, Phase
from tui.kube.guard import Guard, ReadOnlyError
from tui.kube.service_spec import (CLUSTER_IP, EXTERNAL_NAME, HEADLESS, KINDS, LOAD_BALANCER, NODE_PORT,
                                   ServiceSpec)
from tui.kube.state import ClusterState
from tui.kube.validation import NODE_PORT_RANGE
from tui.live import LiveBatch, LiveState
from tui.screens.confirm import ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

Key = tuple[str, str]
KIND_LABELS = {CLUSTER_IP: "ClusterIP", HEADLESS: "Headless (clusterIP None)", NODE_PORT: "NodePort",
               LOAD_BALANCER: "LoadBalancer", EXTERNAL_NAME: "ExternalName"}
KIND_WORDS = {k.lower(): k for k in KINDS} | {"headless": HEADLESS}
POLICIES = [("server default (Cluster)", ""), ("Cluster", "Cluster"), ("Local", "Local")]
NAMESPACE_DELAY = 0.4  # the namespace field rests this long before its pods are watched
MAX_LABEL_HINTS = 4


class Sent(Message):
    """A worker's answer to a dry run or a create."""

    def __init__(self, dry_run: bool, outcome: Any, manifest: dict[str, Any]) -> None:
        super().__init__()
        self.dry_run = dry_run
        self.outcome = outcome
        self.manifest = manifest


class Saved(Message):
    def __init__(self, text: str, ok: bool) -> None:
        super().__init__()
        self.text = text
        self.ok = ok


class ListSuggester(Suggester):
    """Completes the last comma-separated entry of a field from a list the screen keeps current."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.choices: list[str] = []

    async def get_suggestion(self, value: str) -> str | None:
        head, sep, last = value.rpartition(",")
        last_stripped = last.lstrip()
        if not last_stripped:
            return None
        lead = last[: len(last) - len(last_stripped)]
        for choice in self.choices:
            if choice.startswith(last_stripped) and choice != last_stripped:
                return f"{head}{sep}{lead}{choice}"
        return None


class PortRow(Horizontal):
    """One port: name, protocol, port, targetPort, nodePort, and a button that removes it."""

    _ids = itertools.count()

    def __init__(self, values: form.PortValues, target_suggester: Suggester) -> None:
        self.uid = next(self._ids)
        super().__init__(id=f"port{self.uid}", classes="port-row")
        self.values = values
        self._suggester = target_suggester

    def compose(self) -> ComposeResult:
        v, u = self.values, self.uid
        yield Input(v.name, placeholder="name", id=f"p{u}-name", classes="p-name", compact=True)
        yield Select([(p, p) for p in ("TCP", "UDP", "SCTP")], value=v.protocol or "TCP", allow_blank=False,
                     id=f"p{u}-protocol", classes="p-protocol", compact=True)
        yield Input(v.port, placeholder="port", id=f"p{u}-port", classes="p-port", compact=True)
        yield Input(v.target_port, placeholder="= port", id=f"p{u}-target", classes="p-target", compact=True,
                    suggester=self._suggester)
        yield Input(v.node_port, placeholder="auto", id=f"p{u}-node-port", classes="p-node-port", compact=True)
        yield Button("x", id=f"p{u}-remove", classes="p-remove", compact=True, tooltip="remove this port")

    def read(self) -> form.PortValues:
        u = self.uid
        proto = self.query_one(f"#p{u}-protocol", Select).value
        return form.PortValues(
            name=self.query_one(f"#p{u}-name", Input).value,
            protocol=proto if isinstance(proto, str) else "TCP",
            port=self.query_one(f"#p{u}-port", Input).value,
            target_port=self.query_one(f"#p{u}-target", Input).value,
            node_port=self.query_one(f"#p{u}-node-port", Input).value,
        )


class WizardScreen(ModalScreen[Key | None]):
    """Dismissed with the created Service's (namespace, name), or None when left without creating."""

    BINDING_GROUP_TITLE = "Service wizard"
    BINDINGS = [
        Binding("escape", "back", "back", key_display="esc"),
        Binding("ctrl+s", "review", "review", key_display="^s"),
        Binding("ctrl+n", "add_port", "add port", key_display="^n"),
        Binding("enter", "next_step", "dry run / create", key_display="enter"),
        Binding("s", "save", "save YAML"),
        # q would reach the app's quit and lose what was typed without a word: ask first (ctrl+c still quits)
        Binding("q", "quit_asking", "quit", show=False),
    ]
    DEFAULT_CSS = """
    WizardScreen { background: $background; }
    WizardScreen #title { height: 1; padding: 0 1; background: $panel; color: $text; text-style: bold; }
    WizardScreen #switcher { height: 1fr; }
    WizardScreen #form, WizardScreen #review { height: 1fr; padding: 0 1; }
    WizardScreen .field { height: auto; }
    WizardScreen .line { height: 1; }
    WizardScreen .line > Label { width: 17; color: $text-muted; }
    WizardScreen .line > Input, WizardScreen .line > Select { width: 1fr; }
    WizardScreen Input { background: $boost; }
    WizardScreen Input:focus { background: $primary 30%; }
    WizardScreen .hint { color: $text-muted; padding-left: 17; height: auto; }
    WizardScreen .error { color: $text-error; padding-left: 17; height: auto; }
    WizardScreen #err-form { padding-left: 0; }
    WizardScreen #ports-head { height: 1; margin-top: 1; }
    WizardScreen #ports-head > Label { width: 17; color: $text-muted; }
    WizardScreen #ports-columns { height: 1; color: $text-muted; width: 1fr; }
    WizardScreen .port-row { height: 1; padding-left: 17; }
    WizardScreen .port-row > Input, WizardScreen .port-row > Select { margin-right: 1; }
    WizardScreen .p-name { width: 14; }
    WizardScreen .p-protocol { width: 10; }
    WizardScreen .p-port { width: 7; }
    WizardScreen .p-target { width: 12; }
    WizardScreen .p-node-port { width: 8; }
    WizardScreen .p-remove { width: 3; min-width: 3; }
    WizardScreen #add-port { margin-left: 17; width: auto; }
    WizardScreen Checkbox { width: 1fr; }
    WizardScreen #review-status { height: auto; margin-bottom: 1; }
    WizardScreen #review-status.error { color: $text-error; padding-left: 0; }
    WizardScreen #filled { height: auto; color: $text-success; margin-bottom: 1; }
    WizardScreen #yaml { height: auto; }
    """

    def __init__(self, namespace: str, kind: str = CLUSTER_IP, *, read_only: bool = False,
                 services: ClusterState | None = None) -> None:
        super().__init__()
        self.namespace = namespace
        self.kind = kind if kind in KINDS else CLUSTER_IP
        self.guard = Guard(read_only=read_only)
        self.fallback_services = services  # the main screen's state, for nodePorts when Services cannot be listed
        self.state = ClusterState()
        self.errors: dict[str, str] = {}  # apiserver path -> message, as typed
        self.server_errors: dict[str, str] = {}  # from the last dry run or create, until the next edit
        self.server_message = ""  # the server's refusal in one sentence, above the form until the next edit
        self.spec = ServiceSpec()
        self.mode = "form"
        self.dry_run_ok: dict[str, Any] | None = None  # the manifest the last successful dry run accepted
        self.busy = False
        self.created: Key | None = None
        self._pod_cache: ListWatchCache | None = None
        self._svc_cache: ListWatchCache | None = None
        self._pods_listed = False
        self._ns_timer: Timer | None = None
        self._selector_suggester = ListSuggester()
        self._target_suggester = ListSuggester()
        self._taken: dict[int, str] = {}
        # Errors show under a field once it was typed in or left, or after ^s asked for the review: a form that
        # opens red all over helps nobody. Server errors always show.
        self.touched: set[str] = set()
        self.show_all = False
        self._armed = False

    @property
    def svcscope(self) -> "SvcscopeApp":
        return self.app  # type: ignore[return-value]

    # -- layout ------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title", markup=False)
        with ContentSwitcher(initial="form", id="switcher"):
            with VerticalScroll(id="form"):
                yield Static("", id="err-form", classes="error", markup=False)
                yield from self._field("name", "name", Input(placeholder="a DNS-1035 label, e.g. web", id="name",
                                                             compact=True))
                yield from self._field("namespace", "namespace", Input(self.namespace, id="namespace", compact=True))
                yield from self._field("kind", "type", Select([(KIND_LABELS[k], k) for k in KINDS], value=self.kind,
                                                              allow_blank=False, id="kind", compact=True))
                yield from self._field("external-name", "externalName",
                                       Input(placeholder="a DNS name, e.g. db.example.com", id="external-name",
                                             compact=True))
                yield from self._field("cluster-ip", "clusterIP",
                                       Input(placeholder="allocated by the server (or an IP, or None)",
                                             id="cluster-ip", compact=True))
                yield from self._field("selector", "selector",
                                       Input(placeholder="key=value, ... (right arrow completes a label)",
                                             id="selector", compact=True, suggester=self._selector_suggester))
                with Horizontal(id="ports-head"):
                    yield Label("ports")
                    yield Static("name           protocol   port    targetPort   nodePort", id="ports-columns",
                                 markup=False)
                yield Vertical(id="ports", classes="field")
                yield Button("+ add port (^n)", id="add-port", compact=True)
                yield Static("", id="err-ports", classes="error", markup=False)
                yield Static("", id="hint-ports", classes="hint", markup=False)
                yield from self._field("affinity", "sessionAffinity",
                                       Select([("None", "None"), ("ClientIP", "ClientIP")], value="None",
                                              allow_blank=False, id="affinity", compact=True))
                yield from self._field("timeout", "affinity timeout",
                                       Input(placeholder="seconds, 1-86400 (server default 10800)", id="timeout",
                                             compact=True))
                yield from self._field("etp", "externalTraffic",
                                       Select(POLICIES, value="", allow_blank=False, id="etp", compact=True))
                yield from self._field("itp", "internalTraffic",
                                       Select(POLICIES, value="", allow_blank=False, id="itp", compact=True))
                yield from self._field("external-ips", "externalIPs",
                                       Input(placeholder="addresses, comma-separated", id="external-ips",
                                             compact=True))
                yield from self._field("lb-ranges", "sourceRanges",
                                       Input(placeholder="CIDRs allowed in, e.g. 10.0.0.0/8", id="lb-ranges",
                                             compact=True))
                yield from self._field("lb-class", "loadBalancerClass",
                                       Input(placeholder="e.g. example.com/internal (blank: the default LB)",
                                             id="lb-class", compact=True))
                yield from self._field("publish", "notReady",
                                       Checkbox("publishNotReadyAddresses", id="publish", compact=True))
                yield from self._field("labels", "labels", Input(placeholder="key=value, ...", id="labels",
                                                                 compact=True))
                yield from self._field("annotations", "annotations",
                                       Input(placeholder="key=value, ...", id="annotations", compact=True))
            with VerticalScroll(id="review"):
                yield Static("", id="review-status", markup=False)
                yield Static("", id="filled", markup=False)
                yield Static("", id="yaml", markup=False)
        yield Footer()

    def _field(self, fid: str, label: str, widget: Widget) -> ComposeResult:
        with Vertical(id=f"row-{fid}", classes="field"):
            with Horizontal(classes="line"):
                yield Label(label)
                yield widget
            yield Static("", id=f"hint-{fid}", classes="hint", markup=False)
            yield Static("", id=f"err-{fid}", classes="error", markup=False)

    async def on_mount(self) -> None:
        for hint in self.query(".hint"):
            hint.display = False
        await self._add_port(form.PortValues())
        self._start_services()
        self._watch_pods(self.namespace)
        self._refresh()
        self.query_one("#name", Input).focus()
        self.call_after_refresh(self._arm)

    def _arm(self) -> None:
        self._armed = True  # Changed events from here on are the user's

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        wid = event.control.id if event.control is not None else None
        if wid and self.mode == "form" and wid not in self.touched:
            self.touched.add(wid)
            self._paint_errors()

    def on_unmount(self) -> None:
        for cache in (self._pod_cache, self._svc_cache):
            if cache is not None:
                cache.stop(join=None)

    # -- reading and painting the form ------------------------------------------------------------------------

    @property
    def port_rows(self) -> list[PortRow]:
        return list(self.query(PortRow))

    def values(self) -> form.FormValues:
        def text(fid: str) -> str:
            return self.query_one(f"#{fid}", Input).value

        def choice(fid: str) -> str:
            value = self.query_one(f"#{fid}", Select).value
            return value if isinstance(value, str) else ""

        return form.FormValues(
            name=text("name"), namespace=text("namespace"), kind=choice("kind") or CLUSTER_IP,
            cluster_ip=text("cluster-ip"), external_name=text("external-name"), selector=text("selector"),
            ports=[row.read() for row in self.port_rows], session_affinity=choice("affinity") or "None",
            timeout=text("timeout"), external_traffic_policy=choice("etp"), internal_traffic_policy=choice("itp"),
            external_ips=text("external-ips"), load_balancer_source_ranges=text("lb-ranges"),
            load_balancer_class=text("lb-class"),
            publish_not_ready_addresses=self.query_one("#publish", Checkbox).value,
            labels=text("labels"), annotations=text("annotations"),
        )

    def _refresh(self) -> None:
        """Re-check everything typed and repaint visibility, hints and errors (cheap: a few dozen widgets)."""
        values = self.values()
        self.spec, self.errors = form.check(values, self._taken)
        self._show_fields(self.spec)
        self._paint_hints(values)
        self._paint_errors()
        ns = self.spec.namespace or self.namespace
        where = f"{ns}/{self.spec.name}" if self.spec.name else ns
        count = len(self.errors)
        state = f"{count} field{'s' if count != 1 else ''} to fix" if count else "ready: ^s to review"
        if self.mode == "review":
            state = "review"
        ro = " (read-only: preview and save only)" if self.guard.read_only else ""
        title = f"Create {KIND_LABELS[self.spec.kind]} Service {where}  ·  {state}{ro}"
        self.query_one("#title", Static).update(title)

    def _show_fields(self, spec: ServiceSpec) -> None:
        shown = {
            "external-name": spec.uses("externalName"),
            "cluster-ip": spec.uses("clusterIP"),
            "selector": spec.uses("selector"),
            "affinity": spec.uses("affinity"),
            "timeout": spec.uses("affinity") and spec.session_affinity == "ClientIP",
            "etp": spec.uses("externalTrafficPolicy"),
            "itp": spec.uses("internalTrafficPolicy"),
            "external-ips": spec.uses("externalIPs"),
            "lb-ranges": spec.uses("loadBalancer"),
            "lb-class": spec.uses("loadBalancer"),
            "publish": spec.kind == HEADLESS,
        }
        for fid, show in shown.items():
            row = self.query_one(f"#row-{fid}")
            if row.display != show:
                row.display = show
        node_ports = spec.uses("nodePort")
        for row in self.port_rows:
            box = row.query_one(f"#p{row.uid}-node-port", Input)
            if box.display != node_ports:
                box.display = node_ports
        columns = "name           protocol   port    targetPort" + ("   nodePort" if node_ports else "")
        self.query_one("#ports-columns", Static).update(columns)

    def _paint_hints(self, values: form.FormValues) -> None:
        ns = self.spec.namespace or self.namespace
        pods = self.state.pods_in(ns) if self._pods_listed else None
        hit = form.matching(pods or [], self.spec.selector)
        choices = form.label_choices(pods or [])
        self._selector_suggester.choices = [f"{k}={v}" for k, v, _ in choices]
        hint = form.pod_count_text(pods, self.spec.selector, ns)
        if pods is not None and choices and not self.spec.selector:
            top = ", ".join(f"{k}={v} ({n})" for k, v, n in choices[:MAX_LABEL_HINTS])
            hint += f"\npod labels: {top}"
        self._set("#hint-selector", hint if self.spec.uses("selector") else "")
        named = form.named_ports(hit)
        self._target_suggester.choices = [name for name, _, _ in named]
        lines = []
        if named:
            lines.append("named ports of the matching pods: "
                         + ", ".join(f"{n} ({p}/{proto})" for n, p, proto in named) + " (right arrow completes)")
        if self.spec.uses("nodePort"):
            lo, hi = NODE_PORT_RANGE
            taken = sorted(self._taken)
            shown = ", ".join(str(p) for p in taken[:6]) + (" ..." if len(taken) > 6 else "")
            lines.append(f"nodePort: blank = allocated from {lo}-{hi}; {hi - lo + 1 - len(taken)} free"
                         + (f", taken: {shown}" if taken else ""))
        if len(self.port_rows) > 1:
            lines.append("several ports: each needs a unique name")
        self._set("#hint-ports", "\n".join(lines))
        self._set("#hint-publish", "DNS lists pods before they are ready (StatefulSet peers)"
                  if self.spec.kind == HEADLESS else "")

    def _shown(self, fid: str, rows: list[PortRow]) -> bool:
        """Whether the errors of field `fid` (service_form.field_id) are shown yet."""
        if self.show_all:
            return True
        if fid.startswith("port-"):
            _, index, part = fid.split("-", 2)
            i = int(index)
            return i < len(rows) and f"p{rows[i].uid}-{part}" in self.touched
        if fid == "ports":
            return any(t.startswith("p") and t[1:2].isdigit() for t in self.touched)
        return fid in self.touched

    def _paint_errors(self) -> None:
        rows = self.port_rows
        merged = {p: m for p, m in self.errors.items() if self._shown(form.field_id(p), rows)}
        for path, message in self.server_errors.items():
            merged.setdefault(path, message)
        grouped = form.by_field(merged)
        port_errors: dict[int, list[str]] = {}
        for fid, messages in grouped.items():
            if fid.startswith("port-"):
                index = int(fid.split("-")[1])
                port_errors.setdefault(index, []).extend(messages)
        for row in self.query(".error"):
            if not (row.id or "").startswith("err-"):
                continue
            fid = row.id.removeprefix("err-")
            if fid.startswith("port"):
                continue
            lines = grouped.get(fid, [])
            if fid == "form" and self.server_message:
                lines = [self.server_message, *lines]
            self._set(f"#{row.id}", "\n".join(lines))
        lines = grouped.get("ports", [])[:]
        for index in sorted(port_errors):
            label = f"port {index + 1}" if index < len(rows) else f"spec.ports[{index}]"
            lines += [f"{label}: {m}" for m in port_errors[index]]
        self._set("#err-ports", "\n".join(lines))
        for i, row in enumerate(rows):
            bad = {fid.rsplit("-", 1)[-1] if not fid.endswith("node-port") else "node-port"
                   for fid in grouped if fid.startswith(f"port-{i}-")}
            for part in ("name", "port", "target", "node-port"):
                row.query_one(f"#p{row.uid}-{part}", Input).set_class(part in bad, "-invalid")

    def _set(self, selector: str, text: str) -> None:
        widget = self.query_one(selector, Static)
        if str(widget.content) != text:
            widget.update(text)
        show = bool(text)
        if widget.display != show:
            widget.display = show

    # -- edits -------------------------------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Message) -> None:
        if not self.is_mounted or self.mode != "form":
            return
        self.server_errors = {}
        self.server_message = ""
        self.dry_run_ok = None
        control = getattr(event, "control", None)
        wid = getattr(control, "id", None)
        if self._armed and wid:
            self.touched.add(wid)
        if wid == "namespace":
            self._namespace_changed()
        self._refresh()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#add-port")
    async def _add_pressed(self) -> None:
        await self.action_add_port()

    @on(Button.Pressed, ".p-remove")
    async def _remove_pressed(self, event: Button.Pressed) -> None:
        row = event.button.parent
        if isinstance(row, PortRow):
            rows = self.port_rows
            index = rows.index(row)
            await row.remove()
            remaining = self.port_rows
            if remaining:
                remaining[min(index, len(remaining) - 1)].query_one(Input).focus()
            else:
                self.query_one("#add-port").focus()
            self._refresh()

    async def action_add_port(self) -> None:
        if self.mode != "form":
            return
        row = await self._add_port(form.PortValues())
        row.query_one(f"#p{row.uid}-name", Input).focus()
        self._refresh()

    async def _add_port(self, values: form.PortValues) -> PortRow:
        row = PortRow(values, self._target_suggester)
        await self.query_one("#ports", Vertical).mount(row)
        return row

    # -- review, dry run, create ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_step", "save"):
            return self.mode == "review"
        if action in ("review", "add_port"):
            return self.mode == "form"
        return True

    def action_quit_asking(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.app.exit(0)

        what = "The Service in this review is not created" if self.mode == "review" else \
            "What is typed in this form is not kept"
        self.app.push_screen(ConfirmScreen("Quit svcscope", f"Quit svcscope? {what}: it is lost (s in the review "
                                           "saves the YAML to a file first).", yes="Quit"), answered)

    def action_back(self) -> None:
        if self.mode == "review":
            self._to_form()
        else:
            self.dismiss(None)

    def action_review(self) -> None:
        self.show_all = True
        self._refresh()
        if self.errors:
            first = next(iter(form.by_field(self.errors)))
            self._focus_field(first)  # the title counts them; the messages sit under their fields
            return
        self.mode = "review"
        self._refresh()
        self.query_one(ContentSwitcher).current = "review"
        self.query_one("#yaml", Static).update(
            Syntax(self.spec.to_yaml(), "yaml", theme="ansi_dark", background_color="default", word_wrap=False))
        self._set_status("The exact YAML that will be sent. enter: server dry run (nothing is created), "
                         "s: save to a file, esc: back to the form.")
        self._set("#filled", "")
        self.query_one("#review", VerticalScroll).focus()
        self.refresh_bindings()

    def _to_form(self, focus: str | None = None) -> None:
        self.mode = "form"
        self.query_one(ContentSwitcher).current = "form"
        self._refresh()
        self.refresh_bindings()
        if focus:
            self._focus_field(focus)
        else:
            self.query_one("#name", Input).focus()

    def _focus_field(self, fid: str) -> None:
        if fid.startswith("port-"):
            _, index, part = fid.split("-", 2)
            rows = self.port_rows
            if int(index) < len(rows):
                row = rows[int(index)]
                row.query_one(f"#p{row.uid}-{part}").focus()
                return
            fid = "ports"
        widget = self.query(f"#{fid}").first() if fid not in ("form", "ports") else None
        if widget is not None and widget.focusable:
            widget.focus()
            widget.scroll_visible()
        elif fid == "ports":
            self.query_one("#add-port").focus()

    def _set_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#review-status", Static)
        status.update(text)
        status.set_class(error, "error")

    def action_next_step(self) -> None:
        if self.mode != "review" or self.busy:
            return
        manifest = self.spec.manifest()
        dry = self.dry_run_ok != manifest
        try:
            self.guard.check(f"{'the server dry run of' if dry else 'creating'} Service {self._target()}")
        except ReadOnlyError as exc:
            self._set_status(f"{exc}. s saves the YAML to a file instead.", error=True)
            return
        self.busy = True
        self._set_status("Asking the API server (dry run: nothing is created)..." if dry else "Creating...")
        self._send(self.spec, dry)

    def _target(self) -> str:
        return f"{self.spec.namespace or self.namespace}/{self.spec.name}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="wizard-send")
    def _send(self, spec: ServiceSpec, dry_run: bool) -> None:
        from tui.kube import service_ops

        outcome = service_ops.create(self.svcscope.connection.api_client, spec, self.namespace, dry_run, self.guard)
        self.post_message(Sent(dry_run, outcome, spec.manifest()))

    @on(Sent)
    def _sent(self, message: Sent) -> None:
        self.busy = False
        outcome = message.outcome
        if not outcome.ok:
            # Back to the form, everything typed still there, the server's words on the fields they name.
            self._to_form(next(iter(form.by_field(outcome.fields)), None))
            self.server_errors = dict(outcome.fields)
            self.server_message = outcome.message
            self._paint_errors()
            self.svcscope.notify(outcome.message, title="Create Service", severity="error", timeout=10)
            return
        if message.dry_run:
            self.dry_run_ok = message.manifest
            filled = form.server_filled(message.manifest, outcome.obj or {})
            self._set("#filled", "The server fills in:\n" + "\n".join(filled) if filled else "")
            self._set_status(f"{outcome.message} enter: create it now, s: save the YAML, esc: back to the form.")
            return
        obj = outcome.obj or {}
        meta = obj.get("metadata", {}) if isinstance(obj, dict) else {}
        self.created = (meta.get("namespace") or self.spec.namespace or self.namespace,
                        meta.get("name", self.spec.name))
        self.svcscope.notify(outcome.message, title="Create Service")
        self.dismiss(self.created)

    def action_save(self) -> None:
        if self.mode != "review":
            return
        default = f"{self.spec.name or 'service'}.yaml"
        self.app.push_screen(PromptScreen("Save the YAML as", default), self._save_to)

    def _save_to(self, path: str | None) -> None:
        if path:
            self._write(path, self.spec.to_yaml())

    @work(thread=True, exit_on_error=False, group="wizard-save")
    def _write(self, path: str, text: str) -> None:
        target = Path(path).expanduser()
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.post_message(Saved(f"Could not save {target} ({exc.strerror or exc}): pick another path.", False))
            return
        self.post_message(Saved(f"Saved the YAML to {target.resolve()} (`kubectl create -f {target}` sends it).",
                                True))

    @on(Saved)
    def _saved(self, message: Saved) -> None:
        self._set_status(message.text, error=not message.ok)
        self.svcscope.notify(message.text, title="Save YAML", severity="information" if message.ok else "error")

    # -- the live suggestions ---------------------------------------------------------------------------------

    def _start(self, resource: Resource, namespace: str | None) -> ListWatchCache:
        cache: ListWatchCache

        def on_batch(batch: Batch) -> None:
            self.post_message(LiveBatch(cache, batch))

        def on_state(state: ConnectionState) -> None:
            if not cache.stopping:
                self.post_message(LiveState(cache, state))

        conn = self.svcscope.connection
        cache = ListWatchCache(conn.api_client, resource, namespace, on_batch=on_batch, on_state=on_state,
                               clock=self.svcscope.clock, connection=conn)
        self.run_worker(cache.run, name=f"wizard-{resource.plural}", group="wizard-live", thread=True,
                        exit_on_error=False)
        return cache

    def _start_services(self) -> None:
        self._svc_cache = self._start(SERVICES, None)

    def _watch_pods(self, namespace: str) -> None:
        if self._pod_cache is not None:
            self._pod_cache.stop(join=None)
        self._pods_listed = False
        self.state.apply(Batch("pods", {}, {}, {}, reset=True, snapshot={}))
        self._pod_cache = self._start(PODS, namespace) if namespace else None

    def _namespace_changed(self) -> None:
        if self._ns_timer is not None:
            self._ns_timer.stop()
        ns = self.query_one("#namespace", Input).value.strip()
        self._ns_timer = self.set_timer(NAMESPACE_DELAY, lambda: self._watch_pods(ns))

    @on(LiveBatch)
    def _live_batch(self, message: LiveBatch) -> None:
        message.stop()
        if message.cache is self._pod_cache:
            self.state.apply(message.batch)
            self._pods_listed = self._pods_listed or message.batch.reset
        elif message.cache is self._svc_cache:
            self.state.apply(message.batch)
            self._taken = form.taken_node_ports(self.state.services.values())
        else:
            return
        if self.mode == "form":
            self._refresh()

    @on(LiveState)
    def _live_state(self, message: LiveState) -> None:
        message.stop()
        if message.cache is self._svc_cache and message.state.phase is Phase.DISCONNECTED:
            # Services of every namespace cannot be read: the main screen's are better than none.
            if self.fallback_services is not None and not self.state.services:
                self._taken = form.taken_node_ports(self.fallback_services.services.values())


# -- entry points (the Services pane's keys, the `:create` jump) ----------------------------------------------

def open_wizard(app: "SvcscopeApp", kind: str = "") -> None:
    """Push the wizard for the current namespace; on create, the main screen selects the new Service."""
    from tui.screens.main import MainScreen

    word = kind.strip().lower()
    if word and word not in KIND_WORDS:
        app.notify(f"{kind!r} is not a Service type: one of {', '.join(KIND_WORDS)}.", title="Create Service",
                   severity="error")
        return
    main = app.screen_stack[0] if app.screen_stack and isinstance(app.screen_stack[0], MainScreen) else None
    namespace = "default" if app.scope.all_namespaces else app.scope.namespace

    def created(key: Key | None) -> None:
        if key is None or main is None:
            return
        if not app.scope.all_namespaces and key[0] != app.scope.namespace:
            app.set_namespace(key[0])
        app.main_screen().select_service(*key)

    app.push_screen(WizardScreen(namespace, KIND_WORDS.get(word, CLUSTER_IP), read_only=app.options.read_only,
                                 services=main.state if main is not None else None), created)


def confirm_delete(app: "SvcscopeApp", key: Key | None) -> None:
    """Ask, naming the Service, then delete it through the guard; --read-only says why not before asking."""
    if key is None:
        app.notify("Select a Service first.", title="Delete Service")
        return
    namespace, name = key
    guard = Guard(read_only=app.options.read_only)
    try:
        guard.check(f"deleting Service {namespace}/{name}")
    except ReadOnlyError as exc:
        app.notify(f"{exc}.", title="Delete Service", severity="error")
        return

    def answered(yes: bool | None) -> None:
        if yes:
            _delete(app, namespace, name, guard)

    app.push_screen(ConfirmScreen("Delete Service", f"Delete Service {name} in namespace {namespace}? Its "
                                  "EndpointSlices go with it; this cannot be undone.", yes="Delete"), answered)


def _delete(app: "SvcscopeApp", namespace: str, name: str, guard: Guard) -> None:
    from tui.kube import service_ops

    def run() -> None:
        outcome = service_ops.delete(app.connection.api_client, namespace, name, guard)
        app.call_from_thread(app.notify, outcome.message, title="Delete Service",
                             severity="information" if outcome.ok else "error", timeout=None if outcome.ok else 10)

    app.run_worker(run, name="delete-service", group="delete-service", thread=True, exit_on_error=False)
