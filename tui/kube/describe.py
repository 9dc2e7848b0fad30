"""A Service as `kubectl describe svc` and `kubectl get svc -o yaml` print it, from the JSON the watch cache holds.

The detail screen shows these, and tests compare them with the real kubectl on the same simulated cluster, byte for
byte: admins read describe output by its shape, so svcscope keeps kubectl's (kubectl/pkg/describe describeService,
its Go tabwriter with minwidth 0, tabwidth 8, padding 2, and formatEndpointSlices for each port's Endpoints line).

No Textual here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml

from tui.kube.models import SlicePort, SliceView, human_age, parse_time

Obj = Mapping[str, Any]

MAX_ANNOTATION_LEN = 140  # kubectl's maxAnnotationLen
SKIP_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


# -- Go's text/tabwriter -------------------------------------------------------------------------------------------


def tabwrite(text: str, minwidth: int = 0, padding: int = 2) -> str:
    """Go's text/tabwriter (padchar ' ', no flags) over `text`: tab-terminated cells aligned in column blocks.

    A column block is a run of consecutive lines that have a cell in that column; the last cell of a line (not
    tab-terminated) belongs to no column. Cells are padded to the block's widest cell plus `padding`.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell.ljust(widths[j]) if j < len(widths) and j < len(cells) - 1 else cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)


# -- describe ------------------------------------------------------------------------------------------------------


def _dict(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


def _list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else []


def format_labels(labels: Mapping[str, Any]) -> str:
    """labels.FormatLabels: `k=v,...` sorted by key, `<none>` when empty."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) or "<none>"


def _labels_multiline(title: str, labels: Mapping[str, Any]) -> str:
    keys = sorted(labels)
    if not keys:
        return f"{title}:\t<none>\n"
    out = [f"{title}:\t{keys[0]}={labels[keys[0]]}\n"]
    out += [f"\t{k}={labels[k]}\n" for k in keys[1:]]
    return "".join(out)


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + "..." if len(text) > limit else text


def _annotations_multiline(title: str, annotations: Mapping[str, Any]) -> str:
    keys = sorted(k for k in annotations if k not in SKIP_ANNOTATIONS)
    if not keys:
        return f"{title}:\t<none>\n"
    out = [f"{title}:\t"]
    for i, key in enumerate(keys):
        if i:
            out.append("\t")
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            out.append(f"{key}:\n")
            out += [f"\t  {_shorten(line, MAX_ANNOTATION_LEN - 2)}\n" for line in value.split("\n")]
        else:
            out.append(f"{key}: {value}\n")
    return "".join(out)


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_slice_endpoints(slices: Sequence[SliceView], port_name: str | None) -> str:
    """kubectl's formatEndpointSlices for one Service port: ready addresses as host:port, the first three, then
    ` + N more...`; `<none>` when there is no slice at all (and "" when the slices hold no ready endpoint)."""
    if not slices:
        return "<none>"
    listed: list[str] = []
    limit, more, count = 3, False, 0
    for view in slices:
        # headless Services may have no ports: then each address alone
        ports: Sequence[SlicePort | None] = view.ports if _list(view.raw.get("ports")) else (None,)
        for port in ports:
            if port is not None and port_name is not None and port.name != port_name:
                continue
            for ep in view.endpoints:
                if len(listed) == limit:
                    more = True
                if not ep.is_ready:
                    continue
                if not more and ep.addresses:
                    address = ep.addresses[0]
                    listed.append(address if port is None else _join_host_port(address, port.port or 0))
                count += 1
    text = ",".join(listed)
    return f"{text} + {count - limit} more..." if more else text


def _ingress(status: Mapping[str, Any]) -> str:
    parts = []
    for ing in _list(_dict(status.get("loadBalancer")).get("ingress")):
        ing = _dict(ing)
        text = str(ing.get("ip") or ing.get("hostname") or "")
        if ing.get("ipMode"):
            text += f" ({ing['ipMode']})"
        parts.append(text)
    return ", ".join(parts)


def describe_service(obj: Obj, slices: Sequence[SliceView], events: Sequence[Obj] | None = (),
                     now: datetime | None = None) -> str:
    """`kubectl describe service` of the Service JSON `obj`, with its EndpointSlices (by name) and events.

    `events` None means they were not read (the section is left out, as kubectl does when it may not read them);
    empty means none (`Events: <none>`).
    """
    meta, spec, status = _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status"))
    w: list[str] = [
        f"Name:\t{meta.get('name', '')}\n",
        f"Namespace:\t{meta.get('namespace', '')}\n",
        _labels_multiline("Labels", _dict(meta.get("labels"))),
        _annotations_multiline("Annotations", _dict(meta.get("annotations"))),
        f"Selector:\t{format_labels(_dict(spec.get('selector')))}\n",
        f"Type:\t{spec.get('type', '')}\n",
    ]
    if spec.get("ipFamilyPolicy"):
        w.append(f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    families = [str(f) for f in _list(spec.get("ipFamilies"))]
    w.append(f"IP Families:\t{','.join(families) if families else '<none>'}\n")
    w.append(f"IP:\t{spec.get('clusterIP', '')}\n")
    ips = [str(ip) for ip in _list(spec.get("clusterIPs"))]
    w.append(f"IPs:\t{','.join(ips) if ips else '<none>'}\n")
    _optional(w, spec, ("External IPs", "externalIPs"), ("IP", "loadBalancerIP"), ("External Name", "externalName"),
              ("LoadBalancer Class", "loadBalancerClass"))
    if _list(_dict(status.get("loadBalancer")).get("ingress")):
        w.append(f"LoadBalancer Ingress:\t{_ingress(status)}\n")
    for p in _list(spec.get("ports")):
        p = _dict(p)
        name = p.get("name") or "<unset>"
        proto = p.get("protocol", "TCP")
        w.append(f"Port:\t{name}\t{p.get('port', 0)}/{proto}\n")
        target = p.get("targetPort", p.get("port", 0))
        w.append(f"TargetPort:\t{target}/{proto}\n")
        if p.get("nodePort"):
            w.append(f"NodePort:\t{name}\t{p['nodePort']}/{proto}\n")
        w.append(f"Endpoints:\t{format_slice_endpoints(slices, p.get('name') or '')}\n")
    w.append(f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
    _optional(w, spec, ("External Traffic Policy", "externalTrafficPolicy"),
              ("Internal Traffic Policy", "internalTrafficPolicy"), ("HealthCheck NodePort", "healthCheckNodePort"),
              ("LoadBalancer Source Ranges", "loadBalancerSourceRanges"))
    w.append(_events(events, now))
    return tabwrite("".join(w))


def _optional(w: list[str], spec: Mapping[str, Any], *fields: tuple[str, str]) -> None:
    """kubectl's lines that show only when the field is set; a list is joined with commas."""
    for title, key in fields:
        value = spec.get(key)
        if isinstance(value, list):
            value = ",".join(map(str, value))
        if value:
            w.append(f"{title}:\t{value}\n")


def _event_time(ev: Obj) -> datetime | None:
    for key in ("eventTime", "firstTimestamp"):
        value = ev.get(key)
        if isinstance(value, str) and value:
            return parse_time(value.split(".")[0].rstrip("Z") + "Z")
    return None


def _events(events: Sequence[Obj] | None, now: datetime | None) -> str:
    if events is None:  # not read (yet, or not allowed): kubectl leaves the section out
        return ""
    if not events:
        return "Events:\t<none>\n"
    rows = ["Events:\n  Type\tReason\tAge\tFrom\tMessage\n", "  ----\t------\t----\t----\t-------\n"]
    # kubectl's SortableEvents: by lastTimestamp (RFC 3339 strings sort as times)
    ordered = sorted(events, key=lambda e: str(e.get("lastTimestamp") or ""))
    for ev in ordered:
        first = _event_time(ev)
        age = human_age(first, now) if now is not None else "<unknown>"
        count = ev.get("count") if isinstance(ev.get("count"), int) else 1
        last = parse_time(str(ev.get("lastTimestamp") or "")) if ev.get("lastTimestamp") else None
        if count > 1 and last is not None and now is not None:
            age = f"{human_age(last, now)} (x{count} over {age})"
        source = _dict(ev.get("source")).get("component") or ev.get("reportingComponent") or ""
        rows.append(f"  {ev.get('type', '')}\t{ev.get('reason', '')}\t{age}\t{source}\t"
                    f"{str(ev.get('message', '')).strip()}\n")
    return "".join(rows)


# -- YAML ----------------------------------------------------------------------------------------------------------


class _KubectlDumper(yaml.SafeDumper):
    """kubectl's -o yaml layout: block style, keys sorted, list items at their parent's indentation, no wrapping."""


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    """go-yaml's choices: multi-line strings as literal blocks; strings that cannot be plain (they would read as
    another type, like "1002", or hold YAML syntax) in double quotes, where PyYAML would pick single quotes."""
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    analysis = dumper.analyze_scalar(data)
    plain = (bool(data) and analysis.allow_block_plain and not analysis.multiline
             and dumper.resolve(yaml.ScalarNode, data, (True, False)) == "tag:yaml.org,2002:str")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=None if plain else '"')


_KubectlDumper.add_representer(str, _str_presenter)


def service_yaml(obj: Obj) -> str:
    """The object as the server sent it, as YAML."""
    return yaml.dump(_plain(obj), Dumper=_KubectlDumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True, width=1 << 30)


def _plain(v: Any) -> Any:
    """Read-only mappings and tuples as plain dicts and lists for the YAML dumper."""
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
