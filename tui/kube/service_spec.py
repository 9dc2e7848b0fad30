"""What a user asks for when creating a Service: the wizard's fields and the one-shot's flags, as one model.

`ServiceSpec.manifest()` is the exact object that is sent, its keys in the order the API's Go types declare them
(kubectl's `-o json` order; `to_yaml` sorts them as kubectl's `-o yaml` does). `validate()` answers with the
apiserver's own field paths and words by running tui.kube.validation on the manifest the apiserver would see after
defaulting, so the wizard and the simulated cluster can never disagree about a rule. `from_kubectl_args` builds the
spec `kubectl create service ...` would, defaults and quirks included.

No I/O and no Textual here (tui.kube.service_ops sends it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Container, Iterable, Sequence

import yaml

from tui.kube import validation as v

# The wizard's kinds: a headless Service is a ClusterIP Service with clusterIP None.
CLUSTER_IP, HEADLESS, NODE_PORT, LOAD_BALANCER, EXTERNAL_NAME = (
    "ClusterIP", "Headless", "NodePort", "LoadBalancer", "ExternalName")
KINDS = (CLUSTER_IP, HEADLESS, NODE_PORT, LOAD_BALANCER, EXTERNAL_NAME)
# `svcscope create service <word>`: kubectl's subcommand words, plus `headless`.
KUBECTL_WORDS = {"clusterip": CLUSTER_IP, "headless": HEADLESS, "nodeport": NODE_PORT,
                 "loadbalancer": LOAD_BALANCER, "externalname": EXTERNAL_NAME}

PortValue = int | str | None  # an int, or the text typed when it is not one (validation names it), or unset


@dataclass
class PortSpec:
    port: PortValue = None
    target_port: PortValue = None  # a number or a named container port; None: the server uses `port`
    name: str = ""
    protocol: str = "TCP"
    node_port: PortValue = None  # None: the server allocates one (NodePort, LoadBalancer)

    def manifest(self, with_node_port: bool) -> dict[str, Any]:
        """The port in ServicePort's field order: name, protocol, port, targetPort, nodePort."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        out["protocol"] = self.protocol or "TCP"
        out["port"] = 0 if self.port is None else self.port
        if self.target_port not in (None, ""):
            out["targetPort"] = self.target_port
        if with_node_port and self.node_port not in (None, "", 0):
            out["nodePort"] = self.node_port
        return out


@dataclass
class ServiceSpec:
    name: str = ""
    namespace: str = ""  # "" leaves metadata.namespace out (the connection's namespace is used)
    kind: str = CLUSTER_IP
    selector: dict[str, str] = field(default_factory=dict)
    ports: list[PortSpec] = field(default_factory=list)
    cluster_ip: str = ""  # "" lets the server allocate; "None" is headless (HEADLESS sets it)
    session_affinity: str = "None"
    affinity_timeout: PortValue = None  # seconds; None: the server's default (10800)
    external_traffic_policy: str = ""  # "" : the server's default (Cluster) where it applies
    internal_traffic_policy: str = ""
    external_ips: list[str] = field(default_factory=list)
    load_balancer_source_ranges: list[str] = field(default_factory=list)
    load_balancer_class: str = ""
    external_name: str = ""
    publish_not_ready_addresses: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    # -- what applies to which kind (the wizard hides the rest; the manifest leaves it out) ---------------------

    @property
    def service_type(self) -> str:
        return CLUSTER_IP if self.kind == HEADLESS else self.kind

    @property
    def effective_cluster_ip(self) -> str:
        if self.kind == HEADLESS:
            return "None"
        return "" if self.kind == EXTERNAL_NAME else self.cluster_ip.strip()

    def uses(self, what: str) -> bool:
        """Whether a field means anything for this kind: selector, ports, nodePort, clusterIP, affinity,
        externalTrafficPolicy, internalTrafficPolicy, externalIPs, loadBalancer, externalName, publishNotReady."""
        k = self.kind
        return {
            "selector": k != EXTERNAL_NAME,
            "ports": True,
            "nodePort": k in (NODE_PORT, LOAD_BALANCER),
            "clusterIP": k in (CLUSTER_IP, NODE_PORT, LOAD_BALANCER),
            "affinity": k != EXTERNAL_NAME,
            "externalTrafficPolicy": k in (NODE_PORT, LOAD_BALANCER) or (k == CLUSTER_IP and bool(self.external_ips)),
            "internalTrafficPolicy": k != EXTERNAL_NAME,
            "externalIPs": k in (CLUSTER_IP, NODE_PORT, LOAD_BALANCER),
            "loadBalancer": k == LOAD_BALANCER,
            "externalName": k == EXTERNAL_NAME,
            "publishNotReady": k != EXTERNAL_NAME,
        }[what]

    # -- the object sent ----------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The Service object, keys in the Go types' order (ObjectMeta, then ServiceSpec as declared)."""
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        if self.labels:
            meta["labels"] = dict(self.labels)
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        spec: dict[str, Any] = {}
        if self.ports:
            spec["ports"] = [p.manifest(self.uses("nodePort")) for p in self.ports]
        if self.selector:  # kubectl sets one on ExternalName Services too (the wizard hides it there)
            spec["selector"] = dict(self.selector)
        if self.effective_cluster_ip:
            spec["clusterIP"] = self.effective_cluster_ip
        spec["type"] = self.service_type
        if self.external_ips and self.uses("externalIPs"):
            spec["externalIPs"] = list(self.external_ips)
        if self.session_affinity and self.session_affinity != "None" and self.uses("affinity"):
            spec["sessionAffinity"] = self.session_affinity
        if self.load_balancer_source_ranges and self.uses("loadBalancer"):
            spec["loadBalancerSourceRanges"] = list(self.load_balancer_source_ranges)
        if self.kind == EXTERNAL_NAME:
            spec["externalName"] = self.external_name
        if self.external_traffic_policy and self.uses("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = self.external_traffic_policy
        if self.publish_not_ready_addresses and self.uses("publishNotReady"):
            spec["publishNotReadyAddresses"] = True
        if spec.get("sessionAffinity") == "ClientIP" and self.affinity_timeout not in (None, ""):
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": self.affinity_timeout}}
        if self.load_balancer_class and self.uses("loadBalancer"):
            spec["loadBalancerClass"] = self.load_balancer_class
        if self.internal_traffic_policy and self.uses("internalTrafficPolicy"):
            spec["internalTrafficPolicy"] = self.internal_traffic_policy
        return {"kind": "Service", "apiVersion": "v1", "metadata": meta, "spec": spec}

    def to_yaml(self) -> str:
        return to_yaml(self.manifest())

    def to_json(self) -> str:
        return json.dumps(self.manifest(), indent=4) + "\n"

    # -- checks ------------------------------------------------------------------------------------------------

    def field_errors(self, taken_node_ports: Container[int] = (),
                     node_port_range: tuple[int, int] = v.NODE_PORT_RANGE) -> list[v.FieldError]:
        """Every error the apiserver would answer a create with: validation (422) on the defaulted object, then the
        allocator's nodePort checks against `taken_node_ports` (from the live Services)."""
        obj = self.manifest()
        # The registry allocates healthCheckNodePort (LoadBalancer, Local) before validating: not the user's to set.
        errs = [e for e in v.validate_service(v.default_service(obj))
                if not (e.field == "spec.healthCheckNodePort" and e.reason == v.REQUIRED)]
        if self.uses("nodePort"):
            for i, p in enumerate(obj["spec"].get("ports", [])):
                if "nodePort" in p and isinstance(p["nodePort"], int):
                    path = f"spec.ports[{i}].nodePort"
                    if not any(e.field == path for e in errs):
                        errs += v.check_node_port(p["nodePort"], path, taken_node_ports, node_port_range)
        return errs

    def validate(self, taken_node_ports: Container[int] = (),
                 node_port_range: tuple[int, int] = v.NODE_PORT_RANGE) -> dict[str, str]:
        """The apiserver's field path -> its message (several for one path joined by "; "); empty when valid.

        Paths are the apiserver's own (`spec.clusterIPs[0]`, `spec.ports[1]` for a duplicate port); `field_of`
        names the field a user edits for each. A blank targetPort is not blamed for the port the server copies
        into it."""
        out: dict[str, str] = {}
        blank_targets = {f"spec.ports[{i}].targetPort" for i, p in enumerate(self.ports)
                         if p.target_port in (None, "")}
        for e in self.field_errors(taken_node_ports, node_port_range):
            if e.field in blank_targets:
                continue  # the server copied `port` into it: the error is already on the port
            out[e.field] = f"{out[e.field]}; {e.message}" if e.field in out else e.message
        return out

    def is_valid(self, taken_node_ports: Container[int] = ()) -> bool:
        return not self.field_errors(taken_node_ports)


def field_of(path: str) -> str:
    """The field a user edits for an apiserver error path (see ServiceSpec.validate)."""
    if path.startswith("spec.ports[") and path.endswith("]"):
        return path + ".port"
    if path.startswith("spec.clusterIPs"):
        return "spec.clusterIP"
    if path.startswith("spec.LoadBalancerSourceRanges"):
        return "spec.loadBalancerSourceRanges" + path[len("spec.LoadBalancerSourceRanges"):]
    if path.startswith("spec.sessionAffinityConfig"):
        return "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    if path == "allocateLoadBalancerNodePorts":
        return "spec.allocateLoadBalancerNodePorts"
    return path


# -- YAML as kubectl prints it -------------------------------------------------------------------------------------

class _KubectlDumper(yaml.SafeDumper):
    """go-yaml's look: keys sorted, list items flush with their key, strings quoted with double quotes."""

    def choose_scalar_style(self):  # type: ignore[no-untyped-def]
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def to_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False, allow_unicode=True,
                     width=10_000)


# -- kubectl's create service ---------------------------------------------------------------------------------------

class KubectlArgsError(ValueError):
    """What kubectl itself refuses before sending anything (its words)."""


def parse_tcp(specs: Iterable[str]) -> list[tuple[str, int, int | str]]:
    """`--tcp=PORT[:TARGET]` values (each may hold several, comma-separated): (text, port, targetPort), as
    kubectl's parsePorts reads them."""
    out: list[tuple[str, int, int | str]] = []
    for spec in specs:
        for text in spec.split(","):
            if not text:
                continue
            port_text, _, target_text = text.partition(":")
            port = _parse_uint16(port_text)
            if not target_text:
                target: int | str = port
            elif target_text.isdigit():
                target = int(target_text)
            else:
                target = target_text
            out.append((text, port, target))
    return out


def _parse_uint16(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        reason = "value out of range" if text.isdigit() else "invalid syntax"
        raise KubectlArgsError(f'strconv.ParseUint: parsing "{text}": {reason}')
    return int(text)


def parse_map(text: str, what: str = "selector") -> dict[str, str]:
    """`k=v,k2=v2` into a map; an entry without `=` is refused in one sentence."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq:
            raise KubectlArgsError(f"invalid {what} {part!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def from_kubectl_args(word: str, name: str, tcp: Sequence[str] = (), node_port: int = 0, cluster_ip: str = "",
                      external_name: str = "", selector: str | None = None, session_affinity: str = "",
                      timeout: int | None = None, namespace: str = "") -> ServiceSpec:
    """The spec `kubectl create service WORD NAME ...` builds: label and selector app=NAME, ports named after
    their flag (`80:8080` -> `80-8080`), `--node-port` on every port, TCP. `--selector`, `--session-affinity`
    and `--timeout` are svcscope's additions; `headless` is `clusterip --clusterip=None`."""
    kind = KUBECTL_WORDS.get(word)
    if kind is None:
        raise KubectlArgsError(f"unknown Service type {word!r}: one of {', '.join(KUBECTL_WORDS)}")
    if kind == HEADLESS:
        if cluster_ip not in ("", "None"):
            raise KubectlArgsError("a headless Service has clusterIP None: drop --clusterip")
        cluster_ip = "None"
    if kind == EXTERNAL_NAME and not external_name:
        raise KubectlArgsError('required flag(s) "external-name" not set')
    if kind == EXTERNAL_NAME and v.is_dns1123_subdomain(external_name):
        raise KubectlArgsError(f"invalid service external name {external_name}")  # kubectl checks it itself
    parsed = parse_tcp(tcp)
    if not parsed and kind in (CLUSTER_IP, HEADLESS, NODE_PORT, LOAD_BALANCER) and cluster_ip != "None":
        raise KubectlArgsError("at least one tcp port specifier must be provided")
    ports = [PortSpec(port=port, target_port=target, name=text.replace(":", "-"), protocol="TCP",
                      node_port=node_port or None) for text, port, target in parsed]
    spec = ServiceSpec(name=name, namespace=namespace, kind=kind, ports=ports, labels={"app": name},
                       selector=parse_map(selector) if selector is not None else {"app": name},
                       cluster_ip=cluster_ip if kind != HEADLESS else "", external_name=external_name)
    if session_affinity:
        spec.session_affinity = session_affinity
        spec.affinity_timeout = timeout
    elif timeout is not None:
        raise KubectlArgsError("--timeout needs --session-affinity=ClientIP")
    return spec
