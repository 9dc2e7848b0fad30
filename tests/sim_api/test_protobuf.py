"""The protobuf decoder's rules that kubectl's own commands do not reach (those are in tests/kubectl)."""

from __future__ import annotations

import pytest

from tui.sim import protobuf


def field(num: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    return varint(num << 3 | 2) + varint(len(value)) + value


def varint(v: int) -> bytes:
    out = b""
    while True:
        b, v = v & 0x7F, v >> 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version.encode()) + field(2, kind.encode())) + field(2, raw)


def test_zero_valued_fields_are_absent_except_pointers() -> None:
    spec = field(1, 0) + field(5, 0)  # replicas=0 (a pointer: kept), minReadySeconds=0 (omitempty: dropped)
    obj = protobuf.decode(envelope("apps/v1", "Deployment", field(1, field(1, b"web")) + field(2, spec)))
    assert obj == {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "web"},
                   "spec": {"replicas": 0}}


def test_unknown_fields_refuse_unless_empty() -> None:
    empty_unknown = field(1, field(1, b"web") + field(99, b""))
    assert protobuf.decode(envelope("v1", "ConfigMap", empty_unknown))["metadata"] == {"name": "web"}
    with pytest.raises(protobuf.UnsupportedProtobuf, match="ObjectMeta field 99"):
        protobuf.decode(envelope("v1", "ConfigMap", field(1, field(1, b"web") + field(99, b"x"))))


def test_int_or_string_and_negative_numbers() -> None:
    port = field(3, 80) + field(4, field(1, 1) + field(3, b"http")) + field(5, (1 << 64) - 1)
    obj = protobuf.decode(envelope("v1", "Service", field(2, field(1, port))))
    assert obj["spec"]["ports"] == [{"port": 80, "targetPort": "http", "nodePort": -1}]


def test_not_protobuf_or_not_decodable() -> None:
    for body in (b"{}", b"k8s\x00\x0a", envelope("v1", "Secret", b"")):
        with pytest.raises(protobuf.UnsupportedProtobuf):
            protobuf.decode(body)
