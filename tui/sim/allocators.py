"""The simulated apiserver's allocators: ClusterIPs, NodePorts, and the pod IPs each node's CNI would hand out.

What is allocated is derived from the store itself: one `Allocators` per store subscribes to it and records what
every committed Service and Pod holds, so that objects written by any path (admission, a scenario loaded straight
into the store, the controllers) count, a deleted Service frees its IPs and ports, and nothing is ever reserved
for a request that then fails (a dry run, or a create that storage answers with 409). Choosing and committing
must therefore happen under `store.lock`, as `admission.admit` followed by the store write does.

Each call is O(1) expected: sets of used offsets and random probes, as kube's bitmap allocators (dynamic
allocations prefer the upper part of the range, leaving the low band for static requests like 10.96.0.10).
Randomness is seeded, so a scenario allocates the same addresses on every run.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from tui.kube import validation as v
from tui.sim import errors
from tui.sim.store import DELETED, Event, Store

Key = tuple[str, str]  # (namespace, name)

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORT_RANGE = v.NODE_PORT_RANGE


node_port_range_error = v.node_port_range_error
PORT_ALLOCATED = v.PORT_ALLOCATED
IP_ALLOCATED = "provided IP is already allocated"


def _ip_int(ip: Any, version: int) -> int | None:
    """The address as an integer if it is of `version` (inet_pton first: ipaddress is slow at 10,000 Services)."""
    if not isinstance(ip, str):
        return None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET if version == 4 else socket.AF_INET6, ip), "big")
    except OSError:
        parsed = v.parse_ip(ip)  # the sloppy forms the apiserver accepts (leading zeros)
        return int(parsed) if parsed is not None and parsed.version == version else None


class _RangeAllocator:
    """Offsets 0..size-1 of a range; `used` maps an offset to the key holding it."""

    def __init__(self, size: int, static_band: int, rng: random.Random) -> None:
        self.size = size
        self.static_band = min(static_band, size)
        self.rng = rng
        self.used: dict[int, Key] = {}

    def free_count(self) -> int:
        return self.size - len(self.used)

    def pick(self, taken: Callable[[int], bool] = lambda o: False) -> int | None:
        """A free offset: random probes in the dynamic band, then a scan from a random start (band, then all)."""
        lo, hi = self.static_band, self.size
        if hi - lo > 0:
            for _ in range(32):
                o = self.rng.randrange(lo, hi)
                if o not in self.used and not taken(o):
                    return o
        for start, end in ((lo, hi), (0, self.size)):
            if end <= start:
                continue
            first = self.rng.randrange(start, end)
            for o in list(range(first, end)) + list(range(start, first)):
                if o not in self.used and not taken(o):
                    return o
        return None

    def claim(self, o: int, key: Key) -> None:
        self.used.setdefault(o, key)

    def release(self, o: int, key: Key) -> None:
        if self.used.get(o) == key:
            del self.used[o]


class ServiceIPAllocator:
    """ClusterIPs from the service CIDR, network and broadcast addresses excluded."""

    def __init__(self, cidr: str, rng: random.Random) -> None:
        self.network = ipaddress.ip_network(cidr)
        self.family = "IPv4" if self.network.version == 4 else "IPv6"
        size = min(self.network.num_addresses - 2, 1 << 24)
        band = min(max(16, size // 16), 256)  # kube's static band for a service CIDR
        self._first = int(self.network.network_address) + 1
        self.r = _RangeAllocator(size, band, rng)

    def offset(self, ip: str) -> int | None:
        value = _ip_int(ip, self.network.version)
        if value is None:
            return None
        o = value - self._first
        return o if 0 <= o < self.r.size else None

    def address(self, o: int) -> str:
        return str(ipaddress.ip_address(self._first + o))

    def check(self, ip: str) -> str | None:
        """Why `ip` cannot be allocated now (the allocator's error text), or None."""
        o = self.offset(ip)
        if o is None:
            return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.network}"
        if o in self.r.used:
            return IP_ALLOCATED
        return None

    def pick(self) -> str | None:
        o = self.r.pick()
        return None if o is None else self.address(o)


class NodePortAllocator:
    def __init__(self, lo: int, hi: int, rng: random.Random) -> None:
        self.lo, self.hi = lo, hi
        size = hi - lo + 1
        self.r = _RangeAllocator(size, min(max(16, size // 32), 128), rng)

    def check(self, port: int) -> str | None:
        if not isinstance(port, int) or not self.lo <= port <= self.hi:
            return node_port_range_error(self.lo, self.hi)
        if port - self.lo in self.r.used:
            return PORT_ALLOCATED
        return None

    def owner(self, port: int) -> Key | None:
        return self.r.used.get(port - self.lo)

    def pick(self, also_taken: set[int]) -> int | None:
        o = self.r.pick(lambda o: o + self.lo in also_taken)
        return None if o is None else o + self.lo


@dataclass
class _PodCIDR:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    used: set[int] = field(default_factory=set)
    next: int = 2  # host-local hands out .2 upwards (.1 is the bridge), round the range

    def pick(self) -> str | None:
        size = self.network.num_addresses
        for i in range(size):
            o = (self.next - 2 + i) % max(size - 3, 1) + 2
            if o not in self.used and o < size - 1:
                self.used.add(o)
                self.next = o + 1
                base = int(self.network.network_address) + o
                if self.network.version == 4:
                    return socket.inet_ntoa(base.to_bytes(4, "big"))
                return str(ipaddress.ip_address(base))
        return None


@dataclass
class _Holding:
    ips: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


class Allocators:
    """ClusterIP, NodePort and pod-IP allocation for one store (get it with `for_store`)."""

    def __init__(self, store: Store, service_cidr: str = SERVICE_CIDR,
                 node_port_range: tuple[int, int] = NODE_PORT_RANGE, seed: int = 0x5C5C0BE) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.ips = ServiceIPAllocator(service_cidr, self.rng)
        self.node_ports = NodePortAllocator(*node_port_range, self.rng)
        self._services: dict[Key, _Holding] = {}
        self._pod_cidrs: dict[str, _PodCIDR] = {}
        self._pod_ips: dict[Key, tuple[str, str]] = {}  # pod -> (node, ip)
        with store.lock:
            from tui.sim.resources import BY_KIND
            for svc in store.list(BY_KIND["Service"])[0]:
                self._hold_service(svc)
            for node in store.list(BY_KIND["Node"])[0]:
                self._node(node)
            for pod in store.list(BY_KIND["Pod"])[0]:
                self._hold_pod(pod)
            self._unsubscribe = store.subscribe(self._on_event)

    # -- following the store -------------------------------------------------------------------------------------

    def _on_event(self, ev: Event) -> None:
        kind = ev.resource.kind
        if kind == "Service":
            if ev.type == DELETED:
                self._release_service((ev.namespace, ev.name))
            else:
                self._hold_service(ev.obj)
        elif kind == "Pod":
            if ev.type == DELETED:
                self._release_pod((ev.namespace, ev.name))
            else:
                self._hold_pod(ev.obj)
        elif kind == "Node" and ev.type != DELETED:
            self._node(ev.obj)

    def _hold_service(self, svc: Mapping[str, Any]) -> None:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        ips = tuple(ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")] or [])
                    if isinstance(ip, str) and self.ips.offset(ip) is not None)
        ports = [p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, dict)]
        ports.append(spec.get("healthCheckNodePort"))
        held = tuple(sorted({p for p in ports if isinstance(p, int) and self.node_ports.lo <= p <= self.node_ports.hi}))
        self._release_service(key)
        for ip in ips:
            self.ips.r.claim(self.ips.offset(ip), key)  # type: ignore[arg-type]
        for p in held:
            self.node_ports.r.claim(p - self.node_ports.lo, key)
        self._services[key] = _Holding(ips, held)

    def _release_service(self, key: Key) -> None:
        h = self._services.pop(key, None)
        if h is None:
            return
        for ip in h.ips:
            o = self.ips.offset(ip)
            if o is not None:
                self.ips.r.release(o, key)
        for p in h.ports:
            self.node_ports.r.release(p - self.node_ports.lo, key)

    def _node(self, node: Mapping[str, Any]) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        cidr = (node.get("spec") or {}).get("podCIDR")
        net = v.parse_cidr(cidr) if cidr else None
        if net is None or (name in self._pod_cidrs and self._pod_cidrs[name].network == net):
            return
        self._pod_cidrs[name] = _PodCIDR(net)

    def _hold_pod(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        node = (pod.get("spec") or {}).get("nodeName") or ""
        ip = (pod.get("status") or {}).get("podIP") or ""
        if self._pod_ips.get(key) == (node, ip):
            return
        self._release_pod(key)
        cidr = self._pod_cidrs.get(node)
        parsed = v.parse_ip(ip)
        if cidr and parsed is not None and parsed in cidr.network:
            cidr.used.add(int(parsed) - int(cidr.network.network_address))
            self._pod_ips[key] = (node, ip)

    def _release_pod(self, key: Key) -> None:
        held = self._pod_ips.pop(key, None)
        if held:
            cidr = self._pod_cidrs.get(held[0])
            parsed = v.parse_ip(held[1])
            if cidr and parsed is not None:
                cidr.used.discard(int(parsed) - int(cidr.network.network_address))

    # -- pod IPs ---------------------------------------------------------------------------------------------------

    def pod_ip(self, node: str, key: Key) -> str | None:
        """A free IP from `node`'s podCIDR, held for `key` at once (the pod write follows under the same lock)."""
        cidr = self._pod_cidrs.get(node)
        if cidr is None:
            return None
        ip = cidr.pick()
        if ip is not None:
            self._pod_ips[key] = (node, ip)
        return ip

    # -- Services --------------------------------------------------------------------------------------------------

    def allocate_service(self, svc: dict[str, Any], old: Mapping[str, Any] | None, dry_run: bool) -> None:
        """Fill in ipFamilyPolicy/ipFamilies, ClusterIPs, NodePorts and healthCheckNodePort of a defaulted Service,
        in place, as the registry's BeginCreate/BeginUpdate hook does before validation; a request that cannot be
        met raises the apiserver's 422 (or 500 when a range is full). Commits nothing: what is held follows the
        store once the object is written."""
        name = (svc.get("metadata") or {}).get("name", "")
        spec = svc.setdefault("spec", {})
        old_spec = ((old or {}).get("spec") or {}) if old is not None else None
        self._init_ip_families(name, spec, old_spec)
        self._allocate_cluster_ips(name, spec, old_spec)
        self._allocate_node_ports(name, spec, old_spec)

    def _init_ip_families(self, name: str, spec: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        """initIPFamilyFields for a single-stack cluster."""
        if spec.get("type") == "ExternalName":
            return
        if spec.get("ipFamilyPolicy") is None:
            if old is not None and old.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
            elif spec.get("clusterIP") == "None" and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"  # headless + selectorless defaults to dual
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        if old is not None and not spec.get("ipFamilies") and old.get("ipFamilies") and \
                old.get("type") != "ExternalName":
            spec["ipFamilies"] = list(old["ipFamilies"])
        pre = v.validate_cluster_ips_related({"spec": spec})  # "loose pre-validation" before allocating
        if pre:
            raise v.to_api_error("Service", name, pre)
        policy = spec["ipFamilyPolicy"]
        ips = list(spec.get("clusterIPs") or [])
        fams = list(spec.get("ipFamilies") or [])
        errs: list[v.FieldError] = []
        if old is not None and policy == "SingleStack":
            if ips == list(old.get("clusterIPs") or []) and len(ips) > 1:
                spec["clusterIPs"] = ips = ips[:1]
            if fams == list(old.get("ipFamilies") or []) and len(fams) > 1:
                fams = fams[:1]
        if policy == "SingleStack":
            if len(ips) == 2:
                errs.append(v.invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or "
                                      "'PreferDualStack' when multiple cluster IPs are specified"))
            if len(fams) == 2:
                errs.append(v.invalid("spec.ipFamilyPolicy", policy, "must be 'RequireDualStack' or "
                                      "'PreferDualStack' when multiple IP families are specified"))
        for i, ip in enumerate(ips):
            if ip == "None":
                break
            parsed = v.parse_ip(ip)
            fam = "IPv6" if parsed is not None and parsed.version == 6 else "IPv4"
            if i >= len(fams):
                if fam != self.ips.family:
                    errs.append(v.invalid(f"spec.clusterIPs[{i}]", v.go_strings(spec.get("clusterIPs")),
                                          f"{fam} is not configured on this cluster"))
                else:
                    fams.append(fam)
        if errs:
            raise v.to_api_error("Service", name, errs)
        if spec.get("clusterIP") == "None" and not spec.get("selector"):
            fams = fams or [self.ips.family]
            if len(fams) < 2 and policy != "SingleStack":
                fams.append("IPv6" if fams[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = fams
            return
        if policy == "RequireDualStack":
            errs.append(v.invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                                                                 "services"))
        for i, fam in enumerate(fams):
            if fam != self.ips.family:
                errs.append(v.invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster"))
        if errs:
            raise v.to_api_error("Service", name, errs)
        spec["ipFamilies"] = fams or [self.ips.family]

    def _allocate_cluster_ips(self, name: str, spec: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        if spec.get("type") == "ExternalName":
            return
        if old is not None and old.get("type") != "ExternalName":
            return  # an update keeps its addresses; validation says if the client tried to change them
        ips = list(spec.get("clusterIPs") or [])
        if ips and ips[0] == "None":
            return
        if ips:
            problem = self.ips.check(ips[0])
            if problem:
                raise v.to_api_error("Service", name, [v.invalid(
                    "spec.clusterIPs", v.go_strings(spec.get("clusterIPs")),
                    f"failed to allocate IP {ips[0]}: {problem}")])
            spec["clusterIP"] = ips[0]
            return
        ip = self.ips.pick()
        if ip is None:
            raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: "
                                                        "range is full")
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    def _allocate_node_ports(self, name: str, spec: dict[str, Any], old: Mapping[str, Any] | None) -> None:
        """initNodePorts on create, updateNodePorts on update, then the health-check nodePort."""
        stype = spec.get("type")
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        old_ports: set[int] = set()
        if old is not None:
            old_ports = {p.get("nodePort") for p in old.get("ports") or [] if isinstance(p, dict)
                         and isinstance(p.get("nodePort"), int)}
        chosen: set[int] = set()

        def take(path: str, port: Any) -> None:
            if port in old_ports or port in chosen:
                chosen.add(port)
                return
            problem = self.node_ports.check(port)
            if problem:
                raise v.to_api_error("Service", name, [v.invalid(path, port, problem)])
            chosen.add(port)

        def fresh(what: str = "a nodePort") -> int:
            port = self.node_ports.pick(chosen | old_ports)
            if port is None:
                raise errors.ApiError(500, "InternalError",
                                      f"Internal error occurred: failed to allocate {what}: range is full")
            chosen.add(port)
            return port

        if stype in ("NodePort", "LoadBalancer"):
            should = stype == "NodePort" or spec.get("allocateLoadBalancerNodePorts") is not False
            by_port: dict[Any, int] = {}  # on create, ports sharing a number (TCP and UDP) share a nodePort
            for i, p in enumerate(ports):
                if not p.get("nodePort") and not should:
                    continue
                path = f"spec.ports[{i}].nodePort"
                if old is not None:
                    if p.get("nodePort"):
                        take(path, p["nodePort"])
                    else:
                        p["nodePort"] = fresh()
                    continue
                shared = by_port.get(p.get("port"))
                if not shared:
                    requested = next((q.get("nodePort") for q in ports[i:]
                                      if q.get("port") == p.get("port") and q.get("nodePort")), None)
                    if requested:
                        take(path, requested)
                        p["nodePort"] = by_port[p.get("port")] = requested
                    else:
                        p["nodePort"] = by_port[p.get("port")] = fresh()
                elif p.get("nodePort") != shared:
                    if not p.get("nodePort"):
                        p["nodePort"] = shared
                    else:
                        take(path, p["nodePort"])
        needed = old is not None and v.needs_health_check(old)
        if v.needs_health_check(spec) and not needed:
            hc = spec.get("healthCheckNodePort")
            if hc:
                problem = self.node_ports.check(hc) if hc not in old_ports else None
                if problem:
                    raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate "
                                                                f"requested HealthCheck NodePort {hc}: {problem}")
            else:
                spec["healthCheckNodePort"] = fresh("a HealthCheck NodePort")

    # -- what the wizard shows --------------------------------------------------------------------------------------

    def node_port_in_use(self, port: int) -> bool:
        return self.node_ports.check(port) == PORT_ALLOCATED


_BY_STORE: "weakref.WeakKeyDictionary[Store, Allocators]" = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def for_store(store: Store) -> Allocators:
    """The allocators of `store`, built from its contents on first use and kept current by its events."""
    with store.lock, _BY_STORE_LOCK:  # always in this order: callers may already hold the store's lock
        alloc = _BY_STORE.get(store)
        if alloc is None:
            alloc = _BY_STORE[store] = Allocators(store)
        return alloc
