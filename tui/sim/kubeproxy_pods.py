"""The simulated cluster's kube-proxy as a node sees it: what each node's kube-proxy answers, and the node's files.

Who starts kube-proxy pods and with what is the sim's kubelet emulation (tui/sim/controllers/kubelet.py with the
kube-proxy hook in controllers/kubeproxy.py): a pod records the mode and IPVS scheduler its ConfigMap held when it
started (annotations `sim.svcscope.io/proxy-mode`, `sim.svcscope.io/ipvs-scheduler`) and crash loops where its node
cannot run that mode. This component adds what a switch is verified with, as on a real node:

- every node gets an HTTP endpoint on loopback serving /proxyMode and /configz as kube-proxy does on
  127.0.0.1:10249; nothing answers while the node's kube-proxy is not running (crash looping, or no pod), so
  `--demo` verifies through the same code path as a real node, with the address injected (`locator()`);
- /configz holds the configuration the pod started with (the ConfigMap as it was when the pod first appeared, with
  the mode and scheduler the kubelet recorded on it);
- `running(node)` tells the emulated IPVS table (tui/sim/kubeproxy.py) which mode and scheduler a node's kube-proxy
  runs, and listeners registered with `on_change` hear when a node's kube-proxy pods change;
- `node_env(node)` lays out the emulated node as files (proc/modules from its `sim.svcscope.io/kernel-modules`
  annotation, osrelease, the tools' --version) so the preflight reads it with the same code as a real machine.
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
from tui.sim.controllers.kubeproxy import (
    KERNEL_MODULES_ANNOTATION,
    KERNEL_VERSION_ANNOTATION,
    PROXY_MODE_ANNOTATION,
    SCHEDULER_ANNOTATION,
    is_kube_proxy,
)
from tui.sim.resources import BY_KIND
from tui.sim.store import Event, Store

POD = BY_KIND["Pod"]
NODE = BY_KIND["Node"]
CONFIGMAP = BY_KIND["ConfigMap"]

MODE_ANNOTATION = PROXY_MODE_ANNOTATION
MODULES_ANNOTATION = KERNEL_MODULES_ANNOTATION
# Modules a node without the annotation has; the annotation governs the IPVS family only, since every node that
# runs kube-proxy has netfilter itself.
IPVS_FAMILY = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_dh",
               "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_fo", "ip_vs_ovf", "ip_vs_mh", "ip_vs_twos", "ip_set",
               "ip_set_hash_ip", "ip_set_hash_ipport", "ip_set_hash_ipportip", "ip_set_hash_ipportnet",
               "ip_set_hash_net", "ip_set_bitmap_port")
BASE_MODULES = ("nf_conntrack", "nf_tables", "ip_tables", "x_tables", "nf_nat")
DEFAULT_KERNEL = "6.1.0-18-amd64"

Obj = dict[str, Any]


def node_modules(node: Obj | None) -> set[str] | None:
    """The IPVS-family modules a sim node has (its annotation), or None for "all of them"."""
    ann = ((node or {}).get("metadata") or {}).get("annotations") or {}
    text = ann.get(KERNEL_MODULES_ANNOTATION)
    if text is None:
        return None
    return {m.strip().replace("-", "_") for m in str(text).split(",") if m.strip()}


@dataclass(frozen=True)
class RunningProxy:
    pod: str
    mode: str
    scheduler: str
    config: dict[str, Any]  # the config.conf the pod started with (parsed), mode and scheduler as recorded


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


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


class KubeProxyPods:
    """A sim component (start(loop)/stop()) answering for every node's kube-proxy."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._servers: dict[str, _MetricsServer] = {}
        self._configs: dict[str, dict[str, Any]] = {}  # pod uid -> the config it started with
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
            if is_kube_proxy(pod):
                self._remember(pod)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.shutdown()
            server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def on_change(self, listener: Callable[[str], None]) -> None:
        """`listener(node)` runs on the sim's loop whenever that node's kube-proxy pods change."""
        self._listeners.append(listener)

    # -- what runs where ---------------------------------------------------------------------------------------

    def running(self, node: str) -> RunningProxy | None:
        """The kube-proxy running on `node` (a Ready pod, not terminating, newest first), or None."""
        pods, _ = self.store.list(POD, CONFIGMAP_NAMESPACE, where=lambda p: is_kube_proxy(p) and
                                  (p.get("spec") or {}).get("nodeName") == node)
        best = None
        for pod in pods:
            meta = pod["metadata"]
            ann = meta.get("annotations") or {}
            if meta.get("deletionTimestamp") or PROXY_MODE_ANNOTATION not in ann or not _ready(pod):
                continue
            if best is None or meta.get("creationTimestamp", "") >= best["metadata"].get("creationTimestamp", ""):
                best = pod
        if best is None:
            return None
        ann = best["metadata"]["annotations"]
        mode, scheduler = ann[PROXY_MODE_ANNOTATION], ann.get(SCHEDULER_ANNOTATION, "")
        config = dict(self._configs.get(best["metadata"].get("uid", ""), {}))
        config["mode"] = mode  # the recorded annotations are authoritative; the snapshot fills in the rest
        config["ipvs"] = {**(config.get("ipvs") or {}), "scheduler": scheduler}
        return RunningProxy(best["metadata"]["name"], mode, scheduler, config)

    def addresses(self) -> dict[str, str]:
        """node -> the base URL of its emulated kube-proxy metrics address."""
        with self._lock:
            return {n: f"http://127.0.0.1:{s.server_address[1]}" for n, s in self._servers.items()}

    def locator(self) -> Callable[[str, Obj], str | None]:
        """For ProxySwitch: every emulated node's kube-proxy can be asked (as if metricsBindAddress were 0.0.0.0)."""
        return lambda node, obj: self.addresses().get(node)

    # -- following the store -----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Called under the store lock: remember a new pod's configuration now (the ConfigMap it starts with is the
        # current one), and hand everything else to the sim's loop.
        if event.resource is POD and is_kube_proxy(event.obj):
            if event.type != "DELETED":
                self._remember(event.obj)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._notify, (event.obj.get("spec") or {}).get("nodeName", ""))
        elif event.resource is NODE and self._loop is not None:
            self._loop.call_soon_threadsafe(self._node_event, event.type, event.name)

    def _remember(self, pod: Obj) -> None:
        uid = pod["metadata"].get("uid", "")
        if uid and uid not in self._configs:
            cm = self.store.get(CONFIGMAP, CONFIGMAP_NAMESPACE, CONFIGMAP_NAME)
            try:
                self._configs[uid] = dict(parse(((cm or {}).get("data") or {}).get(CONFIG_KEY, "")).raw)
            except ProxyConfigError:
                self._configs[uid] = {}

    def _notify(self, node: str) -> None:
        for listener in list(self._listeners):
            listener(node)

    def _node_event(self, type_: str, name: str) -> None:
        if type_ == "DELETED":
            with self._lock:
                server = self._servers.pop(name, None)
            if server is not None:
                threading.Thread(target=server.shutdown, daemon=True).start()
            return
        self._ensure_server(name)

    def _ensure_server(self, node: str) -> None:
        with self._lock:
            if node in self._servers:
                return
            server = _MetricsServer(node, self)
            self._servers[node] = server
        threading.Thread(target=server.serve_forever, name=f"kube-proxy-metrics-{node}", daemon=True).start()

    # -- the emulated node as files, for the preflight ---------------------------------------------------------

    def node_env(self, node: str) -> NodeEnv:
        """A directory tree laid out like `node`'s /proc, /sys, /lib/modules and tools, for the preflight."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="svcscope-simnode-")
        obj = self.store.get(NODE, None, node) or {}
        have = node_modules(obj)
        modules = sorted(set(BASE_MODULES) | (set(IPVS_FAMILY) if have is None else have))
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


def ensure_kube_proxy(sim: Any) -> KubeProxyPods:
    """The cluster's kube-proxy emulation, added once (before or after the cluster starts)."""
    comp = getattr(sim, "kube_proxy", None)
    if comp is None:
        comp = KubeProxyPods(sim.store)
        sim.add_component(comp)
        sim.kube_proxy = comp
    return comp
