"""The simulated cluster's kube-proxy: what each kube-proxy pod runs, whether it can, and what it answers.

Real kube-proxy reads its ConfigMap once, when it starts, and exits when its mode cannot run on the node (no
fallback since 1.26): the pod then sits in CrashLoopBackOff with a growing restart count. This component gives the
sim's kube-proxy DaemonSet pods the same behaviour, so a switch, a crashing rollout and a rollback can be played
end to end through the real API:

- a kube-proxy pod that appears on a node (created by the DaemonSet controller, or by a scenario) is stamped with
  the configuration its ConfigMap holds at that moment (annotations `sim.svcscope.io/proxy-mode` and
  `sim.svcscope.io/ipvs-scheduler`; the whole config.conf is kept for /configz);
- whether it can run there is decided by `can_run`: the node's annotation `sim.svcscope.io/kernel-modules` lists the
  kernel modules the node has (absent: every module); ipvs needs ip_vs, ip_vs_<scheduler>, nf_conntrack and ip_set,
  nftables needs nf_tables;
- a pod that can run is Running and Ready; one that cannot is CrashLoopBackOff (Ready false, the exit message
  kube-proxy prints in lastState, restartCount growing every `crash_interval` seconds);
- every node gets an HTTP endpoint on loopback serving /proxyMode and /configz as kube-proxy does on
  127.0.0.1:10249 (nothing answers while its kube-proxy is not running), so `--demo` verifies a switch through the
  same code path as a real node, with the address injected (`locator()`);
- `running(node)` tells the emulated IPVS table which mode and scheduler a node's kube-proxy runs, and listeners
  registered with `on_change` hear when that changes.

`node_env(node)` lays out the emulated node as files (proc/modules, osrelease, tool binaries) so the preflight reads
it with the same code it uses on a real machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from tui.kube.preflight import NodeEnv
from tui.kube.proxy_config import CONFIG_KEY, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, ProxyConfigError, parse
from tui.sim.resources import BY_KIND
from tui.sim.store import Event, Store, timestamp

POD = BY_KIND["Pod"]
NODE = BY_KIND["Node"]
CONFIGMAP = BY_KIND["ConfigMap"]

MODE_ANNOTATION = "sim.svcscope.io/proxy-mode"
SCHEDULER_ANNOTATION = "sim.svcscope.io/ipvs-scheduler"
MODULES_ANNOTATION = "sim.svcscope.io/kernel-modules"
POD_LABEL = ("k8s-app", "kube-proxy")
CONTAINER = "kube-proxy"
ALL_MODULES = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_dh",
               "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_fo", "ip_vs_ovf", "ip_vs_mh", "ip_vs_twos",
               "nf_conntrack", "ip_set", "ip_set_hash_ip", "ip_set_hash_ipport", "ip_set_hash_ipportip",
               "ip_set_hash_ipportnet", "ip_set_hash_net", "ip_set_bitmap_port", "nf_tables", "ip_tables")
BASE_MODULES = ("nf_conntrack", "nf_tables", "ip_tables", "x_tables", "nf_nat")
KERNEL_VERSION_ANNOTATION = "sim.svcscope.io/kernel-version"
DEFAULT_KERNEL = "6.1.0-18-amd64"

Obj = dict[str, Any]


def required_modules(mode: str, scheduler: str = "") -> tuple[str, ...]:
    if mode == "ipvs":
        return ("ip_vs", f"ip_vs_{scheduler or 'rr'}", "nf_conntrack", "ip_set")
    if mode == "nftables":
        return ("nf_tables",)
    return ()


def node_modules(node: Obj | None) -> set[str] | None:
    """The modules a sim node has (its annotation), or None for "every module"."""
    ann = ((node or {}).get("metadata") or {}).get("annotations") or {}
    text = ann.get(MODULES_ANNOTATION)
    if text is None:
        return None
    return {m.strip().replace("-", "_") for m in text.split(",") if m.strip()}


def can_run(mode: str, scheduler: str, node: Obj | None) -> tuple[bool, str]:
    """Whether kube-proxy in `mode` starts on `node`; when not, the error kube-proxy exits with."""
    have = node_modules(node)
    if have is None:
        return True, ""
    missing = [m for m in required_modules(mode, scheduler) if m not in have]
    if not missing:
        return True, ""
    if mode == "ipvs":
        if "ip_vs" in missing:
            return False, "can't use the IPVS proxier: ipvs not supported by the kernel"
        return False, (f"can't use the IPVS proxier: couldn't create a virtual server with scheduler "
                       f"{scheduler or 'rr'}: no such file or directory ({', '.join(missing)} missing)")
    return False, "failed to create nftables proxier: could not run nftables command: Error: Could not process rule"


@dataclass(frozen=True)
class RunningProxy:
    pod: str
    mode: str
    scheduler: str
    config: dict[str, Any]  # the config.conf the pod started with (parsed)


def _is_kube_proxy(obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") == CONFIGMAP_NAMESPACE
            and (meta.get("labels") or {}).get(POD_LABEL[0]) == POD_LABEL[1])


def configz(config: dict[str, Any]) -> dict[str, Any]:
    """kube-proxy's /configz: its internal configuration type, whose JSON keys are Go field names."""
    ipvs = config.get("ipvs") or {}
    return {"kubeproxy.config.k8s.io": {
        "Mode": config.get("mode") or "iptables",
        "MetricsBindAddress": config.get("metricsBindAddress") or "127.0.0.1:10249",
        "BindAddress": config.get("bindAddress") or "0.0.0.0",
        "ClusterCIDR": config.get("clusterCIDR") or "",
        "IPVS": {"Scheduler": ipvs.get("scheduler") or "", "StrictARP": bool(ipvs.get("strictARP")),
                 "ExcludeCIDRs": ipvs.get("excludeCIDRs"), "SyncPeriod": ipvs.get("syncPeriod") or "30s",
                 "MinSyncPeriod": ipvs.get("minSyncPeriod") or "0s", "TCPTimeout": ipvs.get("tcpTimeout") or "0s",
                 "TCPFinTimeout": ipvs.get("tcpFinTimeout") or "0s", "UDPTimeout": ipvs.get("udpTimeout") or "0s"},
    }}


class _MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, node: str, owner: "KubeProxyPods") -> None:
        self.node = node
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _MetricsHandler)


class _MetricsHandler(BaseHTTPRequestHandler):
    server: _MetricsServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        running = self.server.owner.running(self.server.node)
        if running is None:
            self.close_connection = True  # kube-proxy is not running on this node: nobody answers
            return
        if self.path == "/proxyMode":
            body, ctype = running.mode.encode(), "text/plain; charset=utf-8"
        elif self.path == "/configz":
            body, ctype = json.dumps(configz(running.config)).encode(), "application/json"
        elif self.path in ("/healthz", "/livez"):
            body, ctype = b"ok", "text/plain; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the sim has no access log
        pass


class KubeProxyPods:
    """A sim component (start(loop)/stop()) emulating kube-proxy on every node of the store."""

    def __init__(self, store: Store, crash_interval: float = 2.0, manage_pods: bool = True) -> None:
        self.store = store
        self.crash_interval = crash_interval
        # When the sim's kubelet emulation already starts pods through its kube-proxy hook, this component only
        # observes them (one writer per pod status); otherwise it stamps and starts kube-proxy pods itself.
        self.manage_pods = manage_pods
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._servers: dict[str, _MetricsServer] = {}
        self._configs: dict[str, dict[str, Any]] = {}  # pod uid -> the config it started with
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._unsubscribe = self.store.subscribe(self._on_event)
        for node in self.store.list(NODE)[0]:
            self._ensure_server(node["metadata"]["name"])
        for pod in self.store.list(POD, CONFIGMAP_NAMESPACE)[0]:
            if _is_kube_proxy(pod):
                self._reconcile(pod["metadata"]["name"])

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def on_change(self, listener: Callable[[str], None]) -> None:
        """`listener(node)` runs (on the sim's loop) whenever what a node's kube-proxy runs may have changed."""
        self._listeners.append(listener)

    # -- what runs where ---------------------------------------------------------------------------------------

    def running(self, node: str) -> RunningProxy | None:
        """The kube-proxy running on `node` (a Ready pod, not terminating), or None."""
        pods, _ = self.store.list(POD, CONFIGMAP_NAMESPACE, where=lambda p: _is_kube_proxy(p) and
                                  (p.get("spec") or {}).get("nodeName") == node)
        best = None
        for pod in pods:
            meta = pod["metadata"]
            ann = meta.get("annotations") or {}
            if meta.get("deletionTimestamp") or MODE_ANNOTATION not in ann or not _ready(pod):
                continue
            if best is None or meta.get("creationTimestamp", "") >= best["metadata"].get("creationTimestamp", ""):
                best = pod
        if best is None:
            return None
        ann = best["metadata"]["annotations"]
        mode, scheduler = ann[MODE_ANNOTATION], ann.get(SCHEDULER_ANNOTATION, "")
        config = dict(self._configs.get(best["metadata"].get("uid", ""), {}))
        config["mode"] = mode  # the annotations are what the pod started with; the snapshot fills in the rest
        config["ipvs"] = {**(config.get("ipvs") or {}), "scheduler": scheduler}
        return RunningProxy(best["metadata"]["name"], mode, scheduler, config)

    def addresses(self) -> dict[str, str]:
        """node -> the base URL of its emulated kube-proxy metrics address."""
        with self._lock:
            return {n: f"http://127.0.0.1:{s.server_address[1]}" for n, s in self._servers.items()}

    def locator(self) -> Callable[[str, Obj], str | None]:
        """For ProxySwitch: every emulated node's kube-proxy can be asked (as if metricsBindAddress were 0.0.0.0)."""
        return lambda node, obj: self.addresses().get(node)

    # -- the store side ----------------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Called under the store lock: only hand the work to the sim's loop.
        if self._loop is None:
            return
        if event.resource is NODE:
            self._loop.call_soon_threadsafe(self._node_event, event.type, event.name)
        elif event.resource is POD and _is_kube_proxy(event.obj):
            self._loop.call_soon_threadsafe(self._pod_event, event.type, event.name,
                                            (event.obj.get("spec") or {}).get("nodeName", ""))

    def _node_event(self, type_: str, name: str) -> None:
        if type_ == "DELETED":
            with self._lock:
                server = self._servers.pop(name, None)
            if server is not None:
                threading.Thread(target=server.shutdown, daemon=True).start()
            return
        self._ensure_server(name)

    def _pod_event(self, type_: str, name: str, node: str) -> None:
        if type_ != "DELETED":
            self._reconcile(name)
        for listener in list(self._listeners):
            listener(node)

    def _ensure_server(self, node: str) -> None:
        with self._lock:
            if node in self._servers:
                return
            server = _MetricsServer(node, self)
            self._servers[node] = server
        threading.Thread(target=server.serve_forever, name=f"kube-proxy-metrics-{node}", daemon=True).start()

    def _current_config(self) -> tuple[dict[str, Any], str, str]:
        cm = self.store.get(CONFIGMAP, CONFIGMAP_NAMESPACE, CONFIGMAP_NAME)
        text = ((cm or {}).get("data") or {}).get(CONFIG_KEY, "")
        try:
            cfg = parse(text)
            return dict(cfg.raw), cfg.mode, cfg.scheduler_raw
        except ProxyConfigError:
            return {}, "", ""  # kube-proxy cannot read its config: it exits

    def _reconcile(self, name: str) -> None:
        """Stamp a newly started kube-proxy pod with its configuration and give it the status it would have."""
        pod = self.store.get(POD, CONFIGMAP_NAMESPACE, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            return  # not scheduled yet: it has not started
        uid = pod["metadata"].get("uid", "")
        ann = pod["metadata"].get("annotations") or {}
        if uid not in self._configs:  # first sight of this pod: it started with the ConfigMap as it is now
            self._configs[uid] = self._current_config()[0]
        if not self.manage_pods:
            return
        if MODE_ANNOTATION not in ann:
            config, mode, scheduler = self._current_config()
        else:
            mode, scheduler = ann[MODE_ANNOTATION], ann.get(SCHEDULER_ANNOTATION, "")
        if mode:
            ok, reason = can_run(mode, scheduler, self.store.get(NODE, None, node_name))
        else:
            ok, reason = False, f"failed to load config file \"/var/lib/kube-proxy/{CONFIG_KEY}\": it is not valid"
        if MODE_ANNOTATION in ann and _ready(pod) == ok and _crash_looping(pod) == (not ok):
            return  # already what it should be
        now = timestamp(self.store.clock())

        def change(obj: Obj) -> None:
            a = obj["metadata"].setdefault("annotations", {})
            a[MODE_ANNOTATION] = mode
            a[SCHEDULER_ANNOTATION] = scheduler
            before = sum(int(cs.get("restartCount") or 0)
                         for cs in (obj.get("status") or {}).get("containerStatuses") or [])
            _set_status(obj, ok, reason, now, restarts=max(before, 1) if not ok else before)

        self.store.mutate(POD, CONFIGMAP_NAMESPACE, name, change)
        if not ok:
            self._schedule_crash(name, uid)

    def _schedule_crash(self, name: str, uid: str) -> None:
        if self._loop is None or uid in self._timers:
            return
        self._timers[uid] = self._loop.call_later(self.crash_interval, self._crash_again, name, uid)

    def _crash_again(self, name: str, uid: str) -> None:
        """kube-proxy exits again; the kubelet restarts it after its back-off: restartCount grows."""
        self._timers.pop(uid, None)
        pod = self.store.get(POD, CONFIGMAP_NAMESPACE, name)
        if pod is None or pod["metadata"].get("uid") != uid or pod["metadata"].get("deletionTimestamp"):
            return
        if not _crash_looping(pod):
            return

        def bump(obj: Obj) -> None:
            for cs in (obj.get("status") or {}).get("containerStatuses") or []:
                cs["restartCount"] = int(cs.get("restartCount") or 0) + 1

        self.store.mutate(POD, CONFIGMAP_NAMESPACE, name, bump)
        self._schedule_crash(name, uid)

    # -- the emulated node as files, for the preflight ---------------------------------------------------------

    def node_env(self, node: str) -> NodeEnv:
        """A directory tree laid out like `node`'s /proc, /sys, /lib/modules and tools, for the preflight."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="svcscope-simnode-")
        obj = self.store.get(NODE, None, node) or {}
        have = node_modules(obj)
        # The annotation governs the IPVS family; every node running kube-proxy has netfilter itself.
        modules = sorted(set(BASE_MODULES) | (set(ALL_MODULES) if have is None else have))
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        kernel = (ann.get(KERNEL_VERSION_ANNOTATION) or ((obj.get("status") or {}).get("nodeInfo") or {})
                  .get("kernelVersion") or DEFAULT_KERNEL)
        root = Path(self._tmp.name) / node
        (root / "proc" / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
        (root / "proc" / "sys" / "kernel" / "osrelease").write_text(kernel + "\n")
        (root / "proc" / "modules").write_text("".join(f"{m} 16384 0 - Live 0x0000000000000000\n" for m in modules))
        sysmod = root / "sys" / "module"
        sysmod.mkdir(parents=True, exist_ok=True)
        for m in modules:
            (sysmod / m).mkdir(exist_ok=True)
        (root / "lib" / "modules" / kernel).mkdir(parents=True, exist_ok=True)
        sbin = root / "usr" / "sbin"
        sbin.mkdir(parents=True, exist_ok=True)
        for tool, line in (("ipset", "ipset v7.17, protocol version: 7"), ("nft", "nftables v1.0.6 (Lester Gooch #5)"),
                           ("iptables", "iptables v1.8.9 (nf_tables)")):
            path = sbin / tool
            path.write_text(f"#!/bin/sh\necho '{line}'\n")
            os.chmod(path, 0o755)
        return NodeEnv.under(root, is_root=False, name=node)


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _crash_looping(pod: Obj) -> bool:
    return any(((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
               for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def _set_status(pod: Obj, ok: bool, reason: str, now: str, restarts: int) -> None:
    status = pod.setdefault("status", {})
    image = next((c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []
                  if c.get("name") == CONTAINER), "registry.k8s.io/kube-proxy:v1.32.0")
    status["phase"] = "Running"
    status.setdefault("startTime", now)
    cond = "True" if ok else "False"
    conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                  {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                  {"type": "ContainersReady", "status": cond, "lastTransitionTime": now},
                  {"type": "Ready", "status": cond, "lastTransitionTime": now}]
    if not ok:
        for c in conditions[2:]:
            c["reason"] = "ContainersNotReady"
            c["message"] = f"containers with unready status: [{CONTAINER}]"
    status["conditions"] = conditions
    cs: Obj = {"name": CONTAINER, "image": image, "imageID": "", "ready": ok, "started": ok,
               "restartCount": restarts}
    if ok:
        cs["state"] = {"running": {"startedAt": now}}
    else:
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off 10s restarting failed container={CONTAINER} "
                                              f"pod={pod['metadata']['name']}"}}
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "message": reason,
                                          "startedAt": now, "finishedAt": now}}
    status["containerStatuses"] = [cs]


def ensure_kube_proxy(sim: Any, crash_interval: float = 2.0) -> KubeProxyPods:
    """The cluster's kube-proxy emulation, added once (before or after the cluster starts)."""
    comp = getattr(sim, "kube_proxy", None)
    if comp is None:
        kubelet = getattr(getattr(sim, "controllers", None), "kubelet", None)
        comp = KubeProxyPods(sim.store, crash_interval=crash_interval, manage_pods=kubelet is None)
        sim.add_component(comp)
        sim.kube_proxy = comp
    return comp
