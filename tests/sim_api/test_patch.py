"""Patches: the three formats, applied by the server as the apiserver does, for the fields svcscope patches."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.sim_api.conftest import service
from tui.sim import patch


def test_merge_patch_merges_maps_and_null_deletes() -> None:
    orig = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}, {"port": 443}]}}
    out = patch.merge_patch(orig, {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"ports": [{"port": 8080}]}})
    assert out == {"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"ports": [{"port": 8080}]}}
    assert orig["metadata"]["labels"] == {"a": "1", "b": "2"}  # the original is untouched


def test_strategic_patch_merges_service_ports_by_port() -> None:
    orig = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080},
                               {"name": "https", "port": 443, "targetPort": 8443}]}}
    out = patch.strategic_merge_patch(orig, {"spec": {"ports": [{"port": 80, "nodePort": 30080},
                                                                {"port": 9090, "name": "metrics"}]}}, "Service")
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                                    {"name": "https", "port": 443, "targetPort": 8443},
                                    {"port": 9090, "name": "metrics"}]
    out = patch.strategic_merge_patch(orig, {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}}, "Service")
    assert [p["port"] for p in out["spec"]["ports"]] == [80]
    out = patch.strategic_merge_patch(
        orig, {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}], "ports": [{"port": 80, "name": "web"}]}},
        "Service")
    assert [(p["port"], p["name"]) for p in out["spec"]["ports"]] == [(443, "https"), (80, "web")]


def test_strategic_patch_containers_by_name_and_atomic_lists() -> None:
    orig = {"spec": {"template": {"metadata": {"annotations": {"a": "1"}},
                                  "spec": {"containers": [{"name": "app", "image": "v1", "args": ["-x"]},
                                                          {"name": "side", "image": "s1"}]}}}}
    out = patch.strategic_merge_patch(orig, {"spec": {"template": {
        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}},
        "spec": {"containers": [{"name": "app", "image": "v2", "args": ["-y"]}]}}}}, "DaemonSet")
    tmpl = out["spec"]["template"]
    assert tmpl["metadata"]["annotations"] == {"a": "1", "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}
    assert tmpl["spec"]["containers"] == [{"name": "app", "image": "v2", "args": ["-y"]},
                                          {"name": "side", "image": "s1"}]
    eps = {"endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}
    assert patch.strategic_merge_patch(eps, {"endpoints": [{"addresses": ["10.0.0.3"]}]}, "EndpointSlice") == {
        "endpoints": [{"addresses": ["10.0.0.3"]}]}
    with pytest.raises(patch.PatchError):
        patch.strategic_merge_patch(orig, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
                                    "Deployment")


def test_json_patch_operations() -> None:
    orig = {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}}
    out = patch.json_patch(orig, [
        {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
        {"op": "replace", "path": "/spec/ports/0/port", "value": 81},
        {"op": "add", "path": "/spec/ports/-", "value": {"port": 82}},
        {"op": "test", "path": "/metadata/labels/a", "value": "1"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "copy", "from": "/spec/ports/1", "path": "/spec/ports/0"},
    ])
    assert out == {"metadata": {"labels": {"b/c": "2"}}, "spec": {"ports": [{"port": 82}, {"port": 81}, {"port": 82}]}}
    with pytest.raises(patch.PatchError) as exc:
        patch.json_patch(orig, [{"op": "test", "path": "/metadata/labels/a", "value": "2"}])
    assert exc.value.code == 422
    with pytest.raises(patch.PatchError) as exc:
        patch.json_patch(orig, [{"op": "remove", "path": "/nope"}])
    assert exc.value.code == 422


def test_patches_through_the_client(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("web", labels={"app": "web", "old": "x"}))
    out = core.patch_namespaced_service("web", "dev", {"metadata": {"labels": {"old": None, "new": "y"}}},
                                        _content_type="application/merge-patch+json")
    assert out.metadata.labels == {"app": "web", "new": "y"}
    out = core.patch_namespaced_service("web", "dev", [{"op": "replace", "path": "/spec/ports/0/port", "value": 81}])
    assert out.spec.ports[0].port == 81
    out = core.patch_namespaced_service("web", "dev", {"spec": {"ports": [{"port": 81, "name": "http"},
                                                                         {"port": 82, "name": "alt"}]}})
    assert [(p.port, p.name) for p in out.spec.ports] == [(81, "http"), (82, "alt")]
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_service("web", "dev", [{"op": "test", "path": "/spec/type", "value": "NodePort"}])
    assert exc.value.status == 422
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_service("web", "dev", {"metadata": {"resourceVersion": "1"}})
    assert exc.value.status == 409  # a resourceVersion in a patch is a precondition
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_service("missing", "dev", {"metadata": {"labels": {"a": "b"}}})
    assert exc.value.status == 404


def test_configmap_data_patch(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("dev",
                                      {"metadata": {"name": "kube-proxy"}, "data": {"config.conf": "mode: iptables\n"}})
    out = core.patch_namespaced_config_map("kube-proxy", "dev", {"data": {"config.conf": "mode: ipvs\n"}})
    assert out.data == {"config.conf": "mode: ipvs\n"}
