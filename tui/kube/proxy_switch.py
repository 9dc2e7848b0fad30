"""Switching kube-proxy's mode (or its IPVS scheduler, or strictARP) as one guarded action, with a way back.

By hand this is: edit the ConfigMap, delete the kube-proxy pods, hope. kube-proxy does not reload its ConfigMap
(kubernetes#132877) and exits when its mode cannot run (since 1.26), so a wrong switch takes Services, DNS
included, down node by node. The flow here:

    read (ConfigMap + resourceVersion) -> preflight -> diff -> [Guard: dry run -> confirm -> apply -> verify]
    apply  = backup (ConfigMap kube-proxy-backup-<ts> + the old text in the state dir)
             -> patch the ConfigMap with the resourceVersion read as a precondition (a concurrent edit: conflict)
             -> restart kube-proxy (rollout restart; falling back to deleting its pods node by node)
             -> follow the rollout node by node (CrashLoopBackOff stops it at once)
    verify = proxyMode (and /configz) where it can be read, every pod new and Ready, none crash looping
    failure after the ConfigMap changed -> roll back to the backup through the same guard, restart, verify again

Every step reports typed events through `on_event`, so the kube-proxy screen draws a progress bar and the one-shot
command prints lines, from the same flow. No Textual here. The API is the official client over HTTP; node facts
come from the injectable NodeEnv; the metrics address of each node is injectable (`--demo` points it at the
emulated nodes).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tui.kube.cache import connection_message, status_message
from tui.kube.guard import Guard, Mutation, StepResult
from tui.kube.models import PodView
from tui.kube.preflight import NodeEnv, Preflight, run_preflight
from tui.kube.proxy_config import (
    CONFIG_KEY,
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    ConfigChange,
    ProxyConfig,
    ProxyConfigError,
    apply_change,
    parse,
    parse_configmap,
    unified_diff,
)

DAEMONSET_NAME = "kube-proxy"
POD_SELECTOR = "k8s-app=kube-proxy"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
BACKUP_PREFIX = "kube-proxy-backup-"
BACKUP_LABEL = "svcscope.io/backup-of"
BACKUP_MODE_ANNOTATION = "svcscope.io/mode"
BACKUP_RV_ANNOTATION = "svcscope.io/resource-version"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
FAILING_REASONS = ("CrashLoopBackOff", "RunContainerError", "CreateContainerConfigError", "CreateContainerError")

Json = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # sorts pods without a creationTimestamp first


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """svcscope's state directory: $XDG_STATE_HOME/svcscope, else ~/.local/state/svcscope."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "svcscope"


# -- events --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepStarted:
    step: str  # read, preflight, diff, dry-run, confirm, backup, apply, restart, rollout, verify, rollback
    title: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    result: StepResult


@dataclass(frozen=True)
class NodeProgress:
    node: str
    pod: str  # "" when the node has no kube-proxy pod right now
    phase: str
    ready: bool
    restarts: int
    waiting_reason: str
    new: bool  # started after the restart began
    mode: str = ""  # the mode this node's kube-proxy reports, where it can be read

    @property
    def crash_looping(self) -> bool:
        return self.waiting_reason == "CrashLoopBackOff"

    @property
    def done(self) -> bool:
        return self.new and self.ready and not self.waiting_reason

    def describe(self) -> str:
        if not self.pod:
            return f"{self.node}: no kube-proxy pod yet"
        state = self.waiting_reason or ("Ready" if self.ready else self.phase or "Pending")
        age = "new" if self.new else "old"
        return f"{self.node}: {self.pod} ({age}) {state}, restarts {self.restarts}"


@dataclass(frozen=True)
class RolloutProgress:
    done: int
    total: int
    nodes: tuple[NodeProgress, ...]

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class PreflightDone:
    preflight: Preflight


@dataclass(frozen=True)
class DiffReady:
    diff: str


@dataclass(frozen=True)
class Notice:
    message: str


Event = Union[StepStarted, StepFinished, NodeProgress, RolloutProgress, PreflightDone, DiffReady, Notice]
EventSink = Callable[[Event], None]


# -- state ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeStatus:
    node: str
    pod: PodView | None
    running: Running | None  # None: no address to ask on this node

    @property
    def running_mode(self) -> str:
        return self.running.mode if self.running else ""

    def differs(self, config: ProxyConfig) -> bool:
        """Configured and running disagree (mode, or the IPVS scheduler when /configz tells it)."""
        if not self.running_mode:
            return False
        if self.running_mode != config.mode:
            return True
        sched = self.running.scheduler if self.running else None
        return config.mode == "ipvs" and sched is not None and (sched or "rr") != config.scheduler


@dataclass(frozen=True)
class ProxyState:
    configmap: Json
    text: str
    config: ProxyConfig
    resource_version: str
    daemonset: Json | None
    pods: tuple[PodView, ...]
    nodes: tuple[Json, ...]
    version: Json

    @property
    def data(self) -> dict[str, str]:
        return dict(self.configmap.get("data") or {})

    def pods_by_node(self) -> dict[str, PodView]:
        """The current (not terminating, newest) kube-proxy pod per node."""
        out: dict[str, PodView] = {}
        for pod in sorted(self.pods, key=lambda p: p.created or EPOCH):
            if not pod.deleting and pod.node_name:
                out[pod.node_name] = pod
        return out


@dataclass(frozen=True)
class Plan:
    change: ConfigChange
    old_text: str
    new_text: str
    diff: str
    target: ProxyConfig  # the configuration after the change

    @property
    def title(self) -> str:
        return f"switch kube-proxy to {self.change.describe()}"


@dataclass(frozen=True)
class Backup:
    name: str  # the backup ConfigMap's name
    data: dict[str, str]
    mode: str
    file: Path | None  # the old text in the state dir


@dataclass
class SwitchOutcome:
    ok: bool
    message: str
    steps: list[tuple[str, StepResult]] = field(default_factory=list)
    backup: Backup | None = None
    rolled_back: bool = False
    blocked: bool = False  # preflight failed and was not overridden
    declined: bool = False  # the admin said no at the confirmation
    conflict: bool = False  # the ConfigMap changed between read and write
    old_mode: str = ""  # the configured mode before the switch (for the leftovers report)


class SwitchError(Exception):
    """A step failed in a way the admin must act on; the message is one sentence."""


def explain(exc: BaseException, what: str) -> str:
    """An API or network failure as one sentence: what failed, why, what to try."""
    if isinstance(exc, ApiException):
        if exc.status == 409:
            return f"{what} failed: {status_message(exc)}"
        if exc.status in (401, 403):
            return f"{what} was refused: {status_message(exc)}; check the kubeconfig's user and its RBAC permissions"
        if exc.status == 404:
            return f"{what} failed: {status_message(exc)}"
        return f"{what} failed: the API server answered {exc.status}: {status_message(exc)}"
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return f"{what} failed: {connection_message(exc)}; check that the cluster is reachable"
    return f"{what} failed: {exc}"


def _raw(call: Callable[..., Any], *args: Any, **kw: Any) -> Json:
    resp = call(*args, _preload_content=False, **kw)
    return json.loads(resp.data or b"{}")


# -- running mode, read where kube-proxy serves it ------------------------------------------------------------------

MetricsLocator = Callable[[str, Json], Union[str, None]]  # (node name, node object) -> base URL, or None


@dataclass(frozen=True)
class Running:
    """What one kube-proxy says it runs, from its metrics address."""

    mode: str = ""  # /proxyMode; "" when it did not answer
    scheduler: str | None = None  # from /configz (None when /configz did not answer); "" means rr
    error: str = ""


def fetch_running(base_url: str, timeout: float = 3.0) -> Running:
    """kube-proxy's own answer: /proxyMode for the mode, /configz for the running configuration."""
    base = base_url.rstrip("/")
    try:
        with urllib.request.urlopen(base + "/proxyMode", timeout=timeout) as resp:
            mode = resp.read().decode().strip()
    except (urllib.error.URLError, OSError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Running(error=f"kube-proxy does not answer at {base}/proxyMode ({reason})")
    scheduler: str | None = None
    try:
        with urllib.request.urlopen(base + "/configz", timeout=timeout) as resp:
            configz = json.loads(resp.read() or b"{}")
        # kube-proxy serves its internal config type, which has no JSON tags: Go field names ("IPVS", "Scheduler").
        cfg = configz.get("kubeproxy.config.k8s.io") or {}
        ipvs = cfg.get("IPVS") or cfg.get("ipvs") or {}
        scheduler = str(ipvs.get("Scheduler", ipvs.get("scheduler")) or "")
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        pass  # /configz can be disabled; the mode is what matters
    return Running(mode, scheduler)


def default_locator(config: ProxyConfig, this_node: str | None) -> MetricsLocator:
    """This node answers on its metrics address; other nodes only when kube-proxy binds a wildcard address."""
    host = config.metrics_bind_address.rpartition(":")[0].strip("[]")
    port = config.metrics_bind_address.rpartition(":")[2] or "10249"
    wildcard = host in ("", "0.0.0.0", "::")

    def locate(node: str, obj: Json) -> str | None:
        if this_node and node == this_node:
            return config.metrics_url
        if not wildcard:
            return None
        for addr in ((obj.get("status") or {}).get("addresses") or []):
            if addr.get("type") == "InternalIP" and addr.get("address"):
                ip = addr["address"]
                return f"http://[{ip}]:{port}" if ":" in ip else f"http://{ip}:{port}"
        return None

    return locate


# -- the flow ------------------------------------------------------------------------------------------------------

class ProxySwitch:
    def __init__(self, api: k8s.ApiClient, *, guard: Guard | None = None, node_env: NodeEnv | None = None,
                 this_node: str | None = None, locator: MetricsLocator | None = None,
                 state_path: Path | None = None, on_event: EventSink | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 poll_interval: float = 1.0, rollout_timeout: float = 300.0) -> None:
        self.api = api
        self.core = k8s.CoreV1Api(api)
        # set from another thread (the admin's "abort"): the switch's rollout stops at its next poll and fails,
        # so run() rolls back as after any failed rollout; the rollback itself is never aborted
        self.abort_requested = threading.Event()
        self.apps = k8s.AppsV1Api(api)
        self.guard = guard or Guard()
        self.node_env = node_env
        self.this_node = this_node if this_node is not None else socket.gethostname()
        self.locator = locator
        self.state_path = state_path or state_dir()
        self.on_event = on_event or (lambda e: None)
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.poll_interval = poll_interval
        self.rollout_timeout = rollout_timeout

    def emit(self, event: Event) -> None:
        self.on_event(event)

    def _step(self, outcome: SwitchOutcome, step: str, result: StepResult) -> StepResult:
        outcome.steps.append((step, result))
        self.emit(StepFinished(step, result))
        return result

    # -- reading -----------------------------------------------------------------------------------------------

    def read(self) -> ProxyState:
        """The ConfigMap (with its resourceVersion), the DaemonSet, its pods, the nodes and the server version."""
        try:
            cm = _raw(self.core.read_namespaced_config_map, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        except ApiException as exc:
            if exc.status == 404:
                raise SwitchError(f"there is no ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: svcscope changes "
                                  "kube-proxy's mode on kubeadm-style clusters, where that ConfigMap holds "
                                  "config.conf") from None
            raise SwitchError(explain(exc, f"reading ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}")) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SwitchError(explain(exc, "reading kube-proxy's ConfigMap")) from None
        try:
            text, config = parse_configmap(cm)
        except ProxyConfigError as exc:
            raise SwitchError(str(exc)) from None
        try:
            ds: Json | None = _raw(self.apps.read_namespaced_daemon_set, DAEMONSET_NAME, CONFIGMAP_NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise SwitchError(explain(exc, f"reading DaemonSet {CONFIGMAP_NAMESPACE}/{DAEMONSET_NAME}")) from None
            ds = None
        try:
            pods = self._pods()
            nodes = tuple(_raw(self.core.list_node).get("items") or [])
            version = _raw(k8s.VersionApi(self.api).get_code)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise SwitchError(explain(exc, "reading kube-proxy's pods and the nodes")) from None
        return ProxyState(cm, text, config, str(cm["metadata"].get("resourceVersion", "")), ds, pods, nodes, version)

    def _pods(self) -> tuple[PodView, ...]:
        items = _raw(self.core.list_namespaced_pod, CONFIGMAP_NAMESPACE, label_selector=POD_SELECTOR).get("items")
        return tuple(PodView.from_api(p) for p in items or [])

    def node_status(self, state: ProxyState) -> list[NodeStatus]:
        """Configured vs running, per node: the running mode is read where kube-proxy serves it."""
        locate = self.locator or default_locator(state.config, self.this_node)
        pods = state.pods_by_node()
        names = sorted({(n.get("metadata") or {}).get("name", "") for n in state.nodes} | set(pods))
        by_name = {(n.get("metadata") or {}).get("name", ""): n for n in state.nodes}
        out = []
        for name in names:
            url = locate(name, by_name.get(name, {}))
            out.append(NodeStatus(name, pods.get(name), fetch_running(url) if url else None))
        return out

    # -- planning ----------------------------------------------------------------------------------------------

    def plan(self, state: ProxyState, change: ConfigChange) -> Plan:
        try:
            new_text = apply_change(state.text, change)
            target = parse(new_text)
        except ProxyConfigError as exc:
            raise SwitchError(str(exc)) from None
        return Plan(change, state.text, new_text, unified_diff(state.text, new_text), target)

    def preflight(self, state: ProxyState, plan: Plan) -> Preflight:
        """The checks for the target configuration on this node, and the cluster-level warnings."""
        return run_preflight(plan.target.mode, plan.target.scheduler_raw, self.node_env, state.version,
                             state.configmap, state.daemonset, state.nodes)

    # -- the writes --------------------------------------------------------------------------------------------

    def _patch_configmap(self, data: dict[str, str], resource_version: str, dry_run: bool) -> Json:
        body = {"metadata": {"resourceVersion": resource_version}, "data": data}
        kw: dict[str, Any] = {"_content_type": MERGE_PATCH}
        if dry_run:
            kw["dry_run"] = "All"
        return _raw(self.core.patch_namespaced_config_map, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, body, **kw)

    def _conflict_message(self, read_rv: str) -> str:
        try:
            now = _raw(self.core.read_namespaced_config_map, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
            now_rv = now["metadata"].get("resourceVersion", "?")
            who = ", ".join(sorted({m.get("manager", "?") for m in now["metadata"].get("managedFields") or []}))
        except (ApiException, urllib3.exceptions.HTTPError, OSError):
            now_rv, who = "?", ""
        by = f" (field managers: {who})" if who else ""
        return (f"the kube-proxy ConfigMap was changed by someone else since svcscope read it (resourceVersion "
                f"{read_rv}, now {now_rv}){by}; nothing was written: run the switch again to see their change in "
                "the diff")

    def dry_run(self, state: ProxyState, data: dict[str, str]) -> StepResult:
        try:
            self._patch_configmap(data, state.resource_version, dry_run=True)
        except ApiException as exc:
            if exc.status == 409:
                return StepResult(False, self._conflict_message(state.resource_version))
            return StepResult(False, explain(exc, "the server-side dry run of the ConfigMap change"))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return StepResult(False, explain(exc, "the server-side dry run"))
        return StepResult(True, "the API server accepts the change (server-side dry run)")

    def backup(self, state: ProxyState) -> Backup:
        """A copy of the ConfigMap in kube-system and the old config.conf in the state dir, before any write."""
        stamp = self.clock().astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")
        name = f"{BACKUP_PREFIX}{stamp}"
        body = {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": CONFIGMAP_NAMESPACE,
                         "labels": {BACKUP_LABEL: CONFIGMAP_NAME, "app.kubernetes.io/managed-by": "svcscope"},
                         "annotations": {BACKUP_MODE_ANNOTATION: state.config.mode,
                                         BACKUP_RV_ANNOTATION: state.resource_version}},
            "data": state.data,
        }
        for attempt in range(1, 60):  # a second backup within the same second gets a suffix, never an overwrite
            try:
                _raw(self.core.create_namespaced_config_map, CONFIGMAP_NAMESPACE, body)
                break
            except ApiException as exc:
                if exc.status == 409 and "already exists" in status_message(exc):
                    body["metadata"]["name"] = name = f"{BACKUP_PREFIX}{stamp}-{attempt}"
                    continue
                raise SwitchError(explain(exc, f"creating the backup ConfigMap {name}")) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise SwitchError(explain(exc, f"creating the backup ConfigMap {name}")) from None
        else:
            raise SwitchError(f"creating a backup ConfigMap failed: {BACKUP_PREFIX}{stamp} and its numbered "
                              "variants all exist; delete old backups and try again")
        text_file = self.state_path / "kube-proxy-backups" / f"{name}.{CONFIG_KEY}"
        path: Path | None = text_file
        try:
            text_file.parent.mkdir(parents=True, exist_ok=True)
            text_file.write_text(state.text)
            text_file.with_suffix(".json").write_text(json.dumps(
                {"configmap": f"{CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}", "resourceVersion": state.resource_version,
                 "server": self.api.configuration.host, "data": state.data}, indent=2))
        except OSError as exc:
            self.emit(Notice(f"the backup ConfigMap {name} was created, but the local copy could not be written "
                             f"to {text_file} ({exc.strerror or exc})"))
            path = None
        return Backup(name, state.data, state.config.mode, path)

    def write(self, data: dict[str, str], resource_version: str) -> StepResult:
        try:
            self._patch_configmap(data, resource_version, dry_run=False)
        except ApiException as exc:
            if exc.status == 409:
                raise SwitchError(self._conflict_message(resource_version)) from None
            raise SwitchError(explain(exc, f"patching ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}")) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SwitchError(explain(exc, "patching kube-proxy's ConfigMap")) from None
        return StepResult(True, f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} updated")

    # -- restarting and following ------------------------------------------------------------------------------

    def restart(self) -> tuple[StepResult, bool]:
        """Rollout restart (the DaemonSet controller replaces pods node by node); (result, used the fallback)."""
        self.guard.check("restarting kube-proxy")
        now = self.clock().astimezone(timezone.utc)
        try:
            ds = _raw(self.apps.read_namespaced_daemon_set, DAEMONSET_NAME, CONFIGMAP_NAMESPACE)
            template_meta = ((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}
            previous = str((template_meta.get("annotations") or {}).get(RESTARTED_AT, ""))
            stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            if stamp <= previous:  # a second restart within the same second must still change the template
                try:
                    stamp = (datetime.strptime(previous, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                except ValueError:
                    pass  # another tool's format (an offset): ours differs from it anyway
            body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
            _raw(self.apps.patch_namespaced_daemon_set, DAEMONSET_NAME, CONFIGMAP_NAMESPACE, body,
                 _content_type=STRATEGIC_PATCH)
            return StepResult(True, f"rollout restart of DaemonSet {CONFIGMAP_NAMESPACE}/{DAEMONSET_NAME} "
                                    f"({RESTARTED_AT}={stamp})"), False
        except ApiException as exc:
            if exc.status == 404:
                return StepResult(False, f"there is no DaemonSet {CONFIGMAP_NAMESPACE}/{DAEMONSET_NAME}, so svcscope "
                                         "cannot restart kube-proxy (static pods?): restart it on each node by hand"
                                  ), False
            why = explain(exc, "the rollout restart")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return StepResult(False, explain(exc, "the rollout restart")), False
        self.emit(Notice(f"{why}; deleting the kube-proxy pods node by node instead"))
        return StepResult(True, f"{why}; falling back to deleting the pods labelled {POD_SELECTOR} node by node"), True

    def _progress(self, old_uids: set[str], nodes: Sequence[str]) -> RolloutProgress:
        pods = self._pods()
        current: dict[str, PodView] = {}
        for pod in sorted(pods, key=lambda p: (p.uid not in old_uids, p.created or EPOCH)):
            if pod.node_name and not (pod.deleting and pod.uid not in old_uids):
                current[pod.node_name] = pod  # new pods sort last, so they win over an old one on the same node
        progress = []
        for node in nodes:
            pod = current.get(node)
            if pod is None:
                progress.append(NodeProgress(node, "", "", False, 0, "", False))
            else:
                progress.append(NodeProgress(node, pod.name, pod.phase, pod.ready, pod.restarts, pod.waiting_reason,
                                             pod.uid not in old_uids))
        return RolloutProgress(sum(p.done for p in progress), len(progress), tuple(progress))

    def abort(self) -> None:
        """Ask the running switch to stop its rollout and roll back (thread-safe; a no-op once it is over)."""
        self.abort_requested.set()

    def follow(self, old_uids: set[str], nodes: Sequence[str], what: str,
               only: Sequence[str] | None = None) -> StepResult:
        """Poll the pods until every node in `only` (default: all) runs a new Ready pod, one crash loops, or the
        rollout makes no progress for `rollout_timeout` seconds (a big cluster may take long, but never stall).
        Emits NodeProgress for every change and RolloutProgress each round."""
        deadline = self.monotonic() + self.rollout_timeout
        watched = list(only) if only is not None else list(nodes)
        last: dict[str, NodeProgress] = {}
        best = -1
        while True:
            try:
                progress = self._progress(old_uids, nodes)
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                return StepResult(False, explain(exc, f"following the {what}"))
            for p in progress.nodes:
                if last.get(p.node) != p:
                    last[p.node] = p
                    self.emit(p)
            self.emit(progress)
            if self.abort_requested.is_set():
                return StepResult(False, f"the {what} was aborted by the admin",
                                  "\n".join(p.describe() for p in progress.nodes))
            mine = [p for p in progress.nodes if p.node in watched]
            if progress.done > best:  # progress: the wait starts again
                best = progress.done
                deadline = self.monotonic() + self.rollout_timeout
            broken = [p for p in mine if p.new and p.waiting_reason in FAILING_REASONS]
            if broken:
                b = broken[0]
                return StepResult(False, f"kube-proxy on {b.node} is in {b.waiting_reason} (pod {b.pod}, restarts "
                                         f"{b.restarts}) after the {what}: it cannot run this configuration there",
                                  "\n".join(p.describe() for p in progress.nodes))
            if all(p.done for p in mine):
                return StepResult(True, f"{what}: {len(mine)} of {len(mine)} node(s) run a new, Ready kube-proxy",
                                  "\n".join(p.describe() for p in progress.nodes))
            if self.monotonic() > deadline:
                waiting = [p.describe() for p in mine if not p.done]
                return StepResult(False, f"the {what} made no progress for {self.rollout_timeout:.0f}s: "
                                         f"{'; '.join(waiting)}", "\n".join(p.describe() for p in progress.nodes))
            self.sleep(self.poll_interval)

    def restart_and_follow(self, state: ProxyState, what: str, outcome: SwitchOutcome) -> StepResult:
        old = {p.uid for p in state.pods}
        nodes = sorted({p.node_name for p in state.pods if p.node_name and not p.deleting})
        if not nodes:
            return self._step(outcome, "rollout", StepResult(False, f"there are no kube-proxy pods (label "
                                                             f"{POD_SELECTOR}) to restart in {CONFIGMAP_NAMESPACE}"))
        self.emit(StepStarted("restart", f"restart kube-proxy on {len(nodes)} node(s)"))
        result, fallback = self.restart()
        self._step(outcome, "restart", result)
        if not result.ok:
            return result
        self.emit(StepStarted("rollout", f"follow the {what} node by node"))
        if not fallback:
            return self._step(outcome, "rollout", self.follow(old, nodes, what))
        by_node = state.pods_by_node()
        for i, node in enumerate(nodes):
            pod = by_node.get(node)
            if pod is not None:
                try:
                    self.core.delete_namespaced_pod(pod.name, CONFIGMAP_NAMESPACE, _preload_content=False)
                except ApiException as exc:
                    if exc.status != 404:
                        return self._step(outcome, "rollout", StepResult(False, explain(exc, f"deleting {pod.name}")))
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    return self._step(outcome, "rollout", StepResult(False, explain(exc, f"deleting {pod.name}")))
            result = self.follow(old, nodes, what, only=nodes[: i + 1])
            if not result.ok:
                return self._step(outcome, "rollout", result)
        return self._step(outcome, "rollout", result)

    # -- verifying ---------------------------------------------------------------------------------------------

    def verify(self, expect: ProxyConfig) -> StepResult:
        """The new configuration runs: every pod new-enough and Ready (checked by the rollout), none crash looping,
        and kube-proxy reports the mode (and scheduler) wherever its metrics address can be reached."""
        try:
            state = self.read()
        except SwitchError as exc:
            return StepResult(False, str(exc))
        pods = state.pods_by_node()
        bad = [p for p in pods.values() if p.crash_looping or not p.ready]
        if bad:
            p = bad[0]
            why = p.waiting_reason or "not Ready"
            return StepResult(False, f"kube-proxy on {p.node_name} is {why} (pod {p.name}, restarts {p.restarts})")
        lines: list[str] = []
        problems: list[str] = []
        seen = 0
        for ns in self.node_status(state):
            if ns.running is None:
                continue
            if ns.running.error:
                if self.this_node and ns.node == self.this_node:
                    problems.append(ns.running.error)
                continue
            seen += 1
            sched = ns.running.scheduler
            lines.append(f"{ns.node}: proxyMode {ns.running_mode}" +
                         (f", scheduler {sched or 'rr'}" if sched is not None and ns.running_mode == "ipvs" else ""))
            if ns.running_mode != expect.mode:
                problems.append(f"kube-proxy on {ns.node} reports proxyMode {ns.running_mode}, not {expect.mode}")
            elif ns.differs(expect):
                problems.append(f"kube-proxy on {ns.node} runs the {sched or 'rr'} scheduler, not {expect.scheduler}")
        if problems:
            return StepResult(False, problems[0], "\n".join(lines + problems))
        if not seen:
            return StepResult(True, f"{len(pods)} kube-proxy pod(s) Ready; the running mode could not be read on any "
                                    "node (svcscope is not on a node, or metricsBindAddress is not reachable)",
                              "\n".join(lines))
        return StepResult(True, f"kube-proxy runs {expect.mode} ({seen} node(s) confirmed by /proxyMode); "
                                f"{len(pods)} pod(s) Ready, none crash looping", "\n".join(lines))

    # -- the whole flow ----------------------------------------------------------------------------------------

    def run(self, change: ConfigChange, confirm: Callable[[Mutation, StepResult], bool], *, force: bool = False,
            auto_rollback: bool = True, load_modules: Callable[[Preflight], None] | None = None) -> SwitchOutcome:
        """read -> preflight -> diff -> guarded (dry run, confirm, apply, verify) -> roll back on failure.

        `load_modules(preflight)`, when given, runs when modules are loadable but not loaded (the explicit
        "load module" step, which goes through the guard itself); the preflight is then run again."""
        outcome = SwitchOutcome(False, "")
        self.guard.check(f"switching kube-proxy to {change.describe()}")
        self.emit(StepStarted("read", f"read ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}"))
        try:
            state = self.read()
            plan = self.plan(state, change)
        except SwitchError as exc:
            self._step(outcome, "read", StepResult(False, str(exc)))
            outcome.message = str(exc)
            return outcome
        outcome.old_mode = state.config.mode
        self._step(outcome, "read", StepResult(True, f"configured: mode {state.config.mode}, scheduler "
                                                     f"{state.config.scheduler}, strictARP "
                                                     f"{str(state.config.strict_arp).lower()} (resourceVersion "
                                                     f"{state.resource_version})"))
        if plan.new_text == plan.old_text:
            outcome.ok = True
            outcome.message = f"kube-proxy is already configured with {change.describe()}; nothing to do"
            return outcome

        self.emit(StepStarted("preflight", f"preflight for {plan.target.mode} on this node"))
        pre = self.preflight(state, plan)
        if load_modules is not None and pre.loadable_modules:
            load_modules(pre)
            pre = self.preflight(state, plan)
        self.emit(PreflightDone(pre))
        self._step(outcome, "preflight", StepResult(not pre.blocked or force, pre.summary() + (
            "; overridden with --force" if pre.blocked and force else "")))
        if pre.blocked and not force:
            outcome.blocked = True
            outcome.message = pre.summary()
            return outcome

        self.emit(DiffReady(plan.diff))
        backup_box: list[Backup] = []
        changed = [False]

        def apply() -> StepResult:
            self.emit(StepStarted("backup", "back up the ConfigMap"))
            try:
                backup = self.backup(state)
            except SwitchError as exc:
                return self._step(outcome, "backup", StepResult(False, f"{exc}; nothing was changed"))
            backup_box.append(backup)
            where = f" and {backup.file}" if backup.file else ""
            self._step(outcome, "backup", StepResult(True, f"backed up to ConfigMap {CONFIGMAP_NAMESPACE}/"
                                                           f"{backup.name}{where}"))
            self.emit(StepStarted("apply", f"patch {CONFIG_KEY} (precondition resourceVersion "
                                           f"{state.resource_version})"))
            try:
                res = self.write({CONFIG_KEY: plan.new_text}, state.resource_version)
            except SwitchError as exc:
                if "changed by someone else" in str(exc):
                    outcome.conflict = True
                return self._step(outcome, "apply", StepResult(False, str(exc)))
            changed[0] = True
            self._step(outcome, "apply", res)
            return self.restart_and_follow(state, f"switch to {change.describe()}", outcome)

        def verify() -> StepResult:
            self.emit(StepStarted("verify", f"verify that kube-proxy runs {plan.target.mode}"))
            return self._step(outcome, "verify", self.verify(plan.target))

        def dry_run() -> StepResult:
            self.emit(StepStarted("dry-run", "server-side dry run of the ConfigMap patch"))
            res = self.dry_run(state, {CONFIG_KEY: plan.new_text})
            if not res.ok and "changed by someone else" in res.message:
                outcome.conflict = True
            return self._step(outcome, "dry-run", res)

        mutation = Mutation(plan.title, plan.diff, dry_run, apply, verify)
        results = self.guard.run(mutation, confirm)
        outcome.backup = backup_box[0] if backup_box else None
        if results and results[0].ok and len(results) == 1:
            outcome.declined = True
            outcome.message = "the switch was not confirmed; nothing was changed"
            return outcome
        last = results[-1]
        if last.ok and len(results) == 3:
            outcome.ok = True
            outcome.message = f"switched kube-proxy to {change.describe()}: {last.message}"
            return outcome
        outcome.message = last.message
        if changed[0] and outcome.backup is not None and auto_rollback:
            self.abort_requested.clear()  # an abort asks for this rollback: it must run to the end
            self.emit(Notice(f"{last.message}; rolling back to {outcome.backup.name}"))
            rb = self.rollback(outcome.backup, confirm=lambda m, r: True, steps=outcome.steps)
            outcome.rolled_back = rb.ok
            outcome.message = (f"{last.message}; rolled back to {outcome.backup.name}: " + rb.message if rb.ok else
                               f"{last.message}; the rollback failed too: {rb.message}")
        elif changed[0] and outcome.backup is not None:
            outcome.message += f"; roll back with: svcscope proxy-mode --rollback (backup {outcome.backup.name})"
        return outcome

    # -- rolling back ------------------------------------------------------------------------------------------

    def backups(self) -> list[Json]:
        """The backup ConfigMaps, newest first."""
        try:
            items = _raw(self.core.list_namespaced_config_map, CONFIGMAP_NAMESPACE,
                         label_selector=f"{BACKUP_LABEL}={CONFIGMAP_NAME}").get("items") or []
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise SwitchError(explain(exc, "listing the kube-proxy backups")) from None
        items = [i for i in items if i["metadata"]["name"].startswith(BACKUP_PREFIX)]
        return sorted(items, key=lambda i: (i["metadata"].get("creationTimestamp", ""), i["metadata"]["name"]),
                      reverse=True)

    def latest_backup(self) -> Backup:
        items = self.backups()
        if not items:
            raise SwitchError(f"there is no kube-proxy backup in {CONFIGMAP_NAMESPACE} (ConfigMaps labelled "
                              f"{BACKUP_LABEL}={CONFIGMAP_NAME}): nothing to roll back to")
        cm = items[0]
        data = dict(cm.get("data") or {})
        mode = ((cm["metadata"].get("annotations") or {}).get(BACKUP_MODE_ANNOTATION)
                or (parse(data[CONFIG_KEY]).mode if CONFIG_KEY in data else ""))
        return Backup(cm["metadata"]["name"], data, mode, None)

    def rollback(self, backup: Backup | None = None,
                 confirm: Callable[[Mutation, StepResult], bool] = lambda m, r: True,
                 steps: list[tuple[str, StepResult]] | None = None) -> SwitchOutcome:
        """Put the backup's data back (with a fresh resourceVersion precondition), restart, verify its mode.

        `steps`: the list to record the steps in (a failed switch passes its own, so one log tells the story)."""
        outcome = SwitchOutcome(False, "", steps if steps is not None else [])
        self.guard.check("rolling back kube-proxy's configuration")
        self.emit(StepStarted("rollback", "read the backup and the current ConfigMap"))
        try:
            backup = backup or self.latest_backup()
            state = self.read()
        except SwitchError as exc:
            self._step(outcome, "rollback", StepResult(False, str(exc)))
            outcome.message = str(exc)
            return outcome
        outcome.backup = backup
        text = backup.data.get(CONFIG_KEY, "")
        try:
            target = parse(text)
        except ProxyConfigError as exc:
            outcome.message = f"the backup {backup.name} does not hold a usable {CONFIG_KEY}: {exc}"
            self._step(outcome, "rollback", StepResult(False, outcome.message))
            return outcome
        diff = unified_diff(state.text, text)
        self.emit(DiffReady(diff))
        title = f"roll back kube-proxy to {backup.name} (mode {target.mode})"

        def dry_run() -> StepResult:
            return self._step(outcome, "rollback-dry-run", self.dry_run(state, backup.data))

        def apply() -> StepResult:
            if state.data != backup.data:
                try:
                    self._step(outcome, "rollback", self.write(backup.data, state.resource_version))
                except SwitchError as exc:
                    return self._step(outcome, "rollback", StepResult(False, str(exc)))
            else:
                self._step(outcome, "rollback", StepResult(True, f"the ConfigMap already matches {backup.name}"))
            return self.restart_and_follow(state, f"rollback to {target.mode}", outcome)

        def verify() -> StepResult:
            self.emit(StepStarted("verify", f"verify that kube-proxy runs {target.mode} again"))
            return self._step(outcome, "verify-rollback", self.verify(target))

        results = self.guard.run(Mutation(title, diff, dry_run, apply, verify), confirm)
        last = results[-1]
        if len(results) == 1 and last.ok:
            outcome.declined = True
            outcome.message = "the rollback was not confirmed; nothing was changed"
            return outcome
        outcome.ok = outcome.rolled_back = last.ok and len(results) == 3
        outcome.message = f"kube-proxy runs {target.mode} again: {last.message}" if outcome.ok else last.message
        return outcome
