"""Which Kubernetes object each IPVS entry serves: a virtual server's Service and port, a real server's pod.

kube-proxy's ipvs proxier (reference §4) programs one virtual server per ClusterIP:port, externalIP:port,
LoadBalancer ingress IP:port and NodePort on each node IP, so a virtual server is found back from the Services
alone; a real server is an EndpointSlice endpoint, whose targetRef names its pod. Pure functions over the shared
models (tui.kube.models) and the slices' API JSON; nothing here reads the cluster or the kernel.

A NodePort virtual server sits on a node address: with the node's IPs known the match is exact; without them (a
real node, where svcscope does not list Nodes) any address that is no Service address matches by protocol and
node port, which is what kube-proxy programs there.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterable

from tui.ipvs.model import RealServer, VirtualServer
from tui.kube.models import ServiceView, SliceView

NO_OBJECT = "-"  # what an entry that serves nothing known shows

Obj = Mapping[str, Any]
AddrKey = tuple[str, str, int]  # (protocol, canonical address, port)


def canonical(address: str) -> str:
    """An address as the kernel's readers print it (inet_ntop: IPv6 compressed); anything else unchanged."""
    for af in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(af, socket.inet_pton(af, address))
        except (OSError, ValueError):
            continue
    return address


@dataclass(frozen=True, slots=True)
class ServiceRef:
    """A Service port that a virtual server serves, and through which of its addresses."""

    namespace: str
    name: str
    port: int  # the Service's port (spec.ports[].port), also for a NodePort virtual server
    port_name: str
    via: str  # "ClusterIP" | "externalIP" | "LoadBalancer" | "NodePort"

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def text(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


@dataclass(frozen=True)
class ServiceIndex:
    """Virtual server -> Service port, built once per change of the Services (O(ports)), asked in O(1)."""

    by_address: Mapping[AddrKey, ServiceRef] = field(default_factory=dict)
    by_node_port: Mapping[tuple[str, int], ServiceRef] = field(default_factory=dict)
    node_ips: frozenset[str] | None = None  # None: not known, any non-Service address may carry a NodePort
    service_addresses: frozenset[str] = frozenset()

    def lookup(self, vs: VirtualServer) -> ServiceRef | None:
        if vs.is_fwmark:
            return None  # kube-proxy programs no firewall-mark services
        hit = self.by_address.get((vs.protocol, vs.address, vs.port))
        if hit is not None:
            return hit
        ref = self.by_node_port.get((vs.protocol, vs.port))
        if ref is None:
            return None
        if self.node_ips is not None:
            return ref if vs.address in self.node_ips else None
        return ref if vs.address not in self.service_addresses else None

    def text(self, vs: VirtualServer) -> str:
        ref = self.lookup(vs)
        return ref.text if ref is not None else NO_OBJECT


def service_index(services: Iterable[ServiceView], node_ips: Iterable[str] | None = None) -> ServiceIndex:
    """Index the Services' addresses. The first Service to claim an address:port keeps it, as kube-proxy does.

    Services kube-proxy leaves alone (headless, ExternalName, service-proxy-name) are not indexed: an entry at
    their address was not programmed for them."""
    by_address: dict[AddrKey, ServiceRef] = {}
    by_node_port: dict[tuple[str, int], ServiceRef] = {}
    addresses: set[str] = set()
    for svc in services:
        if not svc.proxied:
            continue
        lb_ips = [ip for ip in svc.lb_ingress if is_ip(ip)]  # an ingress may be a hostname: no virtual server
        groups = (("ClusterIP", svc.cluster_ips), ("externalIP", svc.external_ips), ("LoadBalancer", lb_ips))
        for port in svc.ports:
            for via, ips in groups:
                for ip in ips:
                    addr = canonical(ip)
                    addresses.add(addr)
                    by_address.setdefault((port.protocol, addr, port.port),
                                          ServiceRef(svc.namespace, svc.name, port.port, port.name, via))
            if port.node_port:
                by_node_port.setdefault((port.protocol, port.node_port),
                                        ServiceRef(svc.namespace, svc.name, port.port, port.name, "NodePort"))
    nodes = None if node_ips is None else frozenset(canonical(ip) for ip in node_ips)
    return ServiceIndex(by_address, by_node_port, nodes, frozenset(addresses))


def is_ip(text: str) -> bool:
    for af in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(af, text)
            return True
        except (OSError, ValueError):
            continue
    return False


@dataclass(frozen=True, slots=True)
class PodRef:
    namespace: str
    name: str

    @property
    def text(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodIndex:
    """Real server -> pod, from the EndpointSlices' endpoints and their targetRefs."""

    by_endpoint: Mapping[tuple[str, int], PodRef] = field(default_factory=dict)
    by_address: Mapping[str, PodRef] = field(default_factory=dict)

    def lookup(self, rs: RealServer) -> PodRef | None:
        """By address and port first (host-network pods share their node's address), then by address alone."""
        return self.by_endpoint.get((rs.address, rs.port)) or self.by_address.get(rs.address)

    def text(self, rs: RealServer) -> str:
        ref = self.lookup(rs)
        return ref.text if ref is not None else NO_OBJECT


def pod_index(slices: Iterable[SliceView | Obj]) -> PodIndex:
    """Index the endpoints whose targetRef is a Pod. Takes SliceViews or the API's JSON (read without building
    models: the live state keeps slices as JSON, and there may be 10,000 of them)."""
    by_endpoint: dict[tuple[str, int], PodRef] = {}
    by_address: dict[str, PodRef] = {}
    ambiguous: set[str] = set()
    for sl in slices:
        raw = sl.raw if isinstance(sl, SliceView) else sl
        if not isinstance(raw, Mapping):
            continue
        meta = raw.get("metadata")
        slice_ns = meta.get("namespace", "") if isinstance(meta, Mapping) else ""
        ports = [p.get("port") for p in _list(raw.get("ports")) if isinstance(p, Mapping)]
        ports = [p for p in ports if isinstance(p, int)]
        for ep in _list(raw.get("endpoints")):
            if not isinstance(ep, Mapping):
                continue
            target = ep.get("targetRef")
            if not isinstance(target, Mapping) or target.get("kind") != "Pod" or not target.get("name"):
                continue
            ref = PodRef(str(target.get("namespace") or slice_ns), str(target["name"]))
            for address in _list(ep.get("addresses")):
                if not isinstance(address, str):
                    continue
                addr = canonical(address)
                for port in ports:
                    by_endpoint.setdefault((addr, port), ref)
                held = by_address.setdefault(addr, ref)
                if held != ref:
                    ambiguous.add(addr)  # several pods on one address (host network): only address+port tells
    for addr in ambiguous:
        del by_address[addr]
    return PodIndex(by_endpoint, by_address)


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


__all__ = ["NO_OBJECT", "PodIndex", "PodRef", "ServiceIndex", "ServiceRef", "canonical", "pod_index",
           "service_index"]
