"""Gathering what a trace compares: the API objects (from plain dicts, whichever way they were fetched) and this
node's context (its IPs, kube-proxy's mode and scheduler, its IPVS table).

Kept apart from join.py so the comparison stays pure and the fetching (HTTP lists for `svcscope check`, the live
caches for the TUI, the store for tests) stays where the I/O is.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

from tui.ipvs.model import IPVSTable
from tui.kube.models import PodView, ServiceView, SliceView
from tui.kube.proxy_config import ProxyConfigError, parse_configmap
from tui.trace.join import NodeContext, ServiceState

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Objects:
    """The API objects one check needs, as the server sent them (Services and slices may come as their views
    already: `svcscope check` builds them while the next page is on its way)."""

    services: Sequence[Obj | ServiceView]
    slices: Sequence[Obj | SliceView]
    pods: Sequence[Obj] | None  # None: not listed (svcscope check reads only the pods it needs, afterwards)
    nodes: Sequence[Obj]
    kube_proxy_configmap: Obj | None = None


def node_internal_ips(nodes: Iterable[Obj], name: str) -> tuple[str, ...]:
    for node in nodes:
        if (node.get("metadata") or {}).get("name") == name:
            return tuple(a.get("address", "") for a in (node.get("status") or {}).get("addresses") or []
                         if a.get("type") == "InternalIP" and a.get("address"))
    return ()


def this_node_name(nodes: Iterable[Obj], hostname: str | None = None) -> str | None:
    """The Node object of the machine svcscope runs on: matched by hostname, as kubelet names nodes by default."""
    hostname = (hostname or socket.gethostname()).lower()
    short = hostname.split(".")[0]
    names = [(n.get("metadata") or {}).get("name", "") for n in nodes]
    for name in names:
        if name.lower() in (hostname, short):
            return name
    return None


def proxy_settings(configmap: Obj | None) -> tuple[str, str]:
    """(mode, scheduler) from the kube-proxy ConfigMap; mode "" (unset) means iptables on Linux."""
    if configmap is None:
        return "", ""
    try:
        _, cfg = parse_configmap(dict(configmap))
    except ProxyConfigError:
        return "", ""
    return cfg.mode or "iptables", cfg.scheduler


def node_context(objects: Objects, node: str, table: IPVSTable | None, table_error: str = "",
                 running_mode: str | None = None) -> NodeContext:
    mode, scheduler = proxy_settings(objects.kube_proxy_configmap)
    return NodeContext(node, node_internal_ips(objects.nodes, node), running_mode or mode, scheduler, table,
                       table_error)


def service_states(objects: Objects, namespaces: Sequence[str] | None = None,
                   names: Sequence[str] = ()) -> list[ServiceState]:
    """One ServiceState per Service (filtered by namespace and name), each with its slices and selected pods (None
    when the objects hold no pod list)."""
    slices: dict[tuple[str, str], list[SliceView]] = {}
    for obj in objects.slices:
        sl = obj if isinstance(obj, SliceView) else SliceView.from_api(obj)
        slices.setdefault((sl.namespace, sl.service), []).append(sl)
    pods = PodIndex(PodView.from_api(obj) for obj in objects.pods) if objects.pods is not None else None
    out = []
    for obj in objects.services:
        svc = obj if isinstance(obj, ServiceView) else ServiceView.from_api(obj)
        if namespaces and svc.namespace not in namespaces:
            continue
        if names and svc.name not in names:
            continue
        out.append(ServiceState(svc, slices.get(svc.key, []), pods.selected(svc) if pods is not None else None))
    return sorted(out, key=lambda s: s.service.key)


class PodIndex:
    """Pods by namespace and by each label: a Service's selected pods are found from its rarest selector label, not
    by scanning its namespace (10,000 Services over 50,000 pods: 0.05 s instead of minutes)."""

    def __init__(self, pods: Iterable[PodView] = ()) -> None:
        self.pods: dict[tuple[str, str], PodView] = {}
        self._by_label: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        for pod in pods:
            self.put(pod)

    def put(self, pod: PodView) -> PodView | None:
        """Add or replace a pod; returns the one it replaced."""
        old = self.remove(pod.key)
        self.pods[pod.key] = pod
        for k, v in pod.labels:
            self._by_label.setdefault((pod.namespace, k, v), set()).add(pod.key)
        return old

    def remove(self, key: tuple[str, str]) -> PodView | None:
        old = self.pods.pop(key, None)
        if old is not None:
            for k, v in old.labels:
                keys = self._by_label.get((old.namespace, k, v))
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_label[(old.namespace, k, v)]
        return old

    def selected(self, svc: ServiceView) -> list[PodView]:
        """The pods the Service's selector matches (none without a selector), by name."""
        if not svc.selector:
            return []
        buckets = [self._by_label.get((svc.namespace, k, v), set()) for k, v in svc.selector]
        smallest = min(buckets, key=len)
        if not smallest:
            return []
        rest = [b for b in buckets if b is not smallest]
        return sorted((self.pods[k] for k in smallest if all(k in b for b in rest)), key=lambda p: p.name)


def with_dns(api: Any, states: list[ServiceState], address_map: Mapping[str, tuple[str, int]] | None = None,
             timeout: float = 2.0) -> list[ServiceState]:
    """Ask every CoreDNS pod (else the kube-dns Service) for each Service's name and judge the answers by the DNS
    spec; `address_map` reaches servers that are not routable from here (the simulated cluster's)."""
    # imported here: only --dns pays for dnspython (~0.1 s of every `svcscope check`'s start-up otherwise)
    from tui.dns.expect import expect
    from tui.dns.probe import probe
    from tui.dns.servers import detect_zone, read_cluster_dns
    from tui.dns.verdict import judge

    cluster_dns = read_cluster_dns(api)
    servers = cluster_dns.pod_servers(address_map) or cluster_dns.service_servers(address_map)
    if not servers:
        raise LookupError("--dns: no CoreDNS pod or kube-dns Service found in kube-system")
    zone = detect_zone(None, api).zone
    services = [s.service for s in states]

    def one(state: ServiceState) -> ServiceState:
        svc = state.service
        qname = f"{svc.name}.{svc.namespace}.svc.{zone}."
        qtype = "CNAME" if svc.type == "ExternalName" else "A"
        if not svc.headless and svc.cluster_ips and all(":" in ip for ip in svc.cluster_ips):
            qtype = "AAAA"  # an IPv6-only Service has no A record
        outcomes = [probe(qname, qtype, s, timeout=timeout, tries=1) for s in servers]
        verdict = judge(expect(qname, qtype, zone, services, state.slices), outcomes)
        return replace(state, dns=(verdict,))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, states))
