"""Decoding a request body as the apiserver's JSON decoder does: type errors, unknown fields, `fieldValidation`.

The apiserver decodes JSON into Go structs before anything else: a value of the wrong JSON type fails the request
(`json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32`), and a field the
struct does not have is dropped, warned about (fieldValidation=Warn, the default) or refused (Strict, which
kubectl sends): `strict decoding error: unknown field "spec.foo"`. Both are 400 BadRequest worded
`Service in version "v1" cannot be handled as a Service: ...`, and both come before validation (422).

The schemas cover Service fully and, for the other kinds, the top level and `metadata`; whatever has no schema
here is accepted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

# A field type: a scalar name ("string", "int32", "int64", "bool", "Time", "IntOrString", "any"), a Struct, a
# ("list", T) or a ("map", T) (map[string]T).
FieldType = Union[str, "Struct", tuple]


@dataclass(frozen=True)
class Struct:
    name: str  # the Go type name, which Go's type errors quote
    fields: dict[str, Any] = field(default_factory=dict)


def _list(t: FieldType) -> tuple:
    return ("list", t)


def _map(t: FieldType) -> tuple:
    return ("map", t)


OWNER_REFERENCE = Struct("OwnerReference", {
    "apiVersion": "string", "kind": "string", "name": "string", "uid": "string", "controller": "bool",
    "blockOwnerDeletion": "bool"})
MANAGED_FIELDS = Struct("ManagedFieldsEntry", {
    "manager": "string", "operation": "string", "apiVersion": "string", "time": "Time", "fieldsType": "string",
    "fieldsV1": "any", "subresource": "string"})
OBJECT_META = Struct("ObjectMeta", {
    "name": "string", "generateName": "string", "namespace": "string", "selfLink": "string", "uid": "string",
    "resourceVersion": "string", "generation": "int64", "creationTimestamp": "Time", "deletionTimestamp": "Time",
    "deletionGracePeriodSeconds": "int64", "labels": _map("string"), "annotations": _map("string"),
    "ownerReferences": _list(OWNER_REFERENCE), "finalizers": _list("string"), "managedFields": _list(MANAGED_FIELDS)})

SERVICE_PORT = Struct("ServicePort", {
    "name": "string", "protocol": "string", "appProtocol": "string", "port": "int32", "targetPort": "IntOrString",
    "nodePort": "int32"})
SERVICE_SPEC = Struct("ServiceSpec", {
    "ports": _list(SERVICE_PORT), "selector": _map("string"), "clusterIP": "string", "clusterIPs": _list("string"),
    "type": "string", "externalIPs": _list("string"), "sessionAffinity": "string", "loadBalancerIP": "string",
    "loadBalancerSourceRanges": _list("string"), "externalName": "string", "externalTrafficPolicy": "string",
    "healthCheckNodePort": "int32", "publishNotReadyAddresses": "bool",
    "sessionAffinityConfig": Struct("SessionAffinityConfig", {
        "clientIP": Struct("ClientIPConfig", {"timeoutSeconds": "int32"})}),
    "ipFamilies": _list("string"), "ipFamilyPolicy": "string", "allocateLoadBalancerNodePorts": "bool",
    "loadBalancerClass": "string", "internalTrafficPolicy": "string", "trafficDistribution": "string"})
SERVICE_STATUS = Struct("ServiceStatus", {
    "loadBalancer": Struct("LoadBalancerStatus", {"ingress": _list(Struct("LoadBalancerIngress", {
        "ip": "string", "hostname": "string", "ipMode": "string",
        "ports": _list(Struct("PortStatus", {"port": "int32", "protocol": "string", "error": "string"}))}))}),
    "conditions": _list(Struct("Condition", {
        "type": "string", "status": "string", "observedGeneration": "int64", "lastTransitionTime": "Time",
        "reason": "string", "message": "string"}))})


def _top(kind: str, **fields: FieldType) -> Struct:
    return Struct(kind, {"apiVersion": "string", "kind": "string", "metadata": OBJECT_META, **fields})


SCHEMAS: dict[str, Struct] = {
    "Service": _top("Service", spec=SERVICE_SPEC, status=SERVICE_STATUS),
    "ConfigMap": _top("ConfigMap", data=_map("string"), binaryData=_map("string"), immutable="bool"),
    "EndpointSlice": _top("EndpointSlice", addressType="string", endpoints=_list("any"), ports=_list("any")),
    "Namespace": _top("Namespace", spec="any", status="any"),
    "Node": _top("Node", spec="any", status="any"),
    "Pod": _top("Pod", spec="any", status="any"),
    "Deployment": _top("Deployment", spec="any", status="any"),
    "DaemonSet": _top("DaemonSet", spec="any", status="any"),
    "Event": _top("Event", involvedObject="any", reason="string", message="string", source="any",
                  firstTimestamp="Time", lastTimestamp="Time", count="int32", type="string", eventTime="any",
                  series="any", action="string", related="any", reportingComponent="string",
                  reportingInstance="string"),
}

_INT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int64": (-(2 ** 63), 2 ** 63 - 1)}
_GO_TYPES = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool", "Time": "v1.Time",
             "IntOrString": "intstr.IntOrString"}


class DecodeError(ValueError):
    """The body does not decode into the kind's Go type; the message is Go's."""


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return f"number {v}"
    if isinstance(v, int):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


@dataclass
class _Walk:
    unknown: list[str] = field(default_factory=list)
    type_error: str | None = None

    def fail(self, value: Any, struct: str, path: str, go_type: str) -> None:
        if self.type_error is None:  # Go reports the first one
            what = _json_kind(value)
            if isinstance(value, int) and not isinstance(value, bool) and go_type in _INT_RANGES:
                what = f"number {value}"  # out of range: Go quotes the number
            self.type_error = f"json: cannot unmarshal {what} into Go struct field {struct}.{path} of type {go_type}"

    def value(self, v: Any, t: FieldType, struct: str, path: str, shown: str) -> Any:
        """Check `v` against `t`; returns it with unknown fields pruned. `path` has no indexes (Go's type errors),
        `shown` has them (strict errors)."""
        if v is None or t == "any":
            return v
        if isinstance(t, Struct):
            if not isinstance(v, dict):
                self.fail(v, struct, path, f"v1.{t.name}")
                return v
            return self.struct(v, t, path, shown)
        if isinstance(t, tuple):
            kind, inner = t
            if kind == "list":
                if not isinstance(v, list):
                    self.fail(v, struct, path, f"[]{_go_name(inner)}")
                    return v
                return [self.value(x, inner, struct, path, f"{shown}[{i}]") for i, x in enumerate(v)]
            if not isinstance(v, dict):
                self.fail(v, struct, path, f"map[string]{_go_name(inner)}")
                return v
            return {k: self.value(x, inner, struct, path, f"{shown}.{k}") for k, x in v.items()}
        if t == "string" or t == "Time":
            if not isinstance(v, str):
                self.fail(v, struct, path, _GO_TYPES[t])
        elif t == "bool":
            if not isinstance(v, bool):
                self.fail(v, struct, path, "bool")
        elif t in _INT_RANGES:
            lo, hi = _INT_RANGES[t]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                self.fail(v, struct, path, t)
        elif t == "IntOrString":
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                self.fail(v, struct, path, "intstr.IntOrString")
        return v

    def struct(self, obj: dict[str, Any], s: Struct, path: str, shown: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, v in obj.items():
            sub = f"{path}.{key}" if path else key
            sub_shown = f"{shown}.{key}" if shown else key
            if key not in s.fields:
                self.unknown.append(sub_shown)
                continue
            out[key] = self.value(v, s.fields[key], s.name, sub, sub_shown)
        return out


def _go_name(t: FieldType) -> str:
    if isinstance(t, Struct):
        return f"v1.{t.name}"
    if isinstance(t, tuple):
        return ("[]" if t[0] == "list" else "map[string]") + _go_name(t[1])
    return _GO_TYPES.get(t, "interface {}")


@dataclass
class Decoded:
    obj: dict[str, Any]
    warnings: list[str]


def decode(kind: str, api_version: str, obj: dict[str, Any], field_validation: str) -> Decoded:
    """Decode `obj` as the apiserver would for `fieldValidation` ("" means Warn, its default).

    Raises DecodeError with the full apiserver message on a type error, or on unknown fields under Strict.
    """
    schema = SCHEMAS.get(kind)
    if schema is None:
        return Decoded(obj, [])
    walk = _Walk()
    pruned = walk.struct(obj, schema, "", "")
    version = api_version.rsplit("/", 1)[-1]
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    if walk.type_error:
        raise DecodeError(prefix + walk.type_error)
    if walk.unknown and field_validation == "Strict":
        raise DecodeError(prefix + "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in walk.unknown))
    warnings = [f'unknown field "{u}"' for u in walk.unknown] if field_validation in ("", "Warn") else []
    return Decoded(pruned, warnings)
