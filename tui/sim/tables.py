"""`meta.k8s.io/v1` Table output: the server-side printing that gives `kubectl get` its real columns.

Columns and cells follow kubectl's printers (`pkg/printers/internalversion/printers.go`); priority 1 columns are
the ones `-o wide` adds. Cells are computed from plain dicts and never raise on a malformed object: a Service
whose spec is a string still gets a row (with `<none>`s), as one bad object must not break a whole listing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from tui.kube.models import ServiceView, human_age, parse_time

Obj = Mapping[str, Any]
Column = tuple[str, str, int, str]  # name, type, priority, description
CellFn = Callable[[Obj, datetime], list[Any]]

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some resources "
              "may allow a client to request the generation of an appropriate name automatically.")
_AGE_DESC = "CreationTimestamp is a timestamp representing the server time when this object was created."


def _d(v: Any) -> dict[str, Any]:
    return dict(v) if isinstance(v, Mapping) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _name(obj: Obj) -> str:
    return str(_d(obj.get("metadata")).get("name", ""))


def _age(obj: Obj, now: datetime) -> str:
    return human_age(parse_time(str(_d(obj.get("metadata")).get("creationTimestamp", ""))), now)


def _labels(sel: Any) -> str:
    """labels.FormatLabels: sorted `k=v` pairs, `<none>` when empty."""
    sel = _d(sel)
    return ",".join(f"{k}={sel[k]}" for k in sorted(sel)) or "<none>"


def _label_selector(sel: Any) -> str:
    """metav1.FormatLabelSelector: matchLabels then matchExpressions, `<none>` when empty."""
    sel = _d(sel)
    parts = [f"{k}={v}" for k, v in sorted(_d(sel.get("matchLabels")).items())]
    for expr in _l(sel.get("matchExpressions")):
        expr = _d(expr)
        op, key, values = str(expr.get("operator", "")), expr.get("key", ""), _l(expr.get("values"))
        if op == "In":
            parts.append(f"{key} in ({','.join(map(str, values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(map(str, values))})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def _more(items: list[str], count: int, limit: int = 3) -> str:
    """listWithMoreString: the first three, then ` + N more...`; `<unset>` when empty."""
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _containers(obj: Obj) -> tuple[str, str]:
    cs = [_d(c) for c in _l(_d(_d(_d(obj.get("spec")).get("template")).get("spec")).get("containers"))]
    return ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs)


# -- per kind -----------------------------------------------------------------------------------------------------

def _service(obj: Obj, now: datetime) -> list[Any]:
    view = ServiceView.from_api(obj)
    cluster_ip = view.cluster_ip or "<none>"
    return [view.name, view.type, cluster_ip, view.kubectl_external_ip(), view.kubectl_ports(), _age(obj, now),
            _labels(_d(obj.get("spec")).get("selector"))]


def _endpointslice(obj: Obj, now: datetime) -> list[Any]:
    ports: list[str] = []
    for p in _l(obj.get("ports")):
        p = _d(p)
        ports.append(str(p["port"]) if isinstance(p.get("port"), int) else str(p.get("name") or "*"))
    addrs = [str(a) for e in _l(obj.get("endpoints")) for a in _l(_d(e).get("addresses"))]
    return [_name(obj), str(obj.get("addressType", "")), _more(ports, len(ports)), _more(addrs, len(addrs)),
            _age(obj, now)]


def _pod_status(obj: Obj) -> str:
    meta, status = _d(obj.get("metadata")), _d(obj.get("status"))
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for cs in _l(status.get("containerStatuses")):
        state = _d(_d(cs).get("state"))
        waiting, terminated = _d(state.get("waiting")), _d(state.get("terminated"))
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated.get("reason"):
            reason = str(terminated["reason"])
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    statuses = [_d(c) for c in _l(status.get("containerStatuses"))]
    ready = sum(1 for c in statuses if c.get("ready") is True)
    restarts = sum(c.get("restartCount", 0) for c in statuses if isinstance(c.get("restartCount"), int))
    gates = _l(spec.get("readinessGates"))
    return [_name(obj), f"{ready}/{len(_l(spec.get('containers')))}", _pod_status(obj), str(restarts),
            _age(obj, now), str(status.get("podIP") or "<none>"), str(spec.get("nodeName") or "<none>"),
            str(status.get("nominatedNodeName") or "<none>"), f"{len(gates)}/{len(gates)}" if gates else "<none>"]


def _node(obj: Obj, now: datetime) -> list[Any]:
    meta, spec, status = _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))
    ready = "Unknown"
    for cond in _l(status.get("conditions")):
        cond = _d(cond)
        if cond.get("type") == "Ready":
            ready = "Ready" if cond.get("status") == "True" else "NotReady"
    if spec.get("unschedulable"):
        ready += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in _d(meta.get("labels"))
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    addrs = {str(_d(a).get("type")): str(_d(a).get("address")) for a in _l(status.get("addresses"))}
    info = _d(status.get("nodeInfo"))
    return [_name(obj), ready, ",".join(r for r in roles if r) or "<none>", _age(obj, now),
            str(info.get("kubeletVersion", "")), addrs.get("InternalIP", "<none>"),
            addrs.get("ExternalIP", "<none>"), str(info.get("osImage") or "<unknown>"),
            str(info.get("kernelVersion") or "<unknown>"), str(info.get("containerRuntimeVersion") or "<unknown>")]


def _namespace(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), str(_d(obj.get("status")).get("phase", "Active")), _age(obj, now)]


def _configmap(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), len(_d(obj.get("data"))) + len(_d(obj.get("binaryData"))), _age(obj, now)]


def _daemonset(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    names, images = _containers(obj)
    node_sel = _labels(_d(_d(spec.get("template")).get("spec")).get("nodeSelector"))

    def n(key: str) -> int:
        v = status.get(key, 0)
        return v if isinstance(v, int) else 0

    return [_name(obj), n("desiredNumberScheduled"), n("currentNumberScheduled"), n("numberReady"),
            n("updatedNumberScheduled"), n("numberAvailable"), node_sel, _age(obj, now), names, images,
            _label_selector(spec.get("selector"))]


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    names, images = _containers(obj)

    def n(v: Any) -> int:
        return v if isinstance(v, int) else 0

    desired = spec.get("replicas", 1)
    return [_name(obj), f"{n(status.get('readyReplicas'))}/{n(desired)}", n(status.get("updatedReplicas")),
            n(status.get("availableReplicas")), _age(obj, now), names, images, _label_selector(spec.get("selector"))]


def _event(obj: Obj, now: datetime) -> list[Any]:
    meta, inv, source = _d(obj.get("metadata")), _d(obj.get("involvedObject")), _d(obj.get("source"))
    first = parse_time(str(obj.get("firstTimestamp") or meta.get("creationTimestamp") or ""))
    last = parse_time(str(obj.get("lastTimestamp") or obj.get("firstTimestamp") or meta.get("creationTimestamp") or ""))
    count = obj.get("count") if isinstance(obj.get("count"), int) else 1
    src = ", ".join(str(x) for x in (source.get("component"), source.get("host")) if x)
    return [human_age(last, now), str(obj.get("type", "")), str(obj.get("reason", "")),
            f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}", str(inv.get("fieldPath", "")), src,
            str(obj.get("message", "")).strip(), human_age(first, now), str(count), _name(obj)]


def _default(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), str(_d(obj.get("metadata")).get("creationTimestamp", ""))]


_N: Column = ("Name", "string", 0, _NAME_DESC)
_AGE: Column = ("Age", "string", 0, _AGE_DESC)
_CONTAINERS: Column = ("Containers", "string", 1, "Names of each container in the template.")
_IMAGES: Column = ("Images", "string", 1, "Images referenced by each container in the template.")
_SELECTOR: Column = ("Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.")

PRINTERS: dict[str, tuple[tuple[Column, ...], CellFn]] = {
    "Service": ((
        _N,
        ("Type", "string", 0, "type determines how the Service is exposed."),
        ("Cluster-IP", "string", 0, "clusterIP is the IP address of the service and is usually assigned randomly."),
        ("External-IP", "string", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
        ("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
        _AGE,
        ("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
    ), _service),
    "EndpointSlice": ((
        _N,
        ("AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice."),
        ("Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."),
        ("Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."),
        _AGE,
    ), _endpointslice),
    "Pod": ((
        _N,
        ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
        ("Status", "string", 0, "The aggregate status of the containers in this pod."),
        ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        _AGE,
        ("IP", "string", 1, "podIP address allocated to the pod. Routable at least within the cluster."),
        ("Node", "string", 1, "nodeName indicates in which node this pod is scheduled."),
        ("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
        ("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
    ), _pod),
    "Node": ((
        _N,
        ("Status", "string", 0, "The status of the node"),
        ("Roles", "string", 0, "The roles of the node"),
        _AGE,
        ("Version", "string", 0, "Kubelet Version reported by the node."),
        ("Internal-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
        ("External-IP", "string", 1, "List of addresses reachable to the node. Queried from cloud provider, if available."),
        ("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
        ("Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
        ("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
    ), _node),
    "Namespace": ((
        _N,
        ("Status", "string", 0, "The status of the namespace"),
        _AGE,
    ), _namespace),
    "ConfigMap": ((
        _N,
        ("Data", "string", 0, "Data contains the configuration data."),
        _AGE,
    ), _configmap),
    "DaemonSet": ((
        _N,
        ("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."),
        ("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
        ("Ready", "integer", 0, "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
        ("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
        ("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
        ("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
        _AGE,
        _CONTAINERS, _IMAGES,
        ("Selector", "string", 1, "A label query over pods that are managed by the daemon set."),
    ), _daemonset),
    "Deployment": ((
        _N,
        ("Ready", "string", 0, "Number of the pod with ready state"),
        ("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
        ("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        _AGE,
        _CONTAINERS, _IMAGES, _SELECTOR,
    ), _deployment),
    "Event": ((
        ("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
        ("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
        ("Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        ("Object", "string", 0, "The object that this event is about."),
        ("Subobject", "string", 1, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
        ("Source", "string", 1, "The component reporting this event. Should be a short machine understandable string."),
        ("Message", "string", 0, "A human-readable description of the status of this operation."),
        ("First Seen", "string", 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
        ("Count", "string", 1, "The number of times this event has occurred."),
        ("Name", "string", 1, _NAME_DESC),
    ), _event),
}
_DEFAULT: tuple[tuple[Column, ...], CellFn] = (
    (_N, ("Created At", "date", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.")),
    _default,
)


def column_definitions(kind: str) -> list[dict[str, Any]]:
    cols, _ = PRINTERS.get(kind, _DEFAULT)
    return [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": p}
            for n, t, p, d in cols]


def row(kind: str, obj: Obj, now: datetime, include_object: str = "Metadata") -> dict[str, Any]:
    _, cells = PRINTERS.get(kind, _DEFAULT)
    out: dict[str, Any] = {"cells": cells(obj, now)}
    if include_object == "Object":
        out["object"] = obj
    elif include_object != "None":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": _d(obj.get("metadata"))}
    return out


def table(kind: str, objs: Iterable[Obj], now: datetime, *, resource_version: str = "", continue_: str = "",
          include_object: str = "Metadata", columns: bool = True) -> dict[str, Any]:
    """A Table of `objs`; `columns=False` leaves out the definitions, as watch events after the first do."""
    meta: dict[str, Any] = {}
    if resource_version:
        meta["resourceVersion"] = resource_version
    if continue_:
        meta["continue"] = continue_
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(kind) if columns else [],
        "rows": [row(kind, o, now, include_object) for o in objs],
    }
