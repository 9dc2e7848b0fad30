"""The trace screen (`t` or enter on a Service, `:trace NAME`): one Service's chain as a tree, live.

Service -> port -> virtual servers on this node (ClusterIP, NodePort per node IP, externalIPs, LoadBalancer IPs)
-> real servers matched to EndpointSlice endpoints -> pods, then the selected pods and DNS answers; every finding
under the link it is about, with its likely cause. Each line starts with its verdict as a symbol and a word
(`✓`, `i`, `!`, `✗`), so it reads without colour; colour (the 16 base colours, safe on 256-colour SSH terminals)
marks the worst verdict below each line, so the path to a problem stands out.

No computation here: the trace feed (tui.trace_feed) recomputes the trace in its worker whenever the Service, its
slices, the pods, the IPVS table or DNS change, and posts `TraceReady`; this screen turns the Trace into tree
lines (`outline()`, pure) and shows them. Updates keep the cursor and what was expanded or collapsed: lines have
stable ids (the chain's keys), labels are changed in place when the shape is the same, and a new shape is built
with each known line's state restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from tui.screens.base import BaseScreen
from tui.trace.model import SYMBOLS, Finding, Trace, level_rank
from tui.trace_feed import TraceReady

if TYPE_CHECKING:
    from tui.kube.client import Scope
    from tui.trace.join import NodeContext
    from tui.trace_feed import TraceFeed

Key = tuple[str, str]
STYLES = {"error": "bold red", "warning": "yellow", "ok": "green", "info": "cyan", "": ""}
WORDS = {"error": "ERROR", "warning": "WARN", "info": "INFO", "ok": "OK"}


@dataclass
class Line:
    """One tree line: a stable id, its own verdict, text, and children."""

    id: str
    text: str
    level: str = ""  # its own verdict: "error" | "warning" | "info" | "ok" | "" (plain)
    children: list["Line"] = field(default_factory=list)
    expand: bool = True  # for a line seen the first time

    @property
    def worst(self) -> str:
        """The worst verdict in this line's subtree (what colours it)."""
        levels = [self.level, *(c.worst for c in self.children)]
        return min((lv for lv in levels if lv), key=lambda lv: _rank(lv), default="")

    def shape(self) -> tuple:
        return (self.id, tuple(c.shape() for c in self.children))


def _rank(level: str) -> int:
    return 3 if level == "ok" else level_rank(level)


def _finding_lines(prefix: str, findings: Iterable[Finding]) -> list[Line]:
    out = []
    for i, f in enumerate(findings):
        where = f"{f.subject}: " if f.subject and prefix == "service" else ""  # else the parent line says where
        line = Line(f"{prefix}/finding:{f.code}:{i}", f"{SYMBOLS[f.level]} {WORDS[f.level]} {f.code}: {where}"
                    f"{f.message}", f.level)
        if f.cause:
            line.children.append(Line(f"{line.id}/cause", f"likely cause: {f.cause}"))
        out.append(line)
    return out


def _own(findings: Iterable[Finding]) -> str:
    levels = [f.level for f in findings]
    return min(levels, key=_rank) if levels else "ok"


def outline(trace: Trace, node: "NodeContext | None" = None) -> Line:
    """The trace as tree lines (pure: the tests read it as the user does)."""
    svc = trace.service
    worst = trace.worst if trace.worst in ("error", "warning") else "ok"
    ips = ",".join(svc.cluster_ips) or svc.cluster_ip or "<none>"
    root = Line("service", f"{SYMBOLS[worst]} {WORDS[worst]}  Service {svc.namespace}/{svc.name}  {svc.type} {ips}",
                "")
    # Service-level findings about one port (a targetPort no pod exposes) go under that port's line
    by_port = {f"port {p.port.port}/{p.port.protocol}" for p in trace.ports}
    root.children += _finding_lines("service", [f for f in trace.findings if f.subject not in by_port])
    for p in trace.ports:
        pid = f"port:{p.port.name}/{p.port.port}/{p.port.protocol}"
        subject = f"port {p.port.port}/{p.port.protocol}"
        findings = [f for f in trace.findings if f.subject == subject] + list(p.findings)
        ready = sum(1 for e in p.endpoints if e.is_ready)
        targets = ",".join(map(str, p.target_ports)) or "unresolved"
        own = _own(findings)
        port = Line(pid, f"{SYMBOLS[own]} {p.label}  (target {targets}; {ready}/{len(p.endpoints)} endpoints "
                         f"ready)", own)
        port.children += _finding_lines(pid, findings)
        for vs in p.virtual_servers:
            vid = f"{pid}/vs:{vs.endpoint}"
            own = _own(vs.findings)
            if vs.actual is None:
                detail = "missing from this node's table"
            else:
                persist = f" persistent {vs.actual.timeout}s" if vs.actual.persistent else ""
                detail = f"{vs.actual.scheduler}{persist}, {len(vs.actual.real_servers)} real server(s)"
            vline = Line(vid, f"{SYMBOLS[own]} {vs.role}: {vs.endpoint}  {detail}", own)
            vline.children += _finding_lines(vid, vs.findings)
            for rs in vs.real_servers:
                rid = f"{vid}/rs:{rs.address}:{rs.port}"
                own = _own(rs.findings)
                weight = f"weight {rs.actual.weight}" if rs.actual is not None else "absent"
                if rs.actual is not None and (rs.actual.active_conns or rs.actual.inactive_conns):
                    weight += f", {rs.actual.active_conns}/{rs.actual.inactive_conns} conns"
                if rs.endpoint is None:
                    ep = "no endpoint"
                else:
                    state = "ready" if rs.endpoint.is_ready else ("terminating" if rs.endpoint.is_terminating
                                                                   else "not ready")
                    ep = f"endpoint {state}" + (f" on {rs.endpoint.node_name}" if rs.endpoint.node_name else "")
                pod = f" -> pod {rs.pod}" if rs.pod else ""
                rline = Line(rid, f"{SYMBOLS[own]} {rs.address}:{rs.port}  {weight}, {ep}{pod}", own)
                rline.children += _finding_lines(rid, rs.findings)
                vline.children.append(rline)
            port.children.append(vline)
        if not p.virtual_servers and p.endpoints:
            for e in p.endpoints:
                state = "ready" if e.is_ready else ("terminating" if e.is_terminating else "not ready")
                sym = SYMBOLS["ok" if e.is_ready else "warning"]
                port.children.append(Line(f"{pid}/ep:{e.address}", f"{sym} endpoint {e.address} {state}"
                                          + (f" -> pod {e.target_name}" if e.target_name else ""), "",
                                          expand=False))
        root.children.append(port)
    if svc.selector:
        ready = sum(1 for p in trace.pods if p.ready and not p.deleting)
        pods = Line("pods", f"pods matching {svc.kubectl_selector()}: {len(trace.pods)} ({ready} ready)", "",
                    expand=len(trace.pods) <= 10)
        for p in trace.pods:
            state = "terminating" if p.deleting else ("ready" if p.ready else "not ready")
            level = "ok" if p.ready and not p.deleting else "warning"
            pods.children.append(Line(f"pods/{p.name}", f"{SYMBOLS[level]} {p.namespace}/{p.name}  "
                                                        f"{p.pod_ip or 'no IP'}  {state}"
                                                        + (f"  on {p.node_name}" if p.node_name else ""), ""))
        root.children.append(pods)
    dns = Line("dns", "DNS: asking the cluster DNS..." if not trace.dns_lines else "DNS answers", "")
    dns.children += [Line(f"dns/{i}", text.strip(), "") for i, text in enumerate(trace.dns_lines)]
    root.children.append(dns)
    where = f"node {node.name}" if node is not None and node.name else "no node"
    note = trace.ipvs_note or (node.table_error if node is not None else "")
    root.children.append(Line("ipvs", f"compared with: {where}, kube-proxy mode "
                                      f"{(node.proxy_mode if node else '') or 'unknown'}"
                                      + (f"; {note}" if note else ""), ""))
    return root


class TraceScreen(BaseScreen):
    """One Service's trace, kept live by the trace feed."""

    BINDING_GROUP_TITLE = "Trace screen"
    BINDINGS = [
        Binding("escape", "app.back", "back", key_display="esc"),
        Binding("e", "expand_all", "expand"),
        Binding("c", "collapse_oks", "fold OK"),
    ]
    DEFAULT_CSS = """
    TraceScreen #trace-status { height: 1; padding: 0 1; }
    TraceScreen #trace-tree { height: 1fr; border: round $panel-lighten-2; }
    TraceScreen #trace-tree:focus { border: round $accent; }
    /* the keys on one 80-column line, as on the main screen */
    TraceScreen FooterKey .footer-key--key { padding: 0 0 0 1; }
    TraceScreen FooterKey .footer-key--description { padding: 0 0 0 1; }
    """

    def __init__(self, key: Key, feed: "TraceFeed") -> None:
        super().__init__()
        self.key = key
        self.feed = feed
        self.trace: Trace | None = None
        self.lines: Line | None = None
        self.updates = 0  # traces shown (tests wait on it)
        self._shape: tuple | None = None
        self._expanded: dict[str, bool] = {}
        self._closing = ""  # the notice to show when this screen closes after a scope change

    def compose_body(self) -> ComposeResult:
        yield Static(Text(f"Tracing {self.key[0]}/{self.key[1]}..."), id="trace-status")
        tree: Tree[str] = Tree("", id="trace-tree")
        tree.auto_expand = False  # enter selects; space/click toggles (Tree's own keys)
        tree.guide_depth = 3
        yield tree

    def on_mount(self) -> None:
        from textual.widgets import Footer

        self.query_one(Footer).show_command_palette = False  # ^p still opens it; ? lists every key
        self.query_one(Tree).focus()
        self.feed.watch(self.key, self)
        self.watch(self.app, "scope", self._scope_changed, init=False)

    def on_unmount(self) -> None:
        self.feed.unwatch(self.key, self)

    # -- :ns and :ctx while open ---------------------------------------------------------------------------------

    def _scope_changed(self, old: "Scope", new: "Scope") -> None:
        """The main screen stops this trace's feed on a scope change: close with one line saying why rather than show
        a frozen trace. (Re-subscribing to the new scope's feed was tried; its updates went missing now and then.)"""
        ns, name = self.key
        where = f"context {new.context}" if new.context != old.context else new.label
        self._closing = (f"Closed the trace of {ns}/{name}: the view changed to {where}; "
                         "enter on the Service traces it again.")
        self._close_if_current()

    def on_screen_resume(self) -> None:
        self._close_if_current()  # a picker or help was on top when the scope changed

    def _close_if_current(self) -> None:
        if self._closing and self.app.screen is self:
            self.app.notify(self._closing, title="Trace")
            self._closing = ""
            self.app.pop_screen()

    @property
    def tree(self) -> Tree[str]:
        return self.query_one("#trace-tree", Tree)

    @on(TraceReady)
    def _trace_ready(self, message: TraceReady) -> None:
        if message.key != self.key:
            return
        status = self.query_one("#trace-status", Static)
        if message.trace is None:
            status.update(Text(f"✗ Service {self.key[0]}/{self.key[1]} does not exist (any more).", "bold red"))
            self.trace = None
            return
        self.trace = message.trace
        self.lines = outline(message.trace, message.node)
        self._show(self.lines)
        findings = [f for f in message.trace.all_findings if f.level in ("error", "warning")]
        errors = sum(f.level == "error" for f in findings)
        worst = message.trace.worst if message.trace.worst in ("error", "warning") else "ok"
        text = (f"{SYMBOLS[worst]} {errors} error(s), {len(findings) - errors} warning(s)" if findings else
                f"{SYMBOLS['ok']} every check passes")
        status.update(Text(f"{text}  ({self.key[0]}/{self.key[1]}, live)", STYLES[worst]))
        self.updates += 1

    # -- the tree --------------------------------------------------------------------------------------------

    def _label(self, line: Line) -> Text:
        return Text(line.text, style=STYLES[line.worst], no_wrap=True, end="")

    def _show(self, root: Line) -> None:
        tree = self.tree
        shape = root.shape()
        if shape == self._shape:
            self._relabel(tree.root, root)
            return
        self._remember(tree.root)
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        scroll = tree.scroll_offset
        tree.clear()
        tree.root.set_label(self._label(root))
        tree.root.data = root.id
        self._add(tree.root, root)
        tree.root.expand()
        self._shape = shape
        line = self._line_of(tree, cursor) if cursor is not None else None
        tree.move_cursor_to_line(line if line is not None else 0)
        tree.scroll_to(scroll.x, scroll.y, animate=False)

    def _relabel(self, node: TreeNode[str], line: Line) -> None:
        node.set_label(self._label(line))
        for child, sub in zip(node.children, line.children):
            self._relabel(child, sub)

    def _add(self, node: TreeNode[str], line: Line) -> None:
        for child in line.children:
            expand = self._expanded.get(child.id, child.expand)
            if child.children:
                sub = node.add(self._label(child), data=child.id, expand=expand)
                self._add(sub, child)
            else:
                node.add_leaf(self._label(child), data=child.id)

    def _remember(self, node: TreeNode[str]) -> None:
        if node.data is not None and node.children:
            self._expanded[node.data] = node.is_expanded
        for child in node.children:
            self._remember(child)

    @staticmethod
    def _line_of(tree: Tree[str], ident: str) -> int | None:
        """The line a node id is shown on now (walking what is expanded), None when hidden or gone."""
        line = 0 if tree.show_root else -1

        def walk(node: TreeNode[str]) -> int | None:
            nonlocal line
            if node.data == ident:
                return line
            if node.is_expanded or node is tree.root:
                for child in node.children:
                    line += 1
                    found = walk(child)
                    if found is not None:
                        return found
            return None

        return walk(tree.root)

    def action_expand_all(self) -> None:
        self.tree.root.expand_all()

    def action_collapse_oks(self) -> None:
        """Fold every line whose subtree is all well, so only the way to a problem stays open."""
        def fold(node: TreeNode[str], line: Line) -> None:
            for child, sub in zip(node.children, line.children):
                if sub.children:
                    if sub.worst in ("ok", "info", ""):
                        child.collapse()
                    else:
                        child.expand()
                        fold(child, sub)

        if self.lines is not None:
            fold(self.tree.root, self.lines)
