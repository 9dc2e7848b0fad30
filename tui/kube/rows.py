"""The rows and columns of the Services and EndpointSlices panes, of their one-shot output, and of kubectl's tables.

Cells are plain strings built from the shared models, so a pane, `svcscope services --once` and the tests print the
same thing. Two column sets per resource: svcscope's (what the pane shows: endpoints ready/total, affinity) and
kubectl's (`kubectl get svc -o wide`, `kubectl get endpointslices`), which `format_table` prints byte for byte as
kubectl does (Go's text/tabwriter with kubectl's settings: minwidth 6, padding 3, no trailing padding).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Sequence

from tui.kube.models import SERVICE_NAME_LABEL, PodView, ServiceView, SliceEndpoint, SliceView, human_age
from tui.kube.selectors import match_labels, parse_label_selector

Key = tuple[str, str]


@dataclass(frozen=True)
class Column:
    key: str  # the JSON field and the cell's name
    title: str  # the header, as kubectl spells it
    wide: bool = False  # only with -o wide (kubectl's priority-1 columns)


class Health(str, Enum):
    """What the API alone shows about a Service's endpoints; the pane colours rows by it."""

    OK = "ok"
    PARTIAL = "partial"  # some endpoints not ready
    NONE_READY = "none-ready"
    NO_ENDPOINTS = "no-endpoints"
    LB_PENDING = "lb-pending"
    NOT_APPLICABLE = "n/a"  # ExternalName: no endpoints by design


@dataclass(frozen=True)
class Row:
    key: tuple[str, ...]
    cells: dict[str, str]
    health: Health = Health.OK
    sort: dict[str, Any] = field(default_factory=dict)  # typed sort values where the text sorts wrongly
    labels: Mapping[str, str] = field(default_factory=dict)  # the object's labels, for `-l` filters

    def values(self, columns: Sequence[Column]) -> list[str]:
        return [self.cells[c.key] for c in columns]

    def sort_key(self, column: str) -> Any:
        """What the pane sorts a column by: AGE by age, ENDPOINTS by counts, IPs numerically, else the text."""
        return self.sort.get(column, (0, self.cells.get(column, "")))


def _ip_key(text: str) -> tuple[int, Any]:
    try:
        return (1, ipaddress.ip_address(text))  # type: ignore[return-value]
    except ValueError:
        return (0, text)  # None, <none>: before every address


def _age_key(created: datetime | None) -> tuple[int, float]:
    return (0, 0.0) if created is None else (1, -created.timestamp())  # youngest first, as the AGE it prints


# -- Services ------------------------------------------------------------------------------------------------------

NAMESPACE = Column("namespace", "NAMESPACE")

SERVICE_COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME"),
    Column("type", "TYPE"),
    Column("clusterIP", "CLUSTER-IP"),
    Column("externalIP", "EXTERNAL-IP"),
    Column("ports", "PORT(S)"),
    Column("endpoints", "ENDPOINTS"),
    Column("affinity", "AFFINITY"),
    Column("selector", "SELECTOR"),
    Column("age", "AGE"),
)

# kubectl's Service table (pkg/printers/internalversion printService): Selector is priority 1 (wide only).
KUBECTL_SERVICE_COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME"),
    Column("type", "TYPE"),
    Column("clusterIP", "CLUSTER-IP"),
    Column("externalIP", "EXTERNAL-IP"),
    Column("ports", "PORT(S)"),
    Column("age", "AGE"),
    Column("selector", "SELECTOR", wide=True),
)


def columns(base: Sequence[Column], all_namespaces: bool, wide: bool = True) -> tuple[Column, ...]:
    cols = tuple(c for c in base if wide or not c.wide)
    return (NAMESPACE, *cols) if all_namespaces else cols


def affinity(view: ServiceView) -> str:
    if view.session_affinity == "ClientIP":
        return f"ClientIP({view.affinity_timeout if view.affinity_timeout is not None else 10800}s)"
    return view.session_affinity or "None"


def service_health(view: ServiceView, ready: int, total: int) -> Health:
    if view.type == "ExternalName":
        return Health.NOT_APPLICABLE
    if total == 0:
        return Health.NO_ENDPOINTS
    if ready == 0:
        return Health.NONE_READY
    if view.type == "LoadBalancer" and not view.lb_ingress:
        return Health.LB_PENDING
    if ready < total:
        return Health.PARTIAL
    return Health.OK


def service_cells(view: ServiceView, ready: int, total: int, now: datetime) -> dict[str, str]:
    """A Service's cells by column key: what the pane shows (it builds 10,000 of these before its first frame, so
    nothing else is computed here) and what service_row adds sort keys to."""
    return {
        "namespace": view.namespace,
        "name": view.name,
        "type": view.type,
        "clusterIP": view.cluster_ips[0] if view.cluster_ips else "<none>",
        "externalIP": view.kubectl_external_ip(),
        "ports": view.kubectl_ports(),
        "endpoints": "-" if view.type == "ExternalName" else f"{ready}/{total}",
        "affinity": affinity(view),
        "selector": view.kubectl_selector(),
        "age": human_age(view.created, now),
    }


def service_row(view: ServiceView, counts: tuple[int, int], now: datetime) -> Row:
    ready, total = counts
    cells = service_cells(view, ready, total, now)
    cluster_ip = cells["clusterIP"]
    sort = {"age": _age_key(view.created), "endpoints": (1, ready, total), "clusterIP": _ip_key(cluster_ip),
            "ports": (1, view.ports[0].port if view.ports else 0, cells["ports"])}
    return Row(view.key, cells, service_health(view, ready, total), sort, view.labels_dict)


def service_json(view: ServiceView, counts: tuple[int, int], now: datetime) -> dict[str, Any]:
    """One Service as `-o json` prints it: the pane's cells with typed values where a script wants them."""
    row = service_row(view, counts, now)
    return {
        "namespace": view.namespace,
        "name": view.name,
        "type": view.type,
        "clusterIP": row.cells["clusterIP"],
        "clusterIPs": list(view.cluster_ips),
        "externalIP": row.cells["externalIP"],
        "ports": [
            {"name": p.name, "protocol": p.protocol, "port": p.port, "targetPort": p.target_port,
             **({"nodePort": p.node_port} if p.node_port else {})}
            for p in view.ports
        ],
        "endpoints": {"ready": counts[0], "total": counts[1]},
        "sessionAffinity": view.session_affinity,
        "affinityTimeoutSeconds": view.affinity_timeout,
        "selector": view.selector_dict,
        "created": view.created.strftime("%Y-%m-%dT%H:%M:%SZ") if view.created else None,
        "age": row.cells["age"],
        "health": row.health.value,
        "problems": list(view.problems),
    }


# -- EndpointSlices ------------------------------------------------------------------------------------------------

ENDPOINT_COLUMNS: tuple[Column, ...] = (
    Column("address", "ADDRESS"),
    Column("ports", "PORTS"),
    Column("ready", "READY"),
    Column("serving", "SERVING"),
    Column("terminating", "TERMINATING"),
    Column("node", "NODE"),
    Column("zone", "ZONE"),
    Column("hostname", "HOSTNAME"),
    Column("target", "TARGET"),
    Column("slice", "SLICE"),
)

# kubectl's EndpointSlice table (printEndpointSlice): every column is priority 0.
KUBECTL_SLICE_COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME"),
    Column("addressType", "ADDRESSTYPE"),
    Column("ports", "PORTS"),
    Column("endpoints", "ENDPOINTS"),
    Column("age", "AGE"),
)


def _flag(value: bool | None, effective: bool) -> str:
    """The condition as the API sent it; an unset one shows the value it defaults to, marked."""
    text = "true" if effective else "false"
    return text if value is not None else f"{text}*"


def slice_ports(view: SliceView) -> str:
    parts = []
    for p in view.ports:
        port = str(p.port) if p.port is not None else "*"
        parts.append(f"{p.name}:{port}/{p.protocol}" if p.name else f"{port}/{p.protocol}")
    return ",".join(parts) or "<none>"


def endpoint_row(view: SliceView, index: int, ep: SliceEndpoint, ports: str) -> Row:
    target = f"{ep.target_kind}/{ep.target_name}" if ep.target_kind and ep.target_name else (ep.target_name or "<none>")
    cells = {
        "namespace": view.namespace,
        "service": view.service,
        "address": ",".join(ep.addresses) or "<none>",
        "ports": ports,
        "ready": _flag(ep.ready, ep.is_ready),
        "serving": _flag(ep.serving, ep.is_serving),
        "terminating": _flag(ep.terminating, ep.is_terminating),
        "node": ep.node_name or "<none>",
        "zone": ep.zone or "<none>",
        "hostname": ep.hostname or "<none>",
        "target": target,
        "slice": view.name,
    }
    health = Health.OK if ep.is_ready else Health.NONE_READY
    labels = view.raw.get("metadata", {}).get("labels") if isinstance(view.raw.get("metadata"), dict) else None
    return Row((view.namespace, view.name, str(index)), cells, health, {"address": _ip_key(ep.address)},
               labels if isinstance(labels, dict) else {})


def endpoint_rows(slices: Iterable[SliceView]) -> list[Row]:
    """One row per endpoint, slice by slice (slices by name), endpoints in the slice's order."""
    rows = []
    for view in sorted(slices, key=lambda s: (s.namespace, s.name)):
        ports = slice_ports(view)
        rows.extend(endpoint_row(view, i, ep, ports) for i, ep in enumerate(view.endpoints))
    return rows


def endpoint_json(row: Row, ep: SliceEndpoint, view: SliceView) -> dict[str, Any]:
    return {
        "namespace": view.namespace,
        "service": view.service,
        "slice": view.name,
        "addressType": view.address_type,
        "addresses": list(ep.addresses),
        "ports": [{"name": p.name, "protocol": p.protocol, "port": p.port} for p in view.ports],
        "ready": ep.is_ready,
        "serving": ep.is_serving,
        "terminating": ep.is_terminating,
        "conditionsSet": {"ready": ep.ready is not None, "serving": ep.serving is not None,
                          "terminating": ep.terminating is not None},
        "nodeName": ep.node_name,
        "zone": ep.zone,
        "hostname": ep.hostname,
        "targetRef": ({"kind": ep.target_kind, "namespace": ep.target_namespace, "name": ep.target_name}
                      if ep.target_name else None),
    }


def _more(items: list[str], count: int, limit: int = 3) -> str:
    """kubectl's listWithMoreString: the first three, then ` + N more...`; `<unset>` when empty."""
    text = ",".join(items)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def kubectl_slice_row(view: SliceView, now: datetime) -> Row:
    raw_ports = view.raw.get("ports") if isinstance(view.raw.get("ports"), list) else None
    ports: list[str] = []
    for i, p in enumerate(view.ports[:3]):
        if p.port is not None:
            ports.append(str(p.port))
        else:  # kubectl: the name when the port is unset, `*` when the name is unset too
            raw = raw_ports[i] if raw_ports is not None and i < len(raw_ports) else {}
            ports.append(raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else "*")
    addresses = [a for ep in view.endpoints for a in ep.addresses]
    cells = {
        "namespace": view.namespace,
        "name": view.name,
        "addressType": view.address_type,
        "ports": _more(ports, len(view.ports)),
        "endpoints": _more(addresses[:3], len(addresses)),
        "age": human_age(view.created, now),
    }
    return Row(view.key, cells, sort={"age": _age_key(view.created)})


# -- the `/` filter ----------------------------------------------------------------------------------------------


def parse_filter(text: str) -> Callable[[Row], bool]:
    """k9s's `/` filter: `word` keeps rows with it in any cell (case-insensitive), `!word` drops them, and
    `-l key=value,...` keeps rows whose object's labels match the selector. Raises SelectorError on a bad one."""
    text = text.strip()
    if text.startswith("-l"):
        reqs = parse_label_selector(text[2:].strip())
        return lambda row: match_labels(reqs, row.labels)
    invert = text.startswith("!")
    needle = (text[1:] if invert else text).strip().lower()
    if not needle:
        return lambda row: True
    return lambda row: any(needle in cell.lower() for cell in row.cells.values()) != invert


# -- why a Service has no endpoints --------------------------------------------------------------------------------


def why_empty(view: ServiceView, slices: Sequence[SliceView], pods: Sequence[PodView] | None) -> str | None:
    """One sentence on why the Service has no endpoint, or None when it has some.

    `pods` are the pods its selector matches, or None when pods are not known (not watched, or forbidden).
    """
    if any(s.endpoints for s in slices):
        return None
    sel = view.kubectl_selector()
    if view.type == "ExternalName":
        return (f"{view.name} is an ExternalName Service: it has no endpoints; DNS answers with a CNAME to "
                f"{view.external_name or '<unset>'}.")
    if not view.selector:
        if slices:
            return f"{view.name} has no selector and its hand-made EndpointSlices list no endpoint."
        return (f"{view.name} has no selector, so no EndpointSlice is made for it: add a selector, or create "
                f"EndpointSlices labelled {SERVICE_NAME_LABEL}={view.name}.")
    if pods is None:
        if not slices:
            return f"No EndpointSlice exists for {view.name} yet."
        return f"The EndpointSlices of {view.name} list no endpoint."
    if not pods:
        return f"The selector {sel} matches no pod in namespace {view.namespace}."
    n = len(pods)
    who = "1 pod matches" if n == 1 else f"{n} pods match"
    if not any(p.pod_ips for p in pods):
        return f"{who} the selector {sel}, but none has an IP address yet (not scheduled or not started)."
    if not slices:
        return (f"{who} the selector {sel}, but no EndpointSlice exists yet: the EndpointSlice controller "
                f"has not created it.")
    return f"{who} the selector {sel}, but the EndpointSlice controller has not added them yet."


# -- printing like kubectl -----------------------------------------------------------------------------------------


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]], minwidth: int = 6, padding: int = 3) -> str:
    """Go's text/tabwriter as kubectl configures it (printers.GetNewTabWriter): each column but the last padded to
    max(minwidth, widest cell + padding) with spaces; the last column unpadded; every line ends with a newline."""
    lines = [list(header), *(list(r) for r in rows)]
    if not lines:
        return ""
    ncols = max(len(line) for line in lines)
    widths = [minwidth] * ncols
    for line in lines:
        for i, cell in enumerate(line[:-1]):
            widths[i] = max(widths[i], len(cell) + padding)
    out = []
    for line in lines:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        parts.append(line[-1] if line else "")
        out.append("".join(parts))
    return "\n".join(out) + "\n"


def table(cols: Sequence[Column], rows: Iterable[Row]) -> str:
    return format_table([c.title for c in cols], (r.values(cols) for r in rows))
