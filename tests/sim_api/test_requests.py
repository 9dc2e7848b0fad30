"""Malformed and unusual requests: each gets a proper Status, never a traceback or an HTML page."""

from __future__ import annotations

import json

import pytest
import urllib3

from tui.sim.cluster import SimCluster


@pytest.fixture
def http(sim: SimCluster):
    pool = urllib3.PoolManager()

    def request(method: str, path: str, body: bytes | str | None = None, **headers: str) -> tuple[int, dict]:
        h = {"Authorization": "Bearer svcscope-demo-token", **{k.replace("_", "-"): v for k, v in headers.items()}}
        resp = pool.request(method, sim.url + path, body=body, headers=h, retries=False)
        return resp.status, json.loads(resp.data)

    request("POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": "dev"}}))
    return request


def test_malformed_json_is_400(http) -> None:
    code, status = http("POST", "/api/v1/namespaces/dev/services", "{not json")
    assert code == 400 and status["kind"] == "Status" and status["reason"] == "BadRequest"
    assert status["message"].startswith("couldn't get version/kind; json parse error")


def test_body_must_be_an_object_of_the_right_kind(http) -> None:
    code, status = http("POST", "/api/v1/namespaces/dev/services", "[1, 2]")
    assert code == 400 and status["reason"] == "BadRequest"
    code, status = http("POST", "/api/v1/namespaces/dev/services",
                        json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}))
    assert code == 400
    assert status["message"] == "the API version in the data (apps/v1) does not match the expected API version (v1)"
    code, status = http("POST", "/api/v1/namespaces/dev/services",
                        json.dumps({"metadata": {"name": "x", "namespace": "other"}}))
    assert code == 400
    assert status["message"] == ("the namespace of the provided object does not match the namespace sent on the "
                                 "request")


def test_missing_content_type_is_json_and_yaml_is_accepted(http) -> None:
    code, obj = http("POST", "/api/v1/namespaces/dev/configmaps", json.dumps({"metadata": {"name": "a"}}))
    assert code == 201 and obj["metadata"]["name"] == "a"
    code, obj = http("POST", "/api/v1/namespaces/dev/configmaps", "metadata:\n  name: b\ndata:\n  k: v\n",
                     Content_Type="application/yaml")
    assert code == 201 and obj["data"] == {"k": "v"}


def test_protobuf_and_apply_patch_are_415(http) -> None:
    code, status = http("POST", "/api/v1/namespaces/dev/services", b"k8s\x00\x0a",
                        Content_Type="application/vnd.kubernetes.protobuf")
    assert code == 415 and status["reason"] == "UnsupportedMediaType"
    # a well-formed envelope of a kind the sim cannot decode from protobuf: refused, with what to do instead
    type_meta = b"\x0a\x02v1\x12\x03Pod"
    pod = b"k8s\x00" + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12\x00"
    code, status = http("POST", "/api/v1/namespaces/dev/pods", pod, Content_Type="application/vnd.kubernetes.protobuf")
    assert code == 415 and "Pod in protobuf is not supported" in status["message"]
    assert "--dry-run=client -o yaml" in status["message"]
    http("POST", "/api/v1/namespaces/dev/configmaps", json.dumps({"metadata": {"name": "a"}}))
    code, status = http("PATCH", "/api/v1/namespaces/dev/configmaps/a?fieldManager=x", "data: {}",
                        Content_Type="application/apply-patch+yaml")
    assert code == 415 and "server-side apply is not supported" in status["message"]


@pytest.mark.parametrize("path", ["/api/v1/foos", "/apis/nope.example.com/v1/bars", "/nonsense",
                                  "/api/v1/namespaces/dev/services/a/b/c", "/apis/apps/v1/services"])
def test_unknown_paths_are_404_status(http, path: str) -> None:
    code, status = http("GET", path)
    assert code == 404 and status["kind"] == "Status"
    assert status["message"] == "the server could not find the requested resource"


def test_update_name_mismatch_is_400(http) -> None:
    http("POST", "/api/v1/namespaces/dev/configmaps", json.dumps({"metadata": {"name": "a"}}))
    code, status = http("PUT", "/api/v1/namespaces/dev/configmaps/a", json.dumps({"metadata": {"name": "b"}}))
    assert code == 400
    assert status["message"] == "the name of the object (b) does not match the name on the URL (a)"


def test_bad_query_parameters_are_400(http) -> None:
    assert http("GET", "/api/v1/services?limit=abc")[0] == 400
    assert http("GET", "/api/v1/services?watch=1&resourceVersion=abc")[0] == 400
    assert http("POST", "/api/v1/namespaces/dev/configmaps?dryRun=Some", "{}")[0] == 400
    assert http("POST", "/api/v1/namespaces/dev/configmaps?fieldValidation=Maybe", "{}")[0] == 400


def test_table_answers_for_list_and_get(http) -> None:
    http("POST", "/api/v1/namespaces/dev/configmaps", json.dumps({"metadata": {"name": "a"}, "data": {"x": "1"}}))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, table = http("GET", "/api/v1/namespaces/dev/configmaps", Accept=accept)
    assert code == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["a", 1]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    code, table = http("GET", "/api/v1/namespaces/dev/configmaps/a?includeObject=Object", Accept=accept)
    assert table["rows"][0]["object"]["data"] == {"x": "1"}


def test_discovery_documents(http) -> None:
    code, version = http("GET", "/version")
    assert code == 200 and version["major"] == "1" and version["minor"] == "32"
    code, groups = http("GET", "/apis")
    assert {g["name"] for g in groups["groups"]} == {"apps", "discovery.k8s.io"}
    code, core = http("GET", "/api/v1")
    svc = next(r for r in core["resources"] if r["name"] == "services")
    assert svc["kind"] == "Service" and svc["namespaced"] and svc["shortNames"] == ["svc"]
    assert "watch" in svc["verbs"]
    code, root = http("GET", "/openapi/v3")
    url = root["paths"]["api/v1"]["serverRelativeURL"]
    code, doc = http("GET", url)
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Service"}
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_decoding_type_errors_and_unknown_fields(sim: SimCluster) -> None:
    pool = urllib3.PoolManager()
    url = sim.url + "/api/v1/namespaces/dev/services"
    pool.request("POST", sim.url + "/api/v1/namespaces", body=json.dumps({"metadata": {"name": "dev"}}))
    body = {"metadata": {"name": "web"}, "spec": {"foo": 1, "ports": [{"port": 80, "bar": 2}]}}
    strict = pool.request("POST", url + "?fieldValidation=Strict", body=json.dumps(body))
    assert strict.status == 400
    assert json.loads(strict.data)["message"] == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo", '
        'unknown field "spec.ports[0].bar"')
    warn = pool.request("POST", url, body=json.dumps(body))  # no fieldValidation: Warn, the apiserver's default
    assert warn.status == 201
    assert warn.headers.getlist("Warning") == ['299 - "unknown field \\"spec.foo\\""',
                                               '299 - "unknown field \\"spec.ports[0].bar\\""']
    stored = json.loads(warn.data)
    assert "foo" not in stored["spec"] and stored["spec"]["ports"][0].get("bar") is None
    bad = pool.request("POST", url, body=json.dumps({"metadata": {"name": "x"}, "spec": {"ports": {"port": 80}}}))
    assert bad.status == 400
    assert json.loads(bad.data)["message"].endswith(
        "json: cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort")


def test_subresources_allow_only_get_update_patch(http) -> None:
    http("POST", "/api/v1/namespaces/dev/services", json.dumps({"metadata": {"name": "web"},
                                                                "spec": {"ports": [{"port": 80}]}}))
    code, status = http("DELETE", "/api/v1/namespaces/dev/services/web/status")
    assert code == 405 and status["reason"] == "MethodNotAllowed"
    assert http("GET", "/api/v1/namespaces/dev/services/web")[0] == 200
    code, _ = http("GET", "/api/v1/namespaces/dev/services/web/scale")
    assert code == 404  # only Deployments scale
