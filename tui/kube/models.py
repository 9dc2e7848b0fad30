"""One model per Kubernetes concept svcscope shows: a Service, one of its ports, one EndpointSlice endpoint.

Built from the API's JSON (plain dicts, as the watch caches keep them) and used alike by the panes, the one-shot
output, the DNS verdicts, the IPVS mapping and the trace. Parsing is forgiving: a malformed object from the server
becomes a model with `problems` filled in, never an exception, so one bad object cannot take a pane down.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping  # not typing.Mapping: its isinstance() is several times slower
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

Obj = Mapping[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"


def _str(v: Any, default: str = "") -> str:
    return v if isinstance(v, str) else default


def _dict(v: Any) -> dict[str, Any]:
    # Read-only use: the object itself, no copy (10,000 Services are parsed at start-up).
    if type(v) is dict:
        return v
    return dict(v) if isinstance(v, Mapping) else {}


def _list(v: Any) -> list[Any]:
    return v if type(v) is list else (list(v) if isinstance(v, list) else [])


def _pairs(v: Any) -> tuple[tuple[str, str], ...]:
    """Labels, annotations or a selector as sorted (key, value) pairs: hashable, and in a stable order."""
    return tuple(sorted((str(k), str(v)) for k, v in _dict(v).items()))


def _parts(obj: Obj) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """metadata, spec, status of an API object, and its problems so far (a missing spec)."""
    problems = [] if isinstance(obj.get("spec"), Mapping) else ["spec is missing or not an object"]
    return _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status")), problems


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    """The fields every view with an identity takes from metadata, as keyword arguments."""
    return {"namespace": _str(meta.get("namespace")), "name": _str(meta.get("name")), "uid": _str(meta.get("uid")),
            "resource_version": _str(meta.get("resourceVersion")), "labels": _pairs(meta.get("labels")),
            "created": parse_time(_str(meta.get("creationTimestamp")))}


_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z\Z")


@lru_cache(maxsize=4096)  # objects created together share their second: 10,000 Services parse a few hundred
def parse_time(text: str) -> datetime | None:
    """RFC 3339 in UTC as the API writes timestamps (`2024-05-01T12:00:00Z`); a regex, 10x faster than strptime."""
    m = _TIME_RE.match(text) if isinstance(text, str) else None
    if m is None:
        return None
    try:
        return datetime(*map(int, m.groups()), tzinfo=timezone.utc)
    except ValueError:
        return None


def human_age(created: datetime | None, now: datetime) -> str:
    """kubectl's AGE (duration.HumanDuration): 45s, 5m10s, 3h, 2d5h, 400d, 3y120d."""
    if created is None:
        return "<unknown>"
    secs = int((now - created).total_seconds())  # truncates toward zero, as Go's int(d.Seconds())
    if secs < -1:
        return "<invalid>"
    if secs < 0:  # kubectl tolerates a second of clock skew
        return "0s"
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        s = secs % 60
        return f"{mins}m{s}s" if s else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = secs // 3600
    if hours < 8:
        m = mins % 60
        return f"{hours}h{m}m" if m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d{h}h" if h else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y{dy}d" if dy else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    protocol: str
    port: int
    target_port: int | str  # a number or an IANA port name
    node_port: int | None = None
    app_protocol: str | None = None

    @classmethod
    def from_api(cls, p: Obj) -> "ServicePort":
        port = p.get("port")
        target = p.get("targetPort", port)
        node_port = p.get("nodePort")
        return cls(
            name=_str(p.get("name")),
            protocol=_str(p.get("protocol"), "TCP"),
            port=port if isinstance(port, int) else 0,
            target_port=target if isinstance(target, (int, str)) else (port if isinstance(port, int) else 0),
            node_port=node_port if isinstance(node_port, int) and node_port else None,
            app_protocol=p.get("appProtocol") if isinstance(p.get("appProtocol"), str) else None,
        )

    def kubectl(self) -> str:
        """kubectl's PORT(S) cell part: `80/TCP` or `80:30002/TCP`."""
        if self.node_port:
            return f"{self.port}:{self.node_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


class _Named:
    """A namespaced object's view: its (namespace, name) key, how caches and panes index it."""

    __slots__ = ()
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ServiceView(_Named):
    namespace: str
    name: str
    uid: str
    resource_version: str
    type: str
    cluster_ip: str  # "" when unset, "None" when headless
    cluster_ips: tuple[str, ...]
    external_ips: tuple[str, ...]
    lb_ingress: tuple[str, ...]  # LoadBalancer status ingress IPs or hostnames
    external_name: str
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...]
    session_affinity: str
    affinity_timeout: int | None
    external_traffic_policy: str
    internal_traffic_policy: str
    publish_not_ready: bool
    labels: tuple[tuple[str, str], ...]
    created: datetime | None
    problems: tuple[str, ...] = ()
    raw: Obj = field(default_factory=dict, compare=False, repr=False)

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def selector_dict(self) -> dict[str, str]:
        return dict(self.selector)

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def proxied(self) -> bool:
        """Whether kube-proxy programs rules for it: not headless, not ExternalName, no service-proxy-name label."""
        return (not self.headless and self.type != "ExternalName" and bool(self.cluster_ip)
                and SERVICE_PROXY_NAME_LABEL not in self.labels_dict)

    def kubectl_ports(self) -> str:
        return ",".join(p.kubectl() for p in self.ports) or "<none>"

    def kubectl_external_ip(self) -> str:
        """kubectl's EXTERNAL-IP: the ExternalName, the LB ingress plus externalIPs, `<pending>` or `<none>`."""
        if self.type == "ExternalName":
            return self.external_name
        if self.type == "LoadBalancer":
            # kubectl keeps the ingress addresses as a sorted set, then appends spec.externalIPs
            ips = sorted(set(self.lb_ingress)) + list(self.external_ips)
            return ",".join(ips) if ips else "<pending>"
        if self.type in ("ClusterIP", "NodePort"):
            return ",".join(self.external_ips) if self.external_ips else "<none>"
        return "<unknown>"

    def kubectl_selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.selector) or "<none>"

    @classmethod
    def from_api(cls, obj: Obj) -> "ServiceView":
        meta, spec, status, problems = _parts(obj)
        ports: list[ServicePort] = []
        for i, p in enumerate(_list(spec.get("ports"))):
            if isinstance(p, Mapping) and isinstance(p.get("port"), int):
                ports.append(ServicePort.from_api(p))
            else:
                problems.append(f"spec.ports[{i}] is malformed")
        affinity_cfg = _dict(_dict(spec.get("sessionAffinityConfig")).get("clientIP"))
        timeout = affinity_cfg.get("timeoutSeconds")
        lb = []
        for ing in _list(_dict(status.get("loadBalancer")).get("ingress")):
            if isinstance(ing, Mapping):
                lb.append(_str(ing.get("ip")) or _str(ing.get("hostname")))
        cluster_ip = _str(spec.get("clusterIP"))
        return cls(
            **_identity(meta),
            type=_str(spec.get("type"), "ClusterIP"),
            cluster_ip=cluster_ip,
            cluster_ips=tuple(x for x in _list(spec.get("clusterIPs")) if isinstance(x, str)) or
            ((cluster_ip,) if cluster_ip else ()),
            external_ips=tuple(x for x in _list(spec.get("externalIPs")) if isinstance(x, str)),
            lb_ingress=tuple(x for x in lb if x),
            external_name=_str(spec.get("externalName")),
            ports=tuple(ports),
            selector=_pairs(spec.get("selector")),
            session_affinity=_str(spec.get("sessionAffinity"), "None"),
            affinity_timeout=timeout if isinstance(timeout, int) else None,
            external_traffic_policy=_str(spec.get("externalTrafficPolicy")),
            internal_traffic_policy=_str(spec.get("internalTrafficPolicy")),
            publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
            problems=tuple(problems),
            raw=obj,
        )


@dataclass(frozen=True, slots=True)
class SlicePort:
    name: str
    protocol: str
    port: int | None
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class SliceEndpoint:
    """One endpoint of one EndpointSlice, with the conditions as the API means them."""

    slice_name: str
    namespace: str
    service: str  # from the kubernetes.io/service-name label
    address_type: str  # IPv4 | IPv6 | FQDN
    addresses: tuple[str, ...]
    ports: tuple[SlicePort, ...]  # the slice's ports (every endpoint of a slice shares them)
    ready: bool | None  # None: the server did not say; consumers treat it as ready (API convention)
    serving: bool | None
    terminating: bool | None
    hostname: str | None
    node_name: str | None
    zone: str | None
    target_kind: str | None
    target_name: str | None
    target_namespace: str | None

    @property
    def is_ready(self) -> bool:
        """`ready` nil means ready (discovery/v1 docs)."""
        return self.ready is not False

    @property
    def is_serving(self) -> bool:
        """`serving` nil defers to ready."""
        return self.is_ready if self.serving is None else self.serving

    @property
    def is_terminating(self) -> bool:
        return bool(self.terminating)

    @property
    def address(self) -> str:
        return self.addresses[0] if self.addresses else ""


@dataclass(frozen=True, slots=True)
class SliceView(_Named):
    namespace: str
    name: str
    service: str
    address_type: str
    ports: tuple[SlicePort, ...]
    endpoints: tuple[SliceEndpoint, ...]
    created: datetime | None
    problems: tuple[str, ...] = ()
    raw: Obj = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, obj: Obj) -> "SliceView":
        problems: list[str] = []
        meta = _dict(obj.get("metadata"))
        labels = _dict(meta.get("labels"))
        ns, name = _str(meta.get("namespace")), _str(meta.get("name"))
        service = _str(labels.get(SERVICE_NAME_LABEL))
        address_type = _str(obj.get("addressType"))
        if address_type not in ("IPv4", "IPv6", "FQDN"):
            problems.append(f"addressType {address_type!r} is not IPv4, IPv6 or FQDN")
        ports = []
        for i, p in enumerate(_list(obj.get("ports"))):
            if not isinstance(p, Mapping):
                problems.append(f"ports[{i}] is malformed")
                continue
            port = p.get("port")
            ports.append(SlicePort(_str(p.get("name")), _str(p.get("protocol"), "TCP"),
                                   port if isinstance(port, int) else None,
                                   p.get("appProtocol") if isinstance(p.get("appProtocol"), str) else None))
        endpoints = []
        for i, e in enumerate(_list(obj.get("endpoints"))):
            if not isinstance(e, Mapping):
                problems.append(f"endpoints[{i}] is malformed")
                continue
            cond = _dict(e.get("conditions"))
            target = _dict(e.get("targetRef"))

            def flag(k: str) -> bool | None:
                v = cond.get(k)
                return v if isinstance(v, bool) else None

            endpoints.append(SliceEndpoint(
                slice_name=name, namespace=ns, service=service, address_type=address_type,
                addresses=tuple(a for a in _list(e.get("addresses")) if isinstance(a, str)),
                ports=tuple(ports),
                ready=flag("ready"), serving=flag("serving"), terminating=flag("terminating"),
                hostname=e.get("hostname") if isinstance(e.get("hostname"), str) else None,
                node_name=e.get("nodeName") if isinstance(e.get("nodeName"), str) else None,
                zone=e.get("zone") if isinstance(e.get("zone"), str) else None,
                target_kind=target.get("kind") if isinstance(target.get("kind"), str) else None,
                target_name=target.get("name") if isinstance(target.get("name"), str) else None,
                target_namespace=target.get("namespace") if isinstance(target.get("namespace"), str) else None,
            ))
        return cls(ns, name, service, address_type, tuple(ports), tuple(endpoints),
                   parse_time(_str(meta.get("creationTimestamp"))), tuple(problems), obj)


@dataclass(frozen=True, slots=True)
class PodView(_Named):
    """What svcscope needs of a pod: whether a selector matches it and why it is (not) an endpoint."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: tuple[tuple[str, str], ...]
    phase: str
    pod_ips: tuple[str, ...]
    node_name: str
    ready: bool  # the Ready condition is True
    deleting: bool  # metadata.deletionTimestamp is set: the endpoint is terminating
    hostname: str
    subdomain: str
    created: datetime | None
    problems: tuple[str, ...] = ()
    raw: Obj = field(default_factory=dict, compare=False, repr=False)
    # Container health, as kubectl's RESTARTS and STATUS show it (kube-proxy's rollout follows these).
    restarts: int = 0  # summed over the containers
    waiting_reason: str = ""  # the first waiting container's reason: CrashLoopBackOff, ContainerCreating, ...
    annotations: tuple[tuple[str, str], ...] = ()
    # (name, containerPort, protocol) of every container port the pod declares: what the trace reads of its spec,
    # so a pod kept without `raw` (PodView.lean) still resolves a Service's named targetPort.
    container_ports: tuple[tuple[str, int, str], ...] = ()
    # (namespace, name) made once: the trace's pod index files each pod under its key several times (by name, by
    # each label), and a key made per use is one more tuple per entry (8 MB at 50,000 pods).
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.namespace, self.name))

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def crash_looping(self) -> bool:
        return self.waiting_reason == "CrashLoopBackOff"

    @property
    def pod_ip(self) -> str:
        return self.pod_ips[0] if self.pod_ips else ""

    @classmethod
    def lean(cls, obj: Obj) -> "PodView":
        """The view without the pod's JSON (`raw` is empty): 50,000 pods' JSON is ~350 MB in Python, their views
        ~40 MB. For holders that read only the fields (the trace feed's pod cache)."""
        return cls.from_api(obj, keep_raw=False)

    @classmethod
    def from_api(cls, obj: Obj, keep_raw: bool = True) -> "PodView":
        # Built for every pod of a cluster (50,000 at start-up, in the trace feed): plain loops and positional
        # arguments (35 -> 12 us a pod); what many pods share (namespace, node, labels, ports) is one object.
        meta, spec, status, problems = _parts(obj)
        ips = []
        for p in _list(status.get("podIPs")):
            ip = _dict(p).get("ip")
            if type(ip) is str and ip:
                ips.append(ip)
        if not ips:
            ip = status.get("podIP")
            if type(ip) is str and ip:
                ips.append(ip)
        ready = False
        for c in _list(status.get("conditions")):
            if (type(c) is dict or isinstance(c, Mapping)) and c.get("type") == "Ready" and c.get("status") == "True":
                ready = True
                break
        restarts, waiting = 0, None
        for c in _list(status.get("containerStatuses")):
            c = _dict(c)
            n = c.get("restartCount")
            if isinstance(n, int):
                restarts += n
            if waiting is None:
                w = _dict(c.get("state")).get("waiting")
                if w is not None:
                    waiting = _word(_str(_dict(w).get("reason")))
        intern = sys.intern
        return cls(
            intern(_str(meta.get("namespace"))), _str(meta.get("name")), _str(meta.get("uid")),
            _str(meta.get("resourceVersion")), _shared_pairs(meta.get("labels")), _word(_str(status.get("phase"))),
            tuple(ips), _word(_str(spec.get("nodeName"))), ready, bool(meta.get("deletionTimestamp")),
            _word(_str(spec.get("hostname"))), _word(_str(spec.get("subdomain"))),
            parse_time(_str(meta.get("creationTimestamp"))), tuple(problems), obj if keep_raw else _NO_RAW,
            restarts, waiting or "", _shared_pairs(meta.get("annotations")), _container_ports(spec))


class _NoRaw(Mapping):
    """The `raw` of a lean view: empty, read-only, one object (lean views compare `raw is`; pickles as itself)."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __reduce__(self) -> str:
        return "_NO_RAW"


_NO_RAW: Obj = _NoRaw()
_SHARED: dict[tuple, tuple] = {}  # equal tuples of many views (labels, ports) as one object; bounded below
_SHARED_MAX = 50_000


def _share(t: tuple) -> tuple:
    """One object for equal tuples: the 5 pods of a ReplicaSet share their labels and ports. Cleared when full,
    so it holds at most _SHARED_MAX tuples whatever the pods churn (the views keep theirs)."""
    if not t:
        return ()
    got = _SHARED.get(t)
    if got is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        got = _SHARED[t] = t
    return got


def _word(text: str) -> str:
    """Interned when short (a phase, a node, a label): many views, one string. Interned strings are still freed
    when the last view holding them goes."""
    return sys.intern(text) if len(text) <= 64 else text


def share_strings(obj: Any) -> None:
    """Make the short strings of an API object's JSON one object each, in place (`json` makes a new string for
    every value: 10,000 EndpointSlices repeat "Pod", their namespace, node and zone per endpoint, 19 MB of 34).
    Each value is replaced by an equal string, so no reader, in any thread, can tell (nor does any dict or list
    change size)."""
    kind = type(obj)
    if kind is not dict and kind is not list:
        return
    for k, v in (obj.items() if kind is dict else enumerate(obj)):  # replacing values in place is safe mid-loop
        t = type(v)
        if t is str:
            if len(v) <= 64:
                obj[k] = sys.intern(v)
        elif t is dict or t is list:
            share_strings(v)


def _shared_pairs(v: Any) -> tuple[tuple[str, str], ...]:
    """_pairs, with the strings interned and the tuple shared."""
    if not v:
        return ()
    return _share(tuple(sorted((_word(str(k)), _word(str(x))) for k, x in _dict(v).items())))


def _container_ports(spec: dict[str, Any]) -> tuple[tuple[str, int, str], ...]:
    out = []
    for c in _list(spec.get("containers")):
        for p in _list(_dict(c).get("ports")):
            if isinstance(p, Mapping) and isinstance(p.get("containerPort"), int):
                out.append((_word(_str(p.get("name"))), p["containerPort"], _word(_str(p.get("protocol")) or "TCP")))
    return _share(tuple(out))
