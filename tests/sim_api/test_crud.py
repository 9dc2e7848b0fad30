"""Create, read, update, patch and delete through the real client, as svcscope's mutations do them."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster
from tui.sim.resources import BY_KIND


def test_create_get_list_delete_service(sim: SimCluster, core: client.CoreV1Api) -> None:
    created = core.create_namespaced_service("dev", service("web"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    got = core.read_namespaced_service("web", "dev")
    assert got.metadata.uid == created.metadata.uid
    assert got.spec.ports[0].port == 80
    names = [s.metadata.name for s in core.list_service_for_all_namespaces().items]
    assert names == ["web"]
    deleted = core.delete_namespaced_service("web", "dev")
    assert deleted.metadata.name == "web"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_service("web", "dev")
    assert exc.value.status == 404
    assert '"services \\"web\\" not found"' in exc.value.body


def test_create_existing_is_409_already_exists(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("web"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("dev", service("web"))
    assert exc.value.status == 409
    assert 'services \\"web\\" already exists' in exc.value.body
    assert '"reason":"AlreadyExists"' in exc.value.body


def test_create_in_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("nowhere", service("web"))
    assert exc.value.status == 404
    assert 'namespaces \\"nowhere\\" not found' in exc.value.body


def test_update_with_stale_resource_version_conflicts(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_service("dev", service("web"))
    first.metadata.labels = {"app": "web", "tier": "front"}
    second = core.replace_namespaced_service("web", "dev", first)
    assert second.metadata.labels["tier"] == "front"
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.metadata.labels = {"app": "web", "tier": "stale"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_service("web", "dev", first)  # still carries the first resourceVersion
    assert exc.value.status == 409
    assert "the object has been modified; please apply your changes to the latest version" in exc.value.body
    assert core.read_namespaced_service("web", "dev").metadata.labels["tier"] == "front"


def test_dry_run_writes_store_nothing(sim: SimCluster, core: client.CoreV1Api) -> None:
    rv_before = sim.store.resource_version
    out = core.create_namespaced_service("dev", service("web"), dry_run="All")
    assert out.metadata.name == "web"
    assert core.list_namespaced_service("dev").items == []
    core.create_namespaced_service("dev", service("web"))
    core.patch_namespaced_service("web", "dev", {"metadata": {"labels": {"x": "y"}}}, dry_run="All")
    assert "x" not in (core.read_namespaced_service("web", "dev").metadata.labels or {})
    core.delete_namespaced_service("web", "dev", dry_run="All")
    assert core.read_namespaced_service("web", "dev").metadata.name == "web"
    services = BY_KIND["Service"]  # the EndpointSlice controller writes a slice for the real create too
    assert [e.type for e in sim.store.events_since(services, rv_before)] == ["ADDED"]  # only the real create


def test_configmap_delete_answers_a_success_status(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("dev", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    status = core.delete_namespaced_config_map("cfg", "dev")  # the client hands a Status back as a dict
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "cfg"


def test_delete_precondition_on_resource_version(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("web"))
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_service("web", "dev", body={"preconditions": {"resourceVersion": "1"}})
    assert exc.value.status == 409
    assert "Precondition failed" in exc.value.body


def test_apps_and_discovery_groups(api: client.ApiClient, core: client.CoreV1Api) -> None:
    apps = client.AppsV1Api(api)
    dep = {"metadata": {"name": "pc-deployment"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx-pod"}},
                    "template": {"metadata": {"labels": {"app": "nginx-pod"}},
                                 "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17.1"}]}}}}
    created = apps.create_namespaced_deployment("dev", dep)
    assert created.metadata.generation == 1
    assert apps.read_namespaced_deployment("pc-deployment", "dev").spec.replicas == 3
    disc = client.DiscoveryV1Api(api)
    eps = {"metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
           "ports": [{"name": "", "port": 80, "protocol": "TCP"}]}
    disc.create_namespaced_endpoint_slice("dev", eps)
    got = disc.list_namespaced_endpoint_slice("dev", label_selector="kubernetes.io/service-name=web")
    assert [s.endpoints[0].addresses for s in got.items] == [["10.244.1.5"]]


def test_cluster_scoped_nodes(api: client.ApiClient, core: client.CoreV1Api) -> None:
    core.create_node({"metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"}}})
    assert [n.metadata.name for n in core.list_node().items] == ["node1"]
    assert core.read_node("node1").metadata.namespace is None


def test_generate_name(core: client.CoreV1Api) -> None:
    out = core.create_namespaced_config_map("dev", {"metadata": {"generateName": "cfg-"}})
    assert out.metadata.name.startswith("cfg-") and len(out.metadata.name) == 9
