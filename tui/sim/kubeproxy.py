"""The kube-proxy ipvs proxier, emulated: the IPVS table it would program on one node of the simulated cluster.

What the table should be is `tui.ipvs.expected.emulate()` (pure; the trace uses it too); this module runs it live.

`KubeProxyEmulator` is a sim component (start(loop)/stop()) that follows the store live and keeps the current table
for a chosen node, with knobs for trace tests (lag, a stale real server, a zeroed weight). It takes the mode and
scheduler from the node's running kube-proxy pod when the sim emulates kube-proxy pods (KubeProxyPods), else from
the kube-proxy ConfigMap. `program()` writes a table into a real kernel through pyroute2 (for the kernel tests).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from dataclasses import replace
from typing import Any, Callable

from tui.ipvs.expected import (  # noqa: F401 - re-exported: the emulator's callers and tests name them here
    EMULATED_LACKS, EmulationCache, EmulatorConfig, Knobs, emulate, node_ips,
)
from tui.ipvs.ipvsadm import sort_dests
from tui.ipvs.model import AF_INET, F_HASHED, IPVSTable, utc_now

# -- the live component -----------------------------------------------------------------------------------------

Listener = Callable[[IPVSTable], None]


class KubeProxyEmulator:
    """Follows the sim's store and keeps the emulated IPVS table of one node (default: the first node by name).

    Store events may arrive on any thread (the store calls subscribers under its lock): they only schedule a
    recomputation on the sim's loop, coalesced, after `knobs.lag` seconds. Listeners hear each new table on the
    sim's loop; `table` may be read from any thread."""

    def __init__(self, store: Any, node: str | None = None, *, proxy: Any = None,
                 config: EmulatorConfig | None = None, knobs: Knobs = Knobs(), clock: Callable = utc_now) -> None:
        self.store = store
        self._node = node
        self.proxy = proxy  # KubeProxyPods when the sim emulates kube-proxy pods: their mode and scheduler win
        self._config = config
        self.knobs = knobs
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._table = IPVSTable((), "emulated", read_at=clock(), lacks=EMULATED_LACKS)
        self._last_ipvs: IPVSTable | None = None  # what the node's kube-proxy last programmed in ipvs mode
        self._cache = EmulationCache()

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._unsubscribe = self.store.subscribe(self._on_event)
        if self.proxy is not None and hasattr(self.proxy, "on_change"):
            self.proxy.on_change(lambda node: self._schedule())
        self.resync()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    # -- reading ----------------------------------------------------------------------------------------------

    @property
    def node(self) -> str:
        if self._node:
            return self._node
        from tui.sim.resources import BY_KIND

        nodes, _ = self.store.list(BY_KIND["Node"])
        return nodes[0]["metadata"]["name"] if nodes else ""

    @node.setter
    def node(self, name: str) -> None:
        self._node = name
        self._schedule()

    @property
    def table(self) -> IPVSTable:
        with self._lock:
            return self._table

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def set_knobs(self, knobs: Knobs) -> None:
        """New faults; a sync already waiting out the old lag is re-armed with the new one (lifting an hour's lag
        must not leave the emulator silent for that hour)."""
        self.knobs = knobs
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._rearm)

    def _rearm(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._arm()

    # -- following the store ------------------------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        kind = event.resource.kind
        if kind in ("Service", "EndpointSlice", "Node") or (kind == "ConfigMap" and event.name == "kube-proxy"):
            self._schedule()  # kube-proxy pods coming and going arrive through proxy.on_change

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._arm)

    def _arm(self) -> None:
        if self._pending is not None:
            return  # a recomputation is already due: it will see this change too
        self._pending = self._loop.call_later(self.knobs.lag, self._fire) if self._loop else None

    def _fire(self) -> None:
        self._pending = None
        self.resync()

    def _current_config(self, node: str) -> tuple[EmulatorConfig, bool]:
        """(configuration, whether kube-proxy runs on the node at all)."""
        if self.proxy is not None:
            running = self.proxy.running(node)
            if running is None:
                if _has_kube_proxy_pod(self.store, node):
                    return self._config or EmulatorConfig(), False
                return self._config or _configmap_config(self.store), True  # a sim without kube-proxy pods
            return EmulatorConfig.from_config(running.config or {"mode": running.mode,
                                                                 "ipvs": {"scheduler": running.scheduler}}), True
        if self._config is not None:
            return self._config, True
        return _configmap_config(self.store), True

    def resync(self) -> IPVSTable:
        """Recompute now (on any thread) and tell the listeners if the table changed."""
        node = self.node
        config, running = self._current_config(node)
        with self.store.lock:
            from tui.sim.resources import BY_KIND

            services, _ = self.store.list(BY_KIND["Service"])
            slices, _ = self.store.list(BY_KIND["EndpointSlice"])
            nodes, _ = self.store.list(BY_KIND["Node"])
        previous = self.table
        if not running:
            new = replace(self._last_ipvs or previous, read_at=self._clock(),
                          note=f"simulated: kube-proxy is not running on node {node}; the rules stay as they were")
        elif config.mode == "ipvs":
            new = emulate(services, slices, nodes, node, config, self.knobs, self._clock, self._cache)
            if self.knobs.keep_stale and self._last_ipvs is not None:
                new = _keep_stale(self._last_ipvs, new)
            self._last_ipvs = new
        elif config.mode == "iptables" and self._last_ipvs is not None:
            # kube-proxy in iptables mode does not clean up IPVS (only nftables mode does): leftovers (#109286)
            new = replace(self._last_ipvs, read_at=self._clock(),
                          note=f"simulated: kube-proxy on node {node} now runs in iptables mode and no longer "
                               "maintains these IPVS rules (leftovers of ipvs mode)")
        else:
            self._last_ipvs = None
            new = IPVSTable((), "emulated", read_at=self._clock(), lacks=EMULATED_LACKS,
                            note=f"simulated: kube-proxy on node {node} runs in {config.mode} mode, which programs "
                                 "no IPVS virtual servers")
        with self._lock:
            self._table = new
        if new.virtual_servers != previous.virtual_servers or new.note != previous.note:
            for listener in list(self._listeners):
                listener(new)
        return new


def _keep_stale(old: IPVSTable, new: IPVSTable) -> IPVSTable:
    """Real servers that disappeared stay under their virtual server, as when kube-proxy misses a delete."""
    old_by_key = {vs.key: vs for vs in old.virtual_servers}
    out = []
    for vs in new.virtual_servers:
        before = old_by_key.get(vs.key)
        if before is not None:
            have = {rs.key for rs in vs.real_servers}
            stale = [rs for rs in before.real_servers if rs.key not in have]
            if stale:
                vs = replace(vs, real_servers=tuple(sort_dests(list(vs.real_servers) + stale)))
        out.append(vs)
    return replace(new, virtual_servers=tuple(out))


def _has_kube_proxy_pod(store: Any, node: str) -> bool:
    from tui.sim.resources import BY_KIND

    pods, _ = store.list(BY_KIND["Pod"], "kube-system", where=lambda p: (
        ((p.get("metadata") or {}).get("labels") or {}).get("k8s-app") == "kube-proxy"
        and (p.get("spec") or {}).get("nodeName") == node))
    return bool(pods)


def _configmap_config(store: Any) -> EmulatorConfig:
    """kube-system/kube-proxy config.conf, as kube-proxy reads it; no ConfigMap: an ipvs-mode default."""
    from tui.kube.proxy_config import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, ProxyConfigError, parse_configmap
    from tui.sim.resources import BY_KIND

    cm = store.get(BY_KIND["ConfigMap"], CONFIGMAP_NAMESPACE, CONFIGMAP_NAME)
    if cm is None:
        return EmulatorConfig()
    try:
        _, cfg = parse_configmap(cm)
    except ProxyConfigError:
        return EmulatorConfig()
    return EmulatorConfig.from_config(cfg.raw)


def ensure_emulator(sim: Any, node: str | None = None, knobs: Knobs = Knobs()) -> KubeProxyEmulator:
    """The sim's kube-proxy IPVS emulator, added once (with the kube-proxy pod emulation it follows)."""
    comp = getattr(sim, "ipvs_emulator", None)
    if comp is None:
        from tui.sim.kubeproxy_pods import ensure_kube_proxy

        pods = ensure_kube_proxy(sim)
        comp = KubeProxyEmulator(sim.store, node, proxy=pods, knobs=knobs)
        sim.add_component(comp)
        sim.ipvs_emulator = comp
    elif node:
        comp.node = node
    return comp


def demo_table(node: str | None = None, scenario: str = "tutorial") -> IPVSTable:
    """`svcscope ipvs --once --demo`: start the simulated cluster, read the emulated table of `node`, stop."""
    from tui.sim.cluster import SimCluster

    import time

    sim = SimCluster(scenario=scenario)
    emulator = ensure_emulator(sim, node)
    sim.start()
    try:
        deadline = time.monotonic() + 10  # the DaemonSet's kube-proxy pods start asynchronously
        while time.monotonic() < deadline:
            name = sim.call(lambda: emulator.node)
            if sim.call(emulator.proxy.running, name) is not None or not _has_kube_proxy_pod(sim.store, name):
                break
            time.sleep(0.05)
        return sim.call(emulator.resync)
    finally:
        sim.stop()


# -- programming a real kernel (tests) --------------------------------------------------------------------------

async def program(table: IPVSTable, flush: bool = True) -> None:
    """Make this kernel's IPVS table `table` through pyroute2's AsyncIPVS (needs root and ip_vs + schedulers)."""
    from pyroute2 import AsyncIPVS, IPVSDest, IPVSService

    from tui.ipvs.netlink import RawRequest  # a bare genl request: pyroute2's AsyncIPVS has no flush

    proto = {"TCP": socket.IPPROTO_TCP, "UDP": socket.IPPROTO_UDP, "SCTP": 132}
    ipvs = AsyncIPVS()
    try:
        await ipvs.setup_endpoint()
        if flush:
            req = await ipvs.nlm_request(RawRequest(bytes((17, 1, 0, 0))), msg_type=ipvs.prid, msg_flags=5)
            [m async for m in req]
        for vs in table.virtual_servers:
            # IPv6: the kernel keeps the prefix length as a host-order number in the __be32 netmask field
            mask = vs.netmask.to_bytes(4, "big") if vs.af == AF_INET else vs.netmask.to_bytes(4, sys.byteorder)
            spec: dict[str, Any] = {"af": vs.af, "sched_name": vs.scheduler, "timeout": vs.timeout,
                                    "flags": {"flags": vs.flags & ~F_HASHED, "mask": 0xFFFFFFFF},
                                    "netmask": socket.inet_ntop(AF_INET, mask)}
            if vs.fwmark:
                spec["fwmark"] = vs.fwmark
            else:
                spec.update(addr=vs.address, port=vs.port, protocol=proto[vs.protocol])
            svc = IPVSService(**spec)
            await ipvs.service("add", service=svc)
            for rs in vs.real_servers:
                dest = IPVSDest(addr=rs.address, port=rs.port, weight=rs.weight,
                                fwd_method=("Masq", "Local", "Tunnel", "Route").index(rs.forward),
                                u_thresh=rs.u_threshold or 0, l_thresh=rs.l_threshold or 0)
                await ipvs.dest("add", service=svc, dest=dest)
    finally:
        ipvs.close()


__all__ = ["EmulatorConfig", "Knobs", "KubeProxyEmulator", "demo_table", "emulate", "ensure_emulator", "node_ips",
           "program"]
