"""The kube-proxy ipvs proxier, emulated: the IPVS table it would program on one node of the simulated cluster.

`emulate()` is pure: Services, EndpointSlices and Nodes (API dicts or tui.kube.models views) in, an IPVSTable out,
following kube-proxy's ipvs proxier (pkg/proxy/ipvs/proxier.go syncProxyRules/syncEndpoint, pkg/proxy/topology.go
CategorizeEndpoints, endpointslicecache.go):

- one virtual server per ClusterIP:port, externalIP:port, LoadBalancer ingress IP:port, and NodePort on each of the
  node's IPs (its InternalIPs, filtered by nodePortAddresses), per address family of the Service's ClusterIPs;
- scheduler from the kube-proxy configuration (`ipvs.scheduler`, empty = rr); `mh` also sets flag 0x10
  (kube-proxy's "FlagSourceHash", which the kernel reads as mh-port); sessionAffinity ClientIP = persistent with
  the affinity timeout (default 10800 s); the kernel adds the hashed flag (0x2) itself, so it is set here too;
- real servers: the endpoints' first address and the slice's port of the same name and protocol, Masq, weight 1:
  ready endpoints, or when none is ready anywhere the serving-and-terminating ones; externalTrafficPolicy Local
  (external addresses) and internalTrafficPolicy Local (the ClusterIP) take this node's endpoints only, falling
  back to the cluster's when the node has none (kubernetes PR 97081, as the ipvs proxier does);
- terminating endpoints that are no longer used stay at weight 0 while they drain (TCP and SCTP; kube-proxy deletes
  UDP real servers at once). A simplification: kube-proxy drops a real server with no connections at once, and
  emulated servers have no connections; keeping them shows the draining state an admin meets on a busy node;
- no rules for headless or ExternalName Services, nor for Services labelled service.kubernetes.io/service-proxy-name.
  Topology hints are not emulated.

`KubeProxyEmulator` is a sim component (start(loop)/stop()) that follows the store live and keeps the current table
for a chosen node, with knobs for trace tests (lag, a stale real server, a zeroed weight). It takes the mode and
scheduler from the node's running kube-proxy pod when the sim emulates kube-proxy pods (KubeProxyPods), else from
the kube-proxy ConfigMap. `program()` writes a table into a real kernel through pyroute2 (for the kernel tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
import threading
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping

from tui.ipvs.ipvsadm import sort_dests
from tui.ipvs.model import (
    AF_INET, AF_INET6, F_HASHED, F_PERSISTENT, F_SCHED2, ZERO_STATS, IPVSTable, RealServer, VirtualServer, utc_now,
)
from tui.kube.models import SERVICE_NAME_LABEL, SERVICE_PROXY_NAME_LABEL, ServiceView, SliceView

HEADLESS_LABEL = "service.kubernetes.io/headless"
DEFAULT_AFFINITY_TIMEOUT = 10800
EMULATED_LACKS = ("connections and traffic: the node is simulated, so every counter is 0",)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class EmulatorConfig:
    """The parts of kube-proxy's configuration that shape the IPVS table."""

    scheduler: str = ""  # ipvs.scheduler; "" means rr
    mode: str = "ipvs"
    node_port_addresses: tuple[str, ...] = ()  # CIDRs; empty: every node IP

    @property
    def effective_scheduler(self) -> str:
        return self.scheduler or "rr"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "EmulatorConfig":
        """From a parsed KubeProxyConfiguration (config.conf as a dict)."""
        ipvs = config.get("ipvs") or {}
        npa = config.get("nodePortAddresses") or ()
        return cls(scheduler=str(ipvs.get("scheduler") or ""), mode=str(config.get("mode") or "iptables"),
                   node_port_addresses=tuple(str(c) for c in npa if c != "primary"))


@dataclass(frozen=True)
class Knobs:
    """Faults a trace must be able to see, switched on in a running emulator."""

    lag: float = 0.0  # seconds between a change in the store and the table following it
    keep_stale: bool = False  # real servers whose endpoint is gone stay in the table (a missed delete)
    zero_weight: frozenset[str] = frozenset()  # endpoints ("IP" or "IP:port") at weight 0 though ready (#92019)


@dataclass(frozen=True, slots=True)
class _Endpoint:
    address: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    local: bool


class EmulationCache:
    """What a live emulator keeps between recomputations, so that one changed Service costs one Service: views
    of unchanged objects (by resourceVersion) and each Service's virtual servers (by the versions they came from)."""

    def __init__(self) -> None:
        self.views: dict[tuple, tuple[str, Any]] = {}
        self.results: dict[tuple[str, str], tuple[tuple, list[VirtualServer]]] = {}


def _view(obj: Any, cls: type, cache: EmulationCache | None) -> Any:
    if isinstance(obj, cls):
        return obj
    meta = obj.get("metadata") or {}
    rv = meta.get("resourceVersion")
    if cache is None or not rv:
        return cls.from_api(obj)
    key = (cls.__name__, meta.get("namespace", ""), meta.get("name", ""))
    hit = cache.views.get(key)
    if hit is not None and hit[0] == rv:
        return hit[1]
    view = cls.from_api(obj)
    cache.views[key] = (rv, view)
    return view


def _family(address: str) -> int | None:
    for af in (AF_INET, AF_INET6):
        try:
            socket.inet_pton(af, address)
            return af
        except (OSError, ValueError):
            continue
    return None


def _canonical(af: int, address: str) -> str:
    return socket.inet_ntop(af, socket.inet_pton(af, address))


def node_ips(nodes: Iterable[Obj], node_name: str, cidrs: tuple[str, ...] = ()) -> list[str]:
    """The InternalIPs of `node_name` (filtered by nodePortAddresses CIDRs when given)."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    out = []
    for node in nodes:
        if (node.get("metadata") or {}).get("name") != node_name:
            continue
        for a in (node.get("status") or {}).get("addresses") or []:
            ip = a.get("address", "")
            if a.get("type") == "InternalIP" and _family(ip) is not None:
                if not nets or any(ipaddress.ip_address(ip) in n for n in nets):
                    out.append(ip)
    return out


def _slice_labels(sl: Any) -> Mapping[str, str]:
    raw = sl.raw if isinstance(sl, SliceView) else sl
    return ((raw.get("metadata") or {}).get("labels") or {}) if isinstance(raw, Mapping) else {}


def _slice_owner(sl: Any) -> tuple[str, str] | None:
    """(namespace, Service) a slice belongs to, or None when kube-proxy ignores it."""
    labels = _slice_labels(sl)
    if SERVICE_PROXY_NAME_LABEL in labels or HEADLESS_LABEL in labels:
        return None
    service = labels.get(SERVICE_NAME_LABEL)
    if not service:
        return None
    ns = sl.namespace if isinstance(sl, SliceView) else (sl.get("metadata") or {}).get("namespace", "")
    return ns, service


def _endpoints_by_port(slices: Iterable[SliceView], node_name: str) -> dict[tuple[str, str, int], list[_Endpoint]]:
    """One Service's slices -> {(port name, protocol, family): endpoints}, deduplicated by IP:port as kube-proxy."""
    out: dict[tuple[str, str, int], dict[tuple[str, int], _Endpoint]] = {}
    for sl in slices:
        af = {"IPv4": AF_INET, "IPv6": AF_INET6}.get(sl.address_type)
        if af is None:
            continue
        for p in sl.ports:
            if p.port is None:
                continue
            bucket = out.setdefault((p.name, p.protocol or "TCP", af), {})
            for ep in sl.endpoints:
                if not ep.addresses or _family(ep.addresses[0]) != af:
                    continue
                addr = _canonical(af, ep.addresses[0])
                bucket[(addr, p.port)] = _Endpoint(
                    addr, p.port, ready=ep.ready is not False, serving=ep.serving is not False,
                    terminating=ep.terminating is True, local=ep.node_name == node_name)
    return {k: list(v.values()) for k, v in out.items()}


def _categorize(eps: list[_Endpoint], uses_cluster: bool, uses_local: bool) -> tuple[list, list]:
    """kube-proxy's CategorizeEndpoints, without topology: (cluster endpoints, local endpoints)."""
    cluster: list[_Endpoint] = []
    if uses_cluster:
        cluster = [e for e in eps if e.ready] or [e for e in eps if e.serving and e.terminating]
    local: list[_Endpoint] = []
    if uses_local:
        local = [e for e in eps if e.local and e.ready] or [e for e in eps if e.local and e.serving and e.terminating]
    return cluster, local


def _real_servers(cluster: list[_Endpoint], local: list[_Endpoint], only_local: bool, eps: list[_Endpoint],
                  protocol: str, af: int, knobs: Knobs) -> tuple[RealServer, ...]:
    """The ipvs proxier's syncEndpoint: this node's endpoints when the policy is Local and it has some, else the
    cluster's; plus the terminating endpoints of that same scope draining at weight 0."""
    use_local = only_local and bool(local)
    chosen = local if use_local else cluster
    used = {(e.address, e.port) for e in chosen}
    servers = []
    for e in chosen:
        zero = e.address in knobs.zero_weight or f"{e.address}:{e.port}" in knobs.zero_weight
        servers.append(_rs(e, af, 0 if zero else 1))
    if protocol != "UDP":  # draining: kept at weight 0 while its connections end (UDP ones go at once)
        servers += [_rs(e, af, 0) for e in eps
                    if e.terminating and (e.local or not use_local) and (e.address, e.port) not in used]
    return tuple(sort_dests(servers))


def _rs(e: _Endpoint, af: int, weight: int) -> RealServer:
    # tunnel type/port/flags 0: what the kernel reports for a real server that is not tunnelled
    return RealServer(e.address, e.port, af, "Masq", weight, 0, 0, 0, 0, 0, ZERO_STATS, 0, 0, 0)


def _service_virtual_servers(svc: ServiceView, slices: list[SliceView], ips: list[str], node_name: str,
                             scheduler: str, knobs: Knobs) -> list[VirtualServer]:
    """The virtual servers kube-proxy programs for one Service on this node."""
    out: list[VirtualServer] = []
    if not svc.proxied:
        return out
    by_port = _endpoints_by_port(slices, node_name)
    families = {f for f in (_family(ip) for ip in svc.cluster_ips) if f is not None}
    flags = F_HASHED | (F_SCHED2 if scheduler == "mh" else 0)
    timeout = 0
    if svc.session_affinity == "ClientIP":
        flags |= F_PERSISTENT
        timeout = svc.affinity_timeout or DEFAULT_AFFINITY_TIMEOUT
    lb_ips = [ip for ip in svc.lb_ingress if _family(ip) is not None]
    accessible = svc.type in ("NodePort", "LoadBalancer") or bool(svc.external_ips)
    etp_local = accessible and svc.external_traffic_policy == "Local"
    itp_local = svc.internal_traffic_policy == "Local"
    uses_cluster = not itp_local or (accessible and not etp_local)
    uses_local = itp_local or etp_local
    for port in svc.ports:
        if port.protocol not in ("TCP", "UDP", "SCTP"):
            continue
        for af in sorted(families):
            eps = by_port.get((port.name, port.protocol, af), [])
            cluster, local = _categorize(eps, uses_cluster, uses_local)
            internal = _real_servers(cluster, local, itp_local, eps, port.protocol, af, knobs)
            external = _real_servers(cluster, local, etp_local, eps, port.protocol, af, knobs)
            addresses = [(ip, port.port, internal) for ip in svc.cluster_ips if _family(ip) == af]
            addresses += [(ip, port.port, external) for ip in list(svc.external_ips) + lb_ips if _family(ip) == af]
            if port.node_port:
                addresses += [(ip, port.node_port, external) for ip in ips if _family(ip) == af]
            for ip, vport, servers in addresses:
                out.append(VirtualServer(port.protocol, _canonical(af, ip), vport, af, 0, scheduler, flags, timeout,
                                         0xFFFFFFFF if af == AF_INET else 128, "", ZERO_STATS, servers))
    return out


def _ident(obj: Any) -> tuple[str, str]:
    """(name, resourceVersion) of an API dict or a view; a view without a version is identified by itself."""
    if isinstance(obj, SliceView):
        return obj.name, str((obj.raw.get("metadata") or {}).get("resourceVersion") or id(obj))
    if isinstance(obj, ServiceView):
        return obj.name, obj.resource_version or str(id(obj))
    meta = obj.get("metadata") or {}
    return meta.get("name", ""), str(meta.get("resourceVersion") or id(obj))


def emulate(services: Iterable[ServiceView | Obj], slices: Iterable[SliceView | Obj], nodes: Iterable[Obj],
            node_name: str, config: EmulatorConfig = EmulatorConfig(), knobs: Knobs = Knobs(),
            clock: Callable = utc_now, cache: EmulationCache | None = None) -> IPVSTable:
    """The IPVS table kube-proxy's ipvs proxier programs on `node_name` for this state of the cluster.

    Virtual servers come in no particular order (as the kernel's own); ipvsadm.sort_services orders them. With a
    `cache`, only Services whose objects changed since the last call are computed again."""
    ips = node_ips(list(nodes), node_name, config.node_port_addresses)
    scheduler = config.effective_scheduler
    by_service: dict[tuple[str, str], list[Any]] = {}
    for sl in slices:
        owner = _slice_owner(sl)
        if owner is not None:
            by_service.setdefault(owner, []).append(sl)
    table: dict[tuple, VirtualServer] = {}
    if config.mode == "ipvs":
        setting = (tuple(ips), node_name, scheduler, knobs)
        seen: set[tuple[str, str]] = set()
        for raw in services:
            svc = _view(raw, ServiceView, cache)
            mine = by_service.get(svc.key, [])
            fingerprint = (_ident(raw), tuple(sorted(_ident(s) for s in mine)), setting)
            hit = cache.results.get(svc.key) if cache is not None else None
            if hit is not None and hit[0] == fingerprint:
                vss = hit[1]
            else:
                vss = _service_virtual_servers(svc, [_view(s, SliceView, cache) for s in mine], ips, node_name,
                                               scheduler, knobs)
                if cache is not None:
                    cache.results[svc.key] = (fingerprint, vss)
            seen.add(svc.key)
            for vs in vss:
                table.setdefault(vs.key, vs)  # the first Service to claim an address:port keeps it
        if cache is not None:
            for gone in set(cache.results) - seen:
                del cache.results[gone]
    return IPVSTable(tuple(table.values()), "emulated", read_at=clock(), lacks=EMULATED_LACKS,
                     note=f"simulated: the table kube-proxy's ipvs proxier would program on node {node_name}")


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
        self.knobs = knobs
        self._schedule()

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
