"""The kube-proxy screen (`:proxy`): what is configured, what runs on each node, what an old mode left behind, and
the guarded switch of mode, IPVS scheduler and strictARP.

Two views share the body. The status view renders `ProxyStatus` snapshots that a thread worker reads (the
ConfigMap, the DaemonSet's pods, each node's /proxyMode and /configz, the leftovers report); two list+watch caches
(the kube-proxy pods and kube-system's ConfigMaps) and ctrl+r ask for a new one. The flow view follows a switch or a
rollback: tui.kube.proxy_switch runs in a thread worker and its typed events arrive here as messages (steps,
node-by-node rollout with a progress bar, the outcome). Widgets do no I/O.

The switch: SwitchDialog (what to change) -> a worker plans it and runs the preflight -> PreflightDialog (failed
checks need an explicit override; "load module" is its own step when root) -> the flow worker runs
ProxySwitch.run, whose confirmation (after its own fresh read, preflight and server-side dry run) is the
ConfirmDialog with the diff; the patch carries the resourceVersion that read returned, so an edit made while the
admin reads the diff is a conflict, never a lost update.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static
from textual.worker import get_current_worker

from tui.kube.guard import Guard, Mutation, ReadOnlyError, StepResult
from tui.kube.leftovers import LeftoverReport
from tui.kube.node_site import ProxySite
from tui.kube.preflight import Preflight
from tui.kube.proxy_config import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, ConfigChange, ProxyConfig
from tui.kube.proxy_switch import (
    DiffReady,
    Event,
    Notice,
    NodeProgress,
    NodeStatus,
    Plan,
    PreflightDone,
    ProxySwitch,
    RolloutProgress,
    StepFinished,
    StepStarted,
    SwitchError,
    SwitchOutcome,
    state_dir,
)
from tui.screens.base import BaseScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.proxy_dialogs import ConfirmDialog, PreflightAnswer, PreflightDialog, SwitchDialog

if TYPE_CHECKING:
    from tui.kube.cache import Batch

# Fixed widths that fit 80 columns with DataTable's cell padding: no horizontal scrollbar at 80x24.
NODE_COLUMNS = (("NODE", 9), ("POD", 17), ("STATUS", 16), ("RESTARTS", 8), ("RUNNING", 9), ("", 7))


# -- what the workers hand the screen ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ProxyStatus:
    """One reading of kube-proxy: configured, per node, leftovers (None: not checked), for the status view."""

    config: ProxyConfig
    resource_version: str
    nodes: tuple[NodeStatus, ...]
    this_node: str
    simulated: bool
    leftovers: LeftoverReport | None
    leftovers_error: str = ""


class StatusLoaded(Message):
    def __init__(self, status: ProxyStatus) -> None:
        super().__init__()
        self.status = status


class StatusFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class KubeProxyChanged(Message):
    """A watch saw kube-proxy's pods or kube-system's ConfigMaps change: time to read the status again."""


class SwitchPlanned(Message):
    """The change is planned and the preflight ran on this node; the admin decides next."""

    def __init__(self, change: ConfigChange, plan: Plan, preflight: Preflight, can_load: bool,
                 node_root: str = "") -> None:
        super().__init__()
        self.change = change
        self.plan = plan
        self.preflight = preflight
        self.can_load = can_load
        self.node_root = node_root  # a simulated node's files live under this directory: shown without it


class FlowStep(Message):
    """A step of the flow started (result None) or finished."""

    def __init__(self, step: str, title: str, result: StepResult | None) -> None:
        super().__init__()
        self.step = step
        self.title = title
        self.result = result


class FlowRollout(Message):
    """The restart's progress, node by node."""

    def __init__(self, progress: RolloutProgress) -> None:
        super().__init__()
        self.progress = progress


class FlowNotice(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class FlowFinished(Message):
    def __init__(self, outcome: SwitchOutcome, what: str, leftovers: LeftoverReport | None = None,
                 leftovers_error: str = "") -> None:
        super().__init__()
        self.outcome = outcome
        self.what = what  # "switch" or "rollback"
        self.leftovers = leftovers
        self.leftovers_error = leftovers_error


class FlowFailed(Message):
    """The flow could not start or stopped before writing anything (read-only, unreadable ConfigMap, ...)."""

    def __init__(self, message: str, severity: str = "error") -> None:
        super().__init__()
        self.message = message
        self.severity = severity  # "error", or "warning" when nothing went wrong but nothing was done either


@dataclass
class FlowView:
    """What the flow view shows, kept by the screen (UI thread only)."""

    title: str = ""
    steps: list[tuple[str, str, StepResult | None]] = field(default_factory=list)  # (step, title, result)
    notices: list[str] = field(default_factory=list)
    rollout: RolloutProgress | None = None
    outcome: SwitchOutcome | None = None
    outcome_line: str = ""
    severity: str = ""
    leftovers: LeftoverReport | None = None
    running: bool = False


# -- rendering helpers (pure) ------------------------------------------------------------------------------------

def pod_status(ns: NodeStatus) -> str:
    pod = ns.pod
    if pod is None:
        return "<none>"
    if pod.deleting:
        return "Terminating"
    return pod.waiting_reason or ("Running" if pod.ready else pod.phase or "Pending")


def running_text(ns: NodeStatus) -> str:
    if ns.running is None:
        return "-"  # no address to ask on that node
    if not ns.running_mode:
        return "?"
    sched = ns.running.scheduler
    return f"{ns.running_mode}/{sched or 'rr'}" if ns.running_mode == "ipvs" and sched is not None else ns.running_mode


def leftovers_text(report: LeftoverReport | None, error: str, node: str) -> Text:
    text = Text()
    if error:
        text.append("leftovers: ", style="bold")
        text.append(error, style="yellow")
        return text
    if report is None:
        return text
    if report.clean:
        text.append("leftovers: ", style="bold")
        text.append(f"nothing of another mode found on {node}")
        if report.unchecked:
            what = ", ".join(dict.fromkeys(u.split(":", 1)[0] for u in report.unchecked))
            why = {u.split(":", 1)[1].strip() for u in report.unchecked if ":" in u}
            text.append(f"\n  not checked: {what}" + (f" ({why.pop()})" if len(why) == 1 else ""), style="dim")
        return text
    for i, lo in enumerate(report.leftovers):
        if i:
            text.append("\n")
        text.append("leftover ", style="bold yellow")
        text.append(lo.describe())
        text.append("\n  clean up: ", style="dim")
        text.append(lo.cleanup[0], style="cyan")
        if len(lo.cleanup) > 1:
            text.append("  or: ", style="dim")
            text.append(lo.cleanup[1], style="cyan")
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# -- the screen --------------------------------------------------------------------------------------------------

class ProxyScreen(BaseScreen):
    """kube-proxy's mode: configured vs running per node, leftovers, and the guarded switch."""

    BINDING_GROUP_TITLE = "kube-proxy screen"
    BINDINGS = [
        Binding("escape", "back", "back", key_display="esc"),
        Binding("s", "switch", "switch mode"),
        Binding("R", "rollback", "roll back"),
        Binding("x", "abort", "abort switch"),
    ]
    DEFAULT_CSS = """
    ProxyScreen #proxy-config { height: auto; padding: 0 1; }
    ProxyScreen #proxy-nodes { height: auto; max-height: 9; margin-top: 1; }
    ProxyScreen #proxy-leftovers { height: auto; max-height: 6; padding: 0 1; margin-top: 1; }
    ProxyScreen #proxy-flow { height: 1fr; display: none; padding: 0 1; }
    ProxyScreen.-flow #proxy-flow { display: block; }
    ProxyScreen.-flow #proxy-status-view { display: none; }
    ProxyScreen #proxy-status-view { height: 1fr; }
    ProxyScreen #flow-title { text-style: bold; }
    ProxyScreen #flow-bar { margin: 1 0 0 0; }
    ProxyScreen #flow-nodes { height: auto; }
    ProxyScreen #flow-steps { height: 1fr; margin-top: 1; }
    ProxyScreen #proxy-message { height: auto; max-height: 4; padding: 0 1; }
    """

    # Test hook: called in the flow worker's thread after each event was posted (a test may hold the flow there).
    flow_gate: Callable[["ProxyScreen", Event], None] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.status: ProxyStatus | None = None
        self.message = ""
        self.flow = FlowView()
        self._switch: ProxySwitch | None = None  # the running switch (x aborts it), set by its worker
        self.closed = threading.Event()  # the screen is gone: waiting workers give up
        self._loading = False
        self._reload = False
        self._caches: list[Any] = []

    # -- layout --------------------------------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        with Vertical(id="proxy-status-view"):
            yield Static("Reading kube-proxy's configuration...", id="proxy-config")
            yield DataTable(id="proxy-nodes", cursor_type="row", zebra_stripes=False, show_cursor=False)
            yield Static("", id="proxy-leftovers")
        with Vertical(id="proxy-flow"):
            yield Static("", id="flow-title")
            yield ProgressBar(total=1, show_eta=False, id="flow-bar")
            yield Static("", id="flow-nodes")
            with VerticalScroll(id="flow-steps"):
                yield Static("", id="flow-steps-text")
        yield Static("", id="proxy-message")

    def on_mount(self) -> None:
        table = self.query_one("#proxy-nodes", DataTable)
        for label, width in NODE_COLUMNS:
            table.add_column(label, width=width, key=label or "note")
        app: Any = self.app
        app.refresh_signal.subscribe(self, lambda _: self.reload())
        self.reload()
        self.watch_kube_proxy()
        self.watch(app, "scope", self._scope_changed, init=False)

    def on_unmount(self) -> None:
        self.closed.set()
        for cache in self._caches:
            cache.stop(join=None)

    # -- context -------------------------------------------------------------------------------------------------

    @property
    def site(self) -> ProxySite:
        return getattr(self.app, "proxy_site", None) or ProxySite()

    @property
    def read_only(self) -> bool:
        options = getattr(self.app, "options", None)
        return bool(options and options.read_only)

    def make_switch(self, on_event: Callable[[Event], None] | None = None) -> ProxySwitch:
        """The flow object, built in a worker's thread: the node's facts are read there."""
        app: Any = self.app
        site = self.site
        kw: dict[str, Any] = {}
        if hasattr(app, "clock"):
            kw["clock"] = app.clock
        return ProxySwitch(app.connection.api_client, guard=Guard(read_only=self.read_only),
                           node_env=site.node_env(), this_node=site.this_node, locator=site.locator,
                           state_path=state_dir(), on_event=on_event, poll_interval=site.poll_interval, **kw)

    # -- status --------------------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the status again; a burst of changes becomes one read after the running one."""
        if self._loading:
            self._reload = True
            return
        self._loading = True
        self.load_status()

    @work(thread=True, exit_on_error=False, group="proxy-status")
    def load_status(self) -> None:
        try:
            self.post_message(StatusLoaded(self._read_status()))
        except SwitchError as exc:
            self.post_message(StatusFailed(str(exc)))
        except Exception as exc:  # a bug must still be one line on the screen, not a crash
            self.post_message(StatusFailed(f"Reading kube-proxy's status failed unexpectedly "
                                           f"({type(exc).__name__}: {exc}); please report it"))

    def _read_status(self) -> ProxyStatus:
        from tui.kube.leftovers import find_leftovers

        site = self.site
        sw = self.make_switch()
        state = sw.read()
        nodes = tuple(sw.node_status(state))
        report, error = None, ""
        if not any(n.node == sw.this_node for n in nodes):
            error = (f"not checked: this host ({sw.this_node or 'unknown'}) is not a node of this cluster, so its "
                     "rules are not kube-proxy's")
        else:
            try:
                report = find_leftovers(state.config.mode, site.leftover_env())
            except Exception as exc:  # the leftovers are a report: their failure must not hide the status
                error = f"could not be checked ({type(exc).__name__}: {exc})"
        return ProxyStatus(state.config, state.resource_version, nodes, sw.this_node or "", site.simulated,
                           report, error)

    @on(StatusLoaded)
    def _status_loaded(self, event: StatusLoaded) -> None:
        self._loaded()
        self.status = event.status
        self._render_status()
        if not self.message:
            self.set_message("s: switch the mode, IPVS scheduler or strictARP (preflight, diff, confirm) · "
                             "R: roll back to the newest backup")

    @on(StatusFailed)
    def _status_failed(self, event: StatusFailed) -> None:
        self._loaded()
        self.query_one("#proxy-config", Static).update(Text(_sentence(event.message), style="bold red"))
        self.query_one("#proxy-nodes", DataTable).clear()
        self.query_one("#proxy-leftovers", Static).update("")

    def _loaded(self) -> None:
        self._loading = False
        if self._reload:
            self._reload = False
            self.reload()

    def _render_status(self) -> None:
        st = self.status
        if st is None:
            return
        cfg = st.config
        text = Text()
        text.append("configured ", style="bold")
        text.append(f"mode {cfg.mode}")
        if not cfg.mode_raw:
            text.append(' (mode "" means iptables)', style="dim")
        text.append(f" · scheduler {cfg.scheduler} · strictARP {str(cfg.strict_arp).lower()}")
        text.append("\nipvs       ", style="bold")
        text.append(cfg.ipvs_settings)
        here = next((n for n in st.nodes if n.node == st.this_node), None)
        text.append("\nthis node  ", style="bold")
        where = f"{st.this_node or '?'}" + (" (simulated)" if st.simulated else "")
        if here is None or here.running is None:
            text.append(f"{where}: running mode unknown (not a node of this cluster)", style="yellow")
        elif here.running.error:
            text.append(f"{where}: {here.running.error}", style="yellow")
        else:
            text.append(f"{where} runs {running_text(here)}")
            if here.differs(cfg):
                text.append(f"  differs from configured {cfg.mode}: restart kube-proxy", style="bold red")
        self.query_one("#proxy-config", Static).update(text)

        table = self.query_one("#proxy-nodes", DataTable)
        table.clear()
        for ns in st.nodes:
            pod = ns.pod
            bad = pod is None or pod.crash_looping or not pod.ready
            status = Text(pod_status(ns), style="bold red" if bad else "")
            note = Text("differs", style="bold red") if ns.differs(cfg) else Text("")
            table.add_row(ns.node, pod.name if pod else "<none>", status, str(pod.restarts) if pod else "-",
                          running_text(ns), note, key=ns.node)
        self.query_one("#proxy-leftovers", Static).update(
            leftovers_text(st.leftovers, st.leftovers_error, st.this_node or "this node"))

    def _scope_changed(self, old: Any, new: Any) -> None:
        """`:ctx` while open: watch and read the new context's kube-proxy (the old caches' client is closed).
        `:ns` changes nothing here: kube-proxy lives in kube-system whatever namespace is shown."""
        if new.context == old.context:
            return
        for cache in self._caches:
            cache.stop(join=None)
        self.watch_kube_proxy()
        self.reload()
        line = f"Now showing kube-proxy on context {new.context}."
        if self.flow.running:
            line += f" The running switch was started on {old.context}: check it there with :ctx {old.context}."
        self.set_message(line, "warning" if self.flow.running else "")

    # -- live: watch kube-proxy's pods and kube-system's ConfigMaps -----------------------------------------------

    def watch_kube_proxy(self) -> None:
        from tui.kube.cache import PODS, ListWatchCache, Resource
        from tui.kube.proxy_switch import POD_SELECTOR

        app: Any = self.app
        api = app.connection.api_client
        configmaps = Resource("configmaps", "ConfigMap", "v1")
        self._caches = [
            ListWatchCache(api, PODS, CONFIGMAP_NAMESPACE, label_selector=POD_SELECTOR, coalesce=0.3,
                           on_batch=self._batch, connection=app.connection),
            ListWatchCache(api, configmaps, CONFIGMAP_NAMESPACE, coalesce=0.3, on_batch=self._batch,
                           connection=app.connection),
        ]
        for cache in self._caches:
            self.run_cache(cache)

    def _batch(self, batch: "Batch") -> None:
        self.post_message(KubeProxyChanged())  # from the cache's thread; reload() coalesces a burst

    @work(thread=True, exit_on_error=False, group="proxy-watch")
    def run_cache(self, cache: Any) -> None:
        cache.run()

    @on(KubeProxyChanged)
    def _changed(self) -> None:
        self.reload()

    # -- the switch ----------------------------------------------------------------------------------------------

    def _blocked(self, action: str) -> bool:
        try:
            Guard(read_only=self.read_only).check(action)
        except ReadOnlyError as exc:
            self.set_message(_sentence(f"{exc}; nothing was changed"), "error")
            return True
        return False

    def action_switch(self) -> None:
        if self.flow.running:
            self.set_message("A switch is running: wait for it to finish.", "warning")
            return
        if self._blocked("switching kube-proxy's mode"):
            return
        if self.status is None:
            self.set_message("kube-proxy's configuration has not been read yet: press ctrl+r and try again.",
                             "warning")
            return
        self.app.push_screen(SwitchDialog(self.status.config), self._chosen)

    def _chosen(self, change: ConfigChange | None) -> None:
        if change is None:
            self.set_message("Nothing was changed.")
            return
        self.set_message(f"Planning {change.describe()}: reading the ConfigMap and running the preflight...")
        self.plan_switch(change)

    @work(thread=True, exclusive=True, exit_on_error=False, group="proxy-plan")
    def plan_switch(self, change: ConfigChange, loaded: tuple[StepResult, ...] = ()) -> None:
        try:
            sw = self.make_switch()
            state = sw.read()
            plan = sw.plan(state, change)
            if plan.new_text == plan.old_text:
                self.post_message(FlowFailed(f"kube-proxy is already configured with {change.describe()}; "
                                             "nothing to do", "warning"))
                return
            pre = sw.preflight(state, plan)
        except (SwitchError, ReadOnlyError) as exc:
            self.post_message(FlowFailed(str(exc)))
            return
        can_load = bool(sw.node_env and sw.node_env.is_root)
        root = str(sw.node_env.root_proc.parent) if self.site.simulated and sw.node_env else ""
        for res in loaded:
            self.post_message(FlowNotice(res.message))
        self.post_message(SwitchPlanned(change, plan, pre, can_load, root))

    @on(SwitchPlanned)
    def _planned(self, event: SwitchPlanned) -> None:
        pre = event.preflight
        if pre.blocked:
            self.set_message(f"The preflight failed on {len(pre.failed)} check(s): fix them, or override.", "error")
        else:
            self.set_message(_sentence(pre.summary()))
        title = f"{event.change.describe()} on {self.site.this_node or 'this node'}"

        def answered(answer: PreflightAnswer | None) -> None:
            if answer is None:
                self.set_message("Nothing was changed.")
            elif answer == "load":
                self.set_message(f"Loading {', '.join(event.preflight.loadable_modules)}...")
                self.load_modules(event.change, event.preflight)
            else:
                self.start_flow(event.change, force=answer == "override")

        root = event.node_root
        shown = (lambda text: text.replace(root, "")) if root else (lambda text: text)
        self.app.push_screen(PreflightDialog(title, event.preflight, event.can_load, shown), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="proxy-plan")
    def load_modules(self, change: ConfigChange, pre: Preflight) -> None:
        """The explicit "load module" step (modprobe, through the guard), then the preflight again."""
        from tui.kube.preflight import load_module

        results = []
        try:
            env = self.site.node_env()
            for module in pre.loadable_modules:
                results.append(load_module(module, Guard(read_only=self.read_only), env))
        except ReadOnlyError as exc:
            self.post_message(FlowFailed(str(exc)))
            return
        self.plan_switch(change, tuple(results))

    def start_flow(self, change: ConfigChange, force: bool) -> None:
        self.set_message("")
        self._open_flow(f"Switching kube-proxy to {change.describe()}" + (" (preflight overridden)" if force else ""))
        self.run_switch(change, force)

    def action_rollback(self) -> None:
        if self.flow.running:
            self.set_message("A switch is running: it rolls back by itself if it fails.", "warning")
            return
        if self._blocked("rolling back kube-proxy's configuration"):
            return
        self._open_flow("Rolling kube-proxy back to its newest backup")
        self.run_rollback()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # x only during a switch's rollout (before it, the confirmation cancels; a rollback is never aborted); s and
        # R make way for it in the footer then, as they could only say "a switch is running"
        rolling = self._switch is not None and self.flow.running and self.flow.rollout is not None
        if action == "abort":
            return rolling
        if action in ("switch", "rollback"):
            return not rolling
        return True

    def action_abort(self) -> None:
        def answered(yes: bool | None) -> None:
            sw = self._switch
            if yes and sw is not None and self.flow.running:
                sw.abort()
                self.set_message("Aborting: the rollout stops at its next check, then kube-proxy is rolled back.",
                                 "warning")

        self.app.push_screen(ConfirmScreen(
            "Abort the switch", "Abort the rollout and roll back? kube-proxy is restarted again with the backed-up "
            "configuration on every node, including those already switched.", yes="Abort"), answered)

    def _open_flow(self, title: str) -> None:
        self.flow = FlowView(title=title, running=True)
        self.add_class("-flow")
        bar = self.query_one("#flow-bar", ProgressBar)
        bar.update(total=1, progress=0)
        self._render_flow()

    def action_back(self) -> None:
        """esc leaves the flow view for the status view once the flow is over; then the screen."""
        if self.has_class("-flow") and not self.flow.running:
            self.remove_class("-flow")
            self.reload()
            return
        if self.flow.running:
            self.set_message("The switch is still running; it continues in the background if you leave.", "warning")
        self.app.pop_screen()

    # -- the flow worker -----------------------------------------------------------------------------------------

    def _post_event(self, event: Event) -> None:
        """ProxySwitch's events -> messages (from the worker's thread)."""
        if isinstance(event, StepStarted):
            self.post_message(FlowStep(event.step, event.title, None))
        elif isinstance(event, StepFinished):
            self.post_message(FlowStep(event.step, "", event.result))
        elif isinstance(event, RolloutProgress):
            self.post_message(FlowRollout(event))
        elif isinstance(event, Notice):
            self.post_message(FlowNotice(event.message))
        elif isinstance(event, PreflightDone) and event.preflight.blocked:
            self.post_message(FlowNotice(event.preflight.summary()))
        elif isinstance(event, (NodeProgress, DiffReady)):
            pass  # the rollout's snapshot carries every node; the diff is shown by the confirmation
        gate = type(self).flow_gate
        if gate is not None:
            gate(self, event)

    def _ask(self, screen: ModalScreen[Any]) -> Any:
        """Push a modal from the worker's thread and wait for its answer (None when the screen or app goes)."""
        answer: Future[Any] = Future()
        self.app.call_from_thread(self.app.push_screen, screen, answer.set_result)
        worker = get_current_worker()
        while True:
            try:
                return answer.result(timeout=0.2)
            except FutureTimeout:
                if worker.is_cancelled or self.closed.is_set():
                    return None

    def _confirm(self, then: str) -> Callable[[Mutation, StepResult], bool]:
        def confirm(mutation: Mutation, dry_run: StepResult) -> bool:
            return bool(self._ask(ConfirmDialog(mutation.title, mutation.preview, dry_run, then)))
        return confirm

    @work(thread=True, exclusive=True, exit_on_error=False, group="proxy-flow")
    def run_switch(self, change: ConfigChange, force: bool) -> None:
        from tui.kube.leftovers import find_leftovers

        try:
            sw = self._switch = self.make_switch(self._post_event)
            then = ("Apply backs up the ConfigMap, patches it, restarts kube-proxy node by node and verifies the "
                    "mode; a failure rolls back.")
            outcome = sw.run(change, self._confirm(then), force=force)
        except ReadOnlyError as exc:
            self.post_message(FlowFailed(str(exc)))
            return
        except Exception as exc:  # a bug must still be one line on the screen, not a crash
            self.post_message(FlowFailed(f"The switch failed unexpectedly ({type(exc).__name__}: {exc}); check "
                                         f"the ConfigMap with kubectl -n {CONFIGMAP_NAMESPACE} get cm "
                                         f"{CONFIGMAP_NAME} -o yaml"))
            return
        report, error = None, ""
        if (outcome.ok and change.mode is not None and outcome.old_mode and change.mode != outcome.old_mode
                and self.status is not None and any(n.node == sw.this_node for n in self.status.nodes)):
            try:
                report = find_leftovers(change.mode, self.site.leftover_env())
            except Exception as exc:
                error = f"could not be checked ({type(exc).__name__}: {exc})"
        self.post_message(FlowFinished(outcome, "switch", report, error))

    @work(thread=True, exclusive=True, exit_on_error=False, group="proxy-flow")
    def run_rollback(self) -> None:
        try:
            sw = self.make_switch(self._post_event)
            then = "Apply restores the backup into the ConfigMap, restarts kube-proxy node by node and verifies."
            outcome = sw.rollback(confirm=self._confirm(then))
        except ReadOnlyError as exc:
            self.post_message(FlowFailed(str(exc)))
            return
        except Exception as exc:
            self.post_message(FlowFailed(f"The rollback failed unexpectedly ({type(exc).__name__}: {exc})"))
            return
        self.post_message(FlowFinished(outcome, "rollback"))

    # -- the flow view -------------------------------------------------------------------------------------------

    @on(FlowStep)
    def _flow_step(self, event: FlowStep) -> None:
        steps = self.flow.steps
        if event.result is None:
            if event.step == "rollback" and any(s == "apply" for s, _, _ in steps):
                # A failed switch rolls back by itself: say so, and follow the new rollout from zero.
                self.flow.title = "The switch failed: rolling back to the backup"
                self.flow.rollout = None
                self.query_one("#flow-bar", ProgressBar).update(total=1, progress=0)
            steps.append((event.step, event.title, None))
        else:
            for i in range(len(steps) - 1, -1, -1):
                if steps[i][2] is None:  # the step that was running ends (the names differ: dry-run, rollback)
                    steps[i] = (event.step, steps[i][1], event.result)
                    break
            else:
                steps.append((event.step, "", event.result))
        self._render_flow()

    @on(FlowRollout)
    def _flow_rollout(self, event: FlowRollout) -> None:
        self.flow.rollout = event.progress
        self.query_one("#flow-bar", ProgressBar).update(total=max(event.progress.total, 1),
                                                       progress=event.progress.done)
        self._render_flow()
        self.refresh_bindings()  # x (abort) shows while a switch's rollout runs

    @on(FlowNotice)
    def _flow_notice(self, event: FlowNotice) -> None:
        if self.has_class("-flow"):
            self.flow.notices.append(event.text)
            self._render_flow()
        else:
            self.set_message(_sentence(event.text))

    @on(FlowFailed)
    def _flow_failed(self, event: FlowFailed) -> None:
        self._switch = None
        self.refresh_bindings()
        if self.has_class("-flow"):
            self.flow.running = False
            self.flow.outcome_line = _sentence(event.message)
            self.flow.severity = event.severity
            self._render_flow()
        self.set_message(_sentence(event.message), event.severity)

    @on(FlowFinished)
    def _flow_finished(self, event: FlowFinished) -> None:
        self._switch = None
        self.refresh_bindings()
        out = event.outcome
        flow = self.flow
        flow.running = False
        flow.outcome = out
        flow.leftovers = event.leftovers
        if out.ok and event.what == "switch":
            flow.title = flow.title.replace("Switching", "Switched", 1)
            line, severity = f"Done: {out.message}", "ok"
        elif out.ok:
            line, severity = f"Rolled back: {out.message}", "ok"
        elif out.rolled_back:
            flow.title = "The switch failed and was rolled back"
            line, severity = f"Rolled back: {out.message}", "error"
        elif out.conflict:
            line, severity = f"Conflict: {out.message}", "error"
        elif out.blocked:
            line, severity = f"Blocked: {out.message}", "error"
        elif out.declined:
            line, severity = f"Cancelled: {out.message}", "warning"
        else:
            line, severity = f"Failed: {out.message}", "error"
            if out.backup is not None and not out.rolled_back:
                line += " (press R to roll back)"
        flow.outcome_line = _sentence(line)
        flow.severity = severity
        if event.leftovers_error:
            flow.notices.append(f"leftovers {event.leftovers_error}")
        self._render_flow()
        self.set_message("esc: back to the status view.", "")
        self.reload()

    def _render_flow(self) -> None:
        flow = self.flow
        self.query_one("#flow-title", Static).update(Text(flow.title, style="bold"))
        nodes = Text()
        if flow.rollout is not None:
            nodes.append(f"rollout {flow.rollout.done}/{flow.rollout.total} node(s) on the new kube-proxy")
            for p in flow.rollout.nodes:
                nodes.append("\n")
                if p.done:
                    nodes.append(f"  ok  {p.node}: {p.pod} Ready", style="green")
                elif p.new and p.waiting_reason:
                    nodes.append(f"  !!  {p.node}: {p.pod} {p.waiting_reason}, restarts {p.restarts}",
                                 style="bold red")
                else:
                    nodes.append(f"  ..  {p.node}: waiting for its new kube-proxy", style="dim")
        self.query_one("#flow-nodes", Static).update(nodes)
        steps = Text()
        for i, (step, title, result) in enumerate(flow.steps):
            if i:
                steps.append("\n")
            if result is None:
                steps.append(f"..  {title}", style="bold" if flow.running else "dim")
            elif result.ok:
                steps.append("ok  ", style="green")
                steps.append(self._shown(result.message))
            else:
                steps.append("!!  ", style="bold red")
                steps.append(self._shown(result.message), style="red")
        for note in flow.notices:
            steps.append("\nnote: ", style="yellow")
            steps.append(self._shown(note))
        if flow.outcome_line:
            style = {"ok": "bold green", "error": "bold red", "warning": "yellow"}.get(flow.severity, "")
            steps.append("\n\n")
            steps.append(self._shown(flow.outcome_line), style=style)
        if flow.leftovers is not None:
            steps.append("\n")
            steps.append_text(leftovers_text(flow.leftovers, "", self.site.this_node or "this node"))
        self.query_one("#flow-steps-text", Static).update(steps)
        self.query_one("#flow-steps", VerticalScroll).scroll_end(animate=False)

    @staticmethod
    def _shown(text: str) -> str:
        """The state directory spelled as the admin knows it, not as this process's environment expands it."""
        return text.replace(str(state_dir()), "$XDG_STATE_HOME/svcscope").replace(str(Path.home()), "~")

    def set_message(self, line: str, severity: str = "") -> None:
        self.message = line
        style = {"error": "bold red", "warning": "yellow", "ok": "green"}.get(severity, "")
        self.query_one("#proxy-message", Static).update(Text(line, style=style))
