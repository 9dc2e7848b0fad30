"""The IPVS table kube-proxy's ipvs proxier should program on one node, from Services, EndpointSlices and Nodes.

Used by the trace (what this node *should* have, to compare with what it has) and by the simulated cluster's
kube-proxy emulator (tui.sim.kubeproxy), so the two cannot drift apart; it lives here, beside the IPVS model, so
that the trace does not depend on the simulator.

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
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
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


def _canonical_in(af: int, address: str) -> str | None:
    """The address in its canonical form when it is of family `af`, else None (one parse, not two)."""
    try:
        return socket.inet_ntop(af, socket.inet_pton(af, address))
    except (OSError, ValueError):
        return None


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
                addr = _canonical_in(af, ep.addresses[0]) if ep.addresses else None
                if addr is None:
                    continue
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
                  protocol: str, af: int, knobs: Knobs, sort: bool = True) -> tuple[RealServer, ...]:
    """The ipvs proxier's syncEndpoint: this node's endpoints when the policy is Local and it has some, else the
    cluster's; plus the terminating endpoints of that same scope draining at weight 0. In ipvsadm's order with
    `sort` (a table shown as ipvsadm shows it); the trace matches them by address and needs no order."""
    use_local = only_local and bool(local)
    chosen = local if use_local else cluster
    used = {(e.address, e.port) for e in chosen}
    servers = []
    zeroed = knobs.zero_weight
    for e in chosen:
        zero = bool(zeroed) and (e.address in zeroed or f"{e.address}:{e.port}" in zeroed)
        servers.append(_rs(e, af, 0 if zero else 1))
    if protocol != "UDP":  # draining: kept at weight 0 while its connections end (UDP ones go at once)
        servers += [_rs(e, af, 0) for e in eps
                    if e.terminating and (e.local or not use_local) and (e.address, e.port) not in used]
    return tuple(sort_dests(servers)) if sort else tuple(servers)


def _rs(e: _Endpoint, af: int, weight: int) -> RealServer:
    # tunnel type/port/flags 0: what the kernel reports for a real server that is not tunnelled
    return RealServer(e.address, e.port, af, "Masq", weight, 0, 0, 0, 0, 0, ZERO_STATS, 0, 0, 0)


def _service_virtual_servers(svc: ServiceView, slices: list[SliceView], ips: list[str], node_name: str,
                             scheduler: str, knobs: Knobs, sort: bool = True) -> list[VirtualServer]:
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
            internal = _real_servers(cluster, local, itp_local, eps, port.protocol, af, knobs, sort)
            external = internal if etp_local == itp_local else \
                _real_servers(cluster, local, etp_local, eps, port.protocol, af, knobs, sort)  # same inputs: same
            addresses = [(ip, port.port, internal) for ip in svc.cluster_ips if _family(ip) == af]
            addresses += [(ip, port.port, external) for ip in list(svc.external_ips) + lb_ips if _family(ip) == af]
            if port.node_port:
                addresses += [(ip, port.node_port, external) for ip in ips if _family(ip) == af]
            for ip, vport, servers in addresses:
                out.append(VirtualServer(port.protocol, _canonical(af, ip), vport, af, 0, scheduler, flags, timeout,
                                         0xFFFFFFFF if af == AF_INET else 128, "", ZERO_STATS, servers))
    return out


def service_virtual_servers(svc: ServiceView, slices: Iterable[SliceView], ips: Iterable[str], node_name: str,
                            config: EmulatorConfig = EmulatorConfig()) -> list[VirtualServer]:
    """What emulate() programs for this one Service (its own slices given, `ips` the node's InternalIPs), without
    building a table: the trace asks this for each of 10,000 Services. Real servers in no particular order."""
    if config.mode != "ipvs":
        return []
    nets = [ipaddress.ip_network(c, strict=False) for c in config.node_port_addresses]
    ips = [ip for ip in ips if _family(ip) is not None and (not nets or any(ipaddress.ip_address(ip) in n
                                                                           for n in nets))]
    mine = [sl for sl in slices if _slice_owner(sl) == svc.key]
    out: dict[tuple, VirtualServer] = {}
    for vs in _service_virtual_servers(svc, mine, ips, node_name, config.effective_scheduler, Knobs(), sort=False):
        out.setdefault(vs.key, vs)  # as emulate(): the first claim of an address:port keeps it
    return list(out.values())


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
