"""Just enough of the Kubernetes protobuf encoding for kubectl's imperative `create` commands.

`kubectl create namespace|configmap|service ...|deployment` always sends `application/vnd.kubernetes.protobuf`
(the `k8s\\x00` magic, a runtime.Unknown envelope, the object in gogo-protobuf's proto2 encoding), whatever the
server prefers, so a JSON-only server would make an admin's first `kubectl create ns test` fail. This decodes
those objects into the JSON the apiserver would have seen. Field numbers are k8s.io/api's generated.proto; the
tests check every command against kubectl's own `--dry-run=client -o json` of it.

gogo writes every non-pointer field, zero or not; Go's JSON omits them (`omitempty`), so zero values are dropped
here except for the pointer fields in KEEP_ZERO. A non-empty field this schema does not know raises
UnsupportedProtobuf, so an object is never stored with something silently missing.
"""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"


class UnsupportedProtobuf(ValueError):
    """A protobuf body this decoder cannot turn into JSON faithfully."""


# A field: (json name, type). Types: "string", "int", "bool", "bytes", "IntOrString", "skip" (server-set or
# status: ignored), ("map", value type), ("list", type), or the name of a message in MESSAGES.
Field = tuple[str, Any]

MESSAGES: dict[str, dict[int, Field]] = {
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   4: ("selfLink", "skip"), 5: ("uid", "skip"), 6: ("resourceVersion", "skip"),
                   7: ("generation", "skip"), 8: ("creationTimestamp", "skip"), 9: ("deletionTimestamp", "skip"),
                   10: ("deletionGracePeriodSeconds", "skip"), 11: ("labels", ("map", "string")),
                   12: ("annotations", ("map", "string")), 14: ("finalizers", ("list", "string")),
                   17: ("managedFields", "skip")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"), 3: ("status", "skip")},
    "NamespaceSpec": {1: ("finalizers", ("list", "string"))},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", ("map", "string")),
                  3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec"), 3: ("status", "skip")},
    "ServiceSpec": {1: ("ports", ("list", "ServicePort")), 2: ("selector", ("map", "string")),
                    3: ("clusterIP", "string"), 4: ("type", "string"), 5: ("externalIPs", ("list", "string")),
                    7: ("sessionAffinity", "string"), 8: ("loadBalancerIP", "string"),
                    9: ("loadBalancerSourceRanges", ("list", "string")), 10: ("externalName", "string"),
                    11: ("externalTrafficPolicy", "string"), 12: ("healthCheckNodePort", "int"),
                    13: ("publishNotReadyAddresses", "bool"), 17: ("ipFamilyPolicy", "string"),
                    18: ("clusterIPs", ("list", "string")), 19: ("ipFamilies", ("list", "string")),
                    20: ("allocateLoadBalancerNodePorts", "bool"), 21: ("loadBalancerClass", "string"),
                    22: ("internalTrafficPolicy", "string"), 23: ("trafficDistribution", "string")},
    "ServicePort": {1: ("name", "string"), 2: ("protocol", "string"), 3: ("port", "int"),
                    4: ("targetPort", "IntOrString"), 5: ("nodePort", "int"), 6: ("appProtocol", "string")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec"), 3: ("status", "skip")},
    "DeploymentSpec": {1: ("replicas", "int"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
                       4: ("strategy", "DeploymentStrategy"), 5: ("minReadySeconds", "int"),
                       6: ("revisionHistoryLimit", "int"), 7: ("paused", "bool"),
                       9: ("progressDeadlineSeconds", "int")},
    "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
    "LabelSelector": {1: ("matchLabels", ("map", "string")),
                      2: ("matchExpressions", ("list", "LabelSelectorRequirement"))},
    "LabelSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", ("list", "string"))},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", ("list", "Container")), 3: ("restartPolicy", "string"),
                4: ("terminationGracePeriodSeconds", "int"), 5: ("activeDeadlineSeconds", "int"),
                6: ("dnsPolicy", "string"), 7: ("nodeSelector", ("map", "string")),
                8: ("serviceAccountName", "string"), 9: ("serviceAccount", "string"), 10: ("nodeName", "string"),
                11: ("hostNetwork", "bool"), 12: ("hostPID", "bool"), 13: ("hostIPC", "bool"),
                16: ("hostname", "string"), 17: ("subdomain", "string"), 19: ("schedulerName", "string"),
                24: ("priorityClassName", "string")},
    "Container": {1: ("name", "string"), 2: ("image", "string"), 3: ("command", ("list", "string")),
                  4: ("args", ("list", "string")), 5: ("workingDir", "string"),
                  6: ("ports", ("list", "ContainerPort")), 7: ("env", ("list", "EnvVar")),
                  8: ("resources", "ResourceRequirements"), 13: ("terminationMessagePath", "string"),
                  14: ("imagePullPolicy", "string"), 16: ("stdin", "bool"), 17: ("stdinOnce", "bool"),
                  18: ("tty", "bool"), 20: ("terminationMessagePolicy", "string")},
    "ContainerPort": {1: ("name", "string"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                      4: ("protocol", "string"), 5: ("hostIP", "string")},
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {1: ("limits", ("map", "Quantity")), 2: ("requests", ("map", "Quantity"))},
    "Quantity": {1: ("string", "string")},
    "IntOrString": {1: ("type", "int"), 2: ("intVal", "int"), 3: ("strVal", "string")},
}
# Pointer fields, where a zero is a value the user gave (kubectl create deployment --replicas=0).
KEEP_ZERO = {("DeploymentSpec", "replicas"), ("ConfigMap", "immutable")}
KINDS = {"Namespace", "ConfigMap", "Service", "Deployment"}


def _varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(b):
            raise UnsupportedProtobuf("truncated varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return result, i


def _fields(b: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: varints as ints, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(b, i)
            out.append((num, v))
        elif wire == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise UnsupportedProtobuf("truncated field")
            out.append((num, b[i:i + n]))
            i += n
        else:
            raise UnsupportedProtobuf(f"wire type {wire} is not used by Kubernetes objects")
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v  # proto2 int32/int64 are two's complement varints


def _is_zero(v: Any) -> bool:
    return v in ("", 0, False, None) or v == {} or v == []


def _scalar(t: str, v: int | bytes, where: str) -> Any:
    if t == "string":
        if not isinstance(v, bytes):
            raise UnsupportedProtobuf(f"{where}: expected a string")
        return v.decode("utf-8")
    if t == "bytes":
        if not isinstance(v, bytes):
            raise UnsupportedProtobuf(f"{where}: expected bytes")
        return base64.b64encode(v).decode()
    if t == "int":
        if not isinstance(v, int):
            raise UnsupportedProtobuf(f"{where}: expected a number")
        return _signed(v)
    if t == "bool":
        if not isinstance(v, int):
            raise UnsupportedProtobuf(f"{where}: expected a bool")
        return bool(v)
    if t == "IntOrString":
        if not isinstance(v, bytes):
            raise UnsupportedProtobuf(f"{where}: expected an IntOrString")
        ios = decode_message(v, "IntOrString", where)
        return ios.get("strVal", "") if ios.get("type") == 1 else ios.get("intVal", 0)
    if not isinstance(v, bytes):
        raise UnsupportedProtobuf(f"{where}: expected a {t} message")
    decoded = decode_message(v, t, where)
    return decoded.get("string", "") if t == "Quantity" else decoded


def decode_message(b: bytes, message: str, where: str = "") -> dict[str, Any]:
    schema = MESSAGES[message]
    out: dict[str, Any] = {}
    for num, raw in _fields(b):
        spec = schema.get(num)
        if spec is None:
            if _is_zero(raw if isinstance(raw, int) else (raw or None)):
                continue  # a zero-valued field gogo wrote: as good as absent
            raise UnsupportedProtobuf(f"{message} field {num}{' in ' + where if where else ''} is not supported")
        name, t = spec
        path = f"{where}.{name}" if where else name
        if t == "skip":
            continue
        if isinstance(t, tuple) and t[0] == "list":
            out.setdefault(name, []).append(_scalar(t[1], raw, path))
        elif isinstance(t, tuple) and t[0] == "map":
            if not isinstance(raw, bytes):
                raise UnsupportedProtobuf(f"{path}: expected a map entry")
            entry = dict(_fields(raw))
            key = entry.get(1, b"")
            out.setdefault(name, {})[_scalar("string", key, path)] = _scalar(t[1], entry.get(2, b"" if t[1] != "int" else 0), path)
        else:
            value = _scalar(t, raw, path)
            if _is_zero(value) and (message, name) not in KEEP_ZERO:
                continue
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A `k8s\\x00`-framed body as the JSON object it carries; UnsupportedProtobuf when it cannot be done fully."""
    if not body.startswith(MAGIC):
        raise UnsupportedProtobuf("the body does not start with the Kubernetes protobuf magic number")
    envelope = dict(_fields(body[len(MAGIC):]))  # runtime.Unknown: typeMeta, raw, contentEncoding, contentType
    type_meta = decode_message(envelope[1], "TypeMeta") if isinstance(envelope.get(1), bytes) else {}
    kind, api_version = type_meta.get("kind", ""), type_meta.get("apiVersion", "")
    if envelope.get(3):
        raise UnsupportedProtobuf("compressed protobuf bodies are not supported")
    if kind not in KINDS:
        raise UnsupportedProtobuf(f"{kind or 'this kind'} in protobuf is not supported")
    raw = envelope.get(2, b"")
    if not isinstance(raw, bytes):
        raise UnsupportedProtobuf("the envelope carries no object")
    return {"kind": kind, "apiVersion": api_version, **decode_message(raw, kind)}
