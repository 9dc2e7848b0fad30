"""The Service wizard's logic without a screen: the text typed in its fields as a ServiceSpec, where each error
goes, and what the live cluster suggests (pod labels with their counts, named container ports, taken nodePorts).

The wizard (tui/screens/wizard.py) only reads its widgets into a `FormValues` and paints what these functions
answer, so every rule here is testable without Textual.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from tui.kube.models import PodView, ServiceView
from tui.kube.service_spec import PortSpec, ServiceSpec, field_of

Key = tuple[str, str]


@dataclass
class PortValues:
    name: str = ""
    protocol: str = "TCP"
    port: str = ""
    target_port: str = ""
    node_port: str = ""


@dataclass
class FormValues:
    """What the fields hold, as typed."""

    name: str = ""
    namespace: str = ""
    kind: str = "ClusterIP"
    cluster_ip: str = ""
    external_name: str = ""
    selector: str = ""
    ports: list[PortValues] = field(default_factory=list)
    session_affinity: str = "None"
    timeout: str = ""
    external_traffic_policy: str = ""
    internal_traffic_policy: str = ""
    external_ips: str = ""
    load_balancer_source_ranges: str = ""
    load_balancer_class: str = ""
    publish_not_ready_addresses: bool = False
    labels: str = ""
    annotations: str = ""


def number(text: str) -> int | str | None:
    """A field's number: None when blank, an int when it is one, else the text (validation names it)."""
    text = text.strip()
    if not text:
        return None
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else text


def port_or_name(text: str) -> int | str | None:
    """A targetPort: a number, or a container port's name."""
    return number(text)


def items(text: str) -> list[str]:
    """A comma- or space-separated list field (externalIPs, source ranges)."""
    return [x for x in re.split(r"[,\s]+", text.strip()) if x]


def key_values(text: str, path: str, errors: dict[str, str]) -> dict[str, str]:
    """`k=v, k2=v2` as a map; an entry without `=` is an error on `path` (the map's apiserver path)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            errors.setdefault(path, f"{part!r} is not KEY=VALUE: write the entries as key=value, separated by commas")
            continue
        out[key.strip()] = value.strip()
    return out


def to_spec(values: FormValues) -> tuple[ServiceSpec, dict[str, str]]:
    """The spec the fields describe, and the errors of text that is not even a map (keyed like validate()'s)."""
    errors: dict[str, str] = {}
    spec = ServiceSpec(
        name=values.name.strip(),
        namespace=values.namespace.strip(),
        kind=values.kind,
        cluster_ip=values.cluster_ip.strip(),
        external_name=values.external_name.strip(),
        session_affinity=values.session_affinity or "None",
        affinity_timeout=number(values.timeout),
        external_traffic_policy=values.external_traffic_policy,
        internal_traffic_policy=values.internal_traffic_policy,
        load_balancer_class=values.load_balancer_class.strip(),
        publish_not_ready_addresses=values.publish_not_ready_addresses,
    )
    if spec.uses("selector"):
        spec.selector = key_values(values.selector, "spec.selector", errors)
    spec.ports = [PortSpec(port=number(p.port), target_port=port_or_name(p.target_port), name=p.name.strip(),
                           protocol=p.protocol or "TCP",
                           node_port=number(p.node_port) if spec.uses("nodePort") else None)
                  for p in values.ports]
    if spec.uses("externalIPs"):
        spec.external_ips = items(values.external_ips)
    if spec.uses("loadBalancer"):
        spec.load_balancer_source_ranges = items(values.load_balancer_source_ranges)
    else:
        spec.load_balancer_class = ""
    if not spec.uses("clusterIP"):
        spec.cluster_ip = ""
    if spec.session_affinity != "ClientIP":
        spec.affinity_timeout = None
    if not spec.uses("externalTrafficPolicy"):
        spec.external_traffic_policy = ""
    spec.labels = key_values(values.labels, "metadata.labels", errors)
    spec.annotations = key_values(values.annotations, "metadata.annotations", errors)
    return spec, errors


def check(values: FormValues, taken_node_ports: Iterable[int] = ()) -> tuple[ServiceSpec, dict[str, str]]:
    """The spec and every error to show, by the apiserver's field path."""
    spec, errors = to_spec(values)
    for path, message in spec.validate(set(taken_node_ports)).items():
        errors.setdefault(path, message)
    return spec, errors


# -- where an error goes ---------------------------------------------------------------------------------------

FIELD_IDS = {
    "metadata.name": "name",
    "metadata.namespace": "namespace",
    "metadata.labels": "labels",
    "metadata.annotations": "annotations",
    "spec.type": "kind",
    "spec.clusterIP": "cluster-ip",
    "spec.externalName": "external-name",
    "spec.selector": "selector",
    "spec.ports": "ports",
    "spec.sessionAffinity": "affinity",
    "spec.sessionAffinityConfig.clientIP.timeoutSeconds": "timeout",
    "spec.externalTrafficPolicy": "etp",
    "spec.internalTrafficPolicy": "itp",
    "spec.externalIPs": "external-ips",
    "spec.loadBalancerSourceRanges": "lb-ranges",
    "spec.loadBalancerClass": "lb-class",
    "spec.publishNotReadyAddresses": "publish",
}
_PORT_RE = re.compile(r"spec\.ports\[(\d+)\](?:\.(\w+))?")
_LIST_RE = re.compile(r"(spec\.\w+)\[\d+\]")


def field_id(path: str) -> str:
    """The wizard's field (widget id) for an apiserver error path; ports are `port-<i>-<part>`. Unknown paths go
    to "form" (shown above the fields)."""
    path = field_of(path)
    m = _PORT_RE.fullmatch(path)
    if m:
        part = {"name": "name", "protocol": "protocol", "port": "port", "targetPort": "target",
                "nodePort": "node-port"}.get(m.group(2) or "port", "port")
        return f"port-{m.group(1)}-{part}"
    m = _LIST_RE.fullmatch(path)
    if m:
        path = m.group(1)
    return FIELD_IDS.get(path, "form")


def by_field(errors: Mapping[str, str]) -> dict[str, list[str]]:
    """Errors grouped by widget id, each with its apiserver path in front (the apiserver's whole sentence)."""
    out: dict[str, list[str]] = {}
    for path, message in errors.items():
        out.setdefault(field_id(path), []).append(f"{path}: {message}")
    return out


# -- what the cluster suggests -----------------------------------------------------------------------------------

def label_choices(pods: Iterable[PodView]) -> list[tuple[str, str, int]]:
    """(key, value, pods carrying it) of the pods' labels, most common first; pod-template-hash and other
    per-ReplicaSet labels last (they select one rollout, rarely what a Service wants)."""
    counts = Counter(pair for p in pods for pair in p.labels)
    return sorted(((k, v, n) for (k, v), n in counts.items()),
                  key=lambda c: (c[0] in ("pod-template-hash", "controller-revision-hash"), -c[2], c[0], c[1]))


def matching(pods: Iterable[PodView], selector: Mapping[str, str]) -> list[PodView]:
    """The pods the selector matches (an empty selector matches none: the Service gets no managed endpoints)."""
    if not selector:
        return []
    want = selector.items()
    return sorted((p for p in pods if want <= dict(p.labels).items()), key=lambda p: p.name)


def pod_count_text(pods: list[PodView] | None, selector: Mapping[str, str], namespace: str) -> str:
    if pods is None:
        return f"pods of {namespace or 'the namespace'} not listed (yet); the selector is used as typed"
    if not selector:
        return "no selector: the Service gets no endpoints of its own (add EndpointSlices yourself)"
    hit = matching(pods, selector)
    ready = sum(1 for p in hit if p.ready)
    return f"matches {len(hit)} pod{'s' if len(hit) != 1 else ''} in {namespace}, {ready} ready"


def named_ports(pods: Iterable[PodView]) -> list[tuple[str, int, str]]:
    """(name, containerPort, protocol) of the pods' named container ports, each once, by name."""
    seen: dict[tuple[str, str], tuple[str, int, str]] = {}
    for pod in pods:
        spec = pod.raw.get("spec") if isinstance(pod.raw, Mapping) else None
        for c in (spec.get("containers") if isinstance(spec, Mapping) else None) or []:
            for p in (c.get("ports") if isinstance(c, Mapping) else None) or []:
                if isinstance(p, Mapping) and isinstance(p.get("name"), str) and \
                        isinstance(p.get("containerPort"), int):
                    proto = p.get("protocol") if isinstance(p.get("protocol"), str) else "TCP"
                    seen.setdefault((p["name"], proto), (p["name"], p["containerPort"], proto))
    return sorted(seen.values())


def taken_node_ports(services: Iterable[ServiceView]) -> dict[int, str]:
    """nodePort -> `namespace/name` of the Service holding it (healthCheckNodePorts included)."""
    out: dict[int, str] = {}
    for svc in services:
        for p in svc.ports:
            if p.node_port:
                out[p.node_port] = f"{svc.namespace}/{svc.name}"
        hc = svc.raw.get("spec", {}).get("healthCheckNodePort") if isinstance(svc.raw, Mapping) else None
        if isinstance(hc, int) and hc:
            out[hc] = f"{svc.namespace}/{svc.name}"
    return out


def server_filled(sent: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """What the server added to the spec (a dry run's answer against the manifest sent): `path: value` lines."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(b, Mapping):
            for k, v in b.items():
                walk(a.get(k) if isinstance(a, Mapping) else None, v, f"{path}.{k}" if path else k)
        elif isinstance(b, list) and isinstance(a, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
        elif a != b:
            out.append(f"{path}: {_show(b)}")

    walk(sent.get("spec", {}), got.get("spec", {}), "spec")
    return out


def _show(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)
