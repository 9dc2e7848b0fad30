"""What a probe needs before it connects: the target (a Service's ClusterIP or NodePort on this node, or an
ADDR:PORT typed by hand), the pods behind each real server (from the EndpointSlices) and this node's IPVS entry
for the target (scheduler, persistence, weights). Shared by `svcscope probe` and the probe screen's worker.

Blocking (API calls, one IPVS read); every failure that stops the probe is a ProbeSetupError whose str() is the
sentence to show. An unreadable IPVS table does not stop it: the probe still connects, and says what it lacks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tui.ipvs.model import VirtualServer
from tui.kube.models import SERVICE_NAME_LABEL, ServicePort, ServiceView, SliceView
from tui.trace.probe import Target

TO_CHOICES = ("clusterip", "nodeport")
API_TIMEOUT = (5, 30)

DEMO_SENTENCE = ("the probe opens real connections through this node's IPVS, and the demo cluster is simulated: its "
                 "ClusterIPs lead nowhere and its IPVS table is emulated, so there is nothing real to probe. Run it "
                 "on a node whose kube-proxy runs in ipvs mode, or probe an ADDR:PORT this machine can reach")


class ProbeSetupError(Exception):
    """The probe cannot start; str() is the sentence."""


@dataclass(frozen=True)
class Prepared:
    target: Target
    pods: Mapping[str, str]  # "address:port" of a real server -> "namespace/pod"
    virtual_server: VirtualServer | None
    ipvs_note: str = ""  # why there is no IPVS entry, "" when there is one


def parse_address(text: str) -> tuple[str, int] | None:
    """`10.96.0.10:80`, `[fd00::a]:80` -> (address, port); None when the text is not an address with a port."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6 and not text.startswith("["):
        return None  # 'fd00::a:80' is ambiguous; ask for brackets
    return str(ip), int(port)


def pick_port(svc: ServiceView, wanted: str | None) -> ServicePort:
    """The Service port to probe: by number or name, else the first TCP port."""
    name = f"{svc.namespace}/{svc.name}"
    if wanted:
        for p in svc.ports:
            if (wanted.isdigit() and p.port == int(wanted)) or p.name == wanted:
                if p.protocol != "TCP":
                    raise ProbeSetupError(f"port {p.port}/{p.protocol} of {name} is not TCP: the probe opens TCP "
                                          "connections")
                return p
        have = ", ".join(f"{p.name + ' ' if p.name else ''}{p.port}/{p.protocol}" for p in svc.ports) or "none"
        raise ProbeSetupError(f"{name} has no port {wanted} (its ports: {have})")
    for p in svc.ports:
        if p.protocol == "TCP":
            return p
    raise ProbeSetupError(f"{name} has no TCP port: the probe opens TCP connections")


def service_target(svc: ServiceView, port: ServicePort, to: str = "clusterip",
                   node_ips: Sequence[str] = ()) -> Target:
    name = f"{svc.namespace}/{svc.name}"
    if svc.type == "ExternalName":
        raise ProbeSetupError(f"{name} is an ExternalName Service: DNS answers a CNAME to {svc.external_name} and "
                              "no node proxies it, so there is no virtual server to probe")
    if svc.headless:
        raise ProbeSetupError(f"{name} is headless: it has no ClusterIP and no IPVS virtual server; probe a pod's "
                              "ADDR:PORT instead")
    affinity = svc.session_affinity or "None"
    if to == "nodeport":
        if not port.node_port:
            raise ProbeSetupError(f"port {port.port} of {name} has no NodePort (type {svc.type})")
        if not node_ips:
            raise ProbeSetupError("this machine is not a Node of the cluster (no Node is named like this host), so "
                                  "it has no node IP for the NodePort: pass --node NAME")
        return Target(node_ips[0], port.node_port, port.protocol, f"NodePort on {node_ips[0]}", name, affinity)
    ips = [ip for ip in svc.cluster_ips if ip and ip != "None"] or ([svc.cluster_ip] if svc.cluster_ip else [])
    if not ips:
        raise ProbeSetupError(f"{name} has no ClusterIP yet: nothing to probe")
    ip = next((i for i in ips if ":" not in i), ips[0])
    return Target(ip, port.port, port.protocol, "ClusterIP", name, affinity)


def pods_by_real_server(slices: Sequence[SliceView], port: ServicePort) -> dict[str, str]:
    """Each endpoint's "address:targetPort" (as IPVS names the real server) -> "namespace/pod"."""
    out: dict[str, str] = {}
    for sl in slices:
        for sp in sl.ports:
            if sp.name != port.name or (sp.protocol or "TCP") != port.protocol or sp.port is None:
                continue
            for ep in sl.endpoints:
                if ep.addresses and ep.target_name:
                    addr = ep.addresses[0]
                    key = f"[{addr}]:{sp.port}" if ":" in addr else f"{addr}:{sp.port}"
                    out[key] = f"{ep.target_namespace or ep.namespace}/{ep.target_name}"
    return out


def read_virtual_server(target: Target, source: str = "auto") -> tuple[VirtualServer | None, str]:
    """This node's IPVS entry for the target, or why there is none (in words)."""
    from tui.ipvs.source import IPVSUnavailable, read_table

    try:
        table = asyncio.run(read_table(source))
    except IPVSUnavailable as exc:
        return None, str(exc)
    vs = table.find(target.protocol, target.address, target.port)
    if vs is None:
        return None, (f"this node's IPVS table has no virtual server {target.protocol} {target.endpoint}: kube-proxy "
                      "has not programmed it here, or runs in another mode")
    return vs, ""


def prepare(api: Any, namespace: str, text: str, port: str | None = None, to: str = "clusterip",
            node: str | None = None, source: str = "auto") -> Prepared:
    """Resolve what the user asked to probe (a Service name, `NS/NAME`, or ADDR:PORT) into a Prepared probe."""
    addr = parse_address(text)
    if addr is not None:
        target = Target(addr[0], addr[1])
        vs, note = read_virtual_server(target, source)
        return Prepared(target, {}, vs, note)
    if api is None:
        raise ProbeSetupError(f"{text!r} is not ADDR:PORT, and without a cluster there is no Service to look up")
    parts = [p for p in text.strip().split("/") if p]
    if parts[:1] and parts[0] in ("svc", "service", "services"):
        parts = parts[1:]
    if not 1 <= len(parts) <= 2:
        raise ProbeSetupError(f"{text!r} is neither a Service (NAME or NAMESPACE/NAME) nor ADDR:PORT")
    ns, name = (namespace, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    svc, slices, nodes = _fetch(api, ns, name, want_nodes=to == "nodeport")
    sp = pick_port(svc, port)
    node_ips: tuple[str, ...] = ()
    if to == "nodeport":
        from tui.trace.gather import node_internal_ips, this_node_name

        node_name = node or this_node_name(nodes) or ""
        node_ips = node_internal_ips(nodes, node_name) if node_name else ()
    target = service_target(svc, sp, to, node_ips)
    vs, note = read_virtual_server(target, source)
    return Prepared(target, pods_by_real_server(slices, sp), vs, note)


def _fetch(api: Any, namespace: str, name: str, want_nodes: bool) -> tuple[ServiceView, list[SliceView], list[dict]]:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    core = k8s.CoreV1Api(api)
    try:
        raw = json.loads(core.read_namespaced_service(name, namespace, _preload_content=False,
                                                      _request_timeout=API_TIMEOUT).data)
    except ApiException as exc:
        if exc.status == 404:
            raise ProbeSetupError(f"no Service named {name} in namespace {namespace}") from None
        raise
    svc = ServiceView.from_api(raw)
    disc = k8s.DiscoveryV1Api(api)
    items = json.loads(disc.list_namespaced_endpoint_slice(
        namespace, label_selector=f"{SERVICE_NAME_LABEL}={name}", _preload_content=False,
        _request_timeout=API_TIMEOUT).data).get("items") or []
    slices = [SliceView.from_api(o) for o in items]
    if not want_nodes:
        return svc, slices, []
    try:
        nodes = json.loads(core.list_node(_preload_content=False, _request_timeout=API_TIMEOUT).data).get("items")
    except ApiException as exc:
        if exc.status != 403:
            raise
        nodes = []  # not allowed to list Nodes: the NodePort target needs --node's address then
    return svc, slices, nodes or []


__all__ = ["DEMO_SENTENCE", "Prepared", "ProbeSetupError", "TO_CHOICES", "parse_address", "pick_port", "prepare",
           "pods_by_real_server", "read_virtual_server", "service_target"]
