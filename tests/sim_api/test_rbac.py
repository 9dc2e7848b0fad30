"""RBAC: the demo user's rules allow; everything else gets the apiserver's exact 403 Forbidden."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster
from tui.sim.rbac import RbacRules, Rule
from tui.sim.resources import lookup


@pytest.fixture
def rbac_sim() -> Iterator[SimCluster]:
    rules = RbacRules([
        Rule(("get", "list", "watch"), ("services",), ("",), namespaces=("dev",)),
        Rule(("get", "list"), ("namespaces",), ("",)),
    ])
    sim = SimCluster(scenario="empty", rbac=rules).start()
    sim.store.create(lookup("", "namespaces"), {"metadata": {"name": "dev"}})  # the store needs no permission
    sim.store.create(lookup("", "services"), service("web") | {"metadata": {"name": "web", "namespace": "dev"}})
    try:
        yield sim
    finally:
        sim.stop()


def forbidden(call) -> dict:
    with pytest.raises(ApiException) as exc:
        call()
    assert exc.value.status == 403
    return json.loads(exc.value.body)


def test_allowed_reads(rbac_sim: SimCluster) -> None:
    core = client.CoreV1Api(rbac_sim.api_client())
    assert [s.metadata.name for s in core.list_namespaced_service("dev").items] == ["web"]
    assert core.read_namespaced_service("web", "dev").metadata.name == "web"
    assert [n.metadata.name for n in core.list_namespace().items] == ["dev"]


def test_denied_requests_get_the_apiservers_words(rbac_sim: SimCluster) -> None:
    api = rbac_sim.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    status = forbidden(lambda: core.list_service_for_all_namespaces())
    assert status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'services is forbidden: User "svcscope-demo" cannot list resource "services" in API group "" '
                   "at the cluster scope",
        "reason": "Forbidden", "details": {"kind": "services"}, "code": 403}
    assert forbidden(lambda: core.create_namespaced_service("dev", service("x")))["message"] == (
        'services is forbidden: User "svcscope-demo" cannot create resource "services" in API group "" '
        'in the namespace "dev"')
    assert forbidden(lambda: core.delete_namespaced_service("web", "dev"))["message"] == (
        'services "web" is forbidden: User "svcscope-demo" cannot delete resource "services" in API group "" '
        'in the namespace "dev"')
    assert forbidden(lambda: apps.read_namespaced_deployment("pc", "dev"))["message"] == (
        'deployments.apps "pc" is forbidden: User "svcscope-demo" cannot get resource "deployments" '
        'in API group "apps" in the namespace "dev"')
    assert forbidden(lambda: core.list_namespaced_service("kube-system", watch=True, _preload_content=False,
                                                          timeout_seconds=1))["message"] == (
        'services is forbidden: User "svcscope-demo" cannot watch resource "services" in API group "" '
        'in the namespace "kube-system"')


def test_other_users_are_denied_and_bad_tokens_unauthorized(rbac_sim: SimCluster) -> None:
    def core_with(token: str) -> client.CoreV1Api:
        cfg = client.Configuration()
        cfg.host = rbac_sim.url
        cfg.api_key = {"BearerToken": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer"}
        return client.CoreV1Api(client.ApiClient(cfg))

    assert forbidden(lambda: core_with("svcscope-other-token").list_namespaced_service("dev"))["message"] == (
        'services is forbidden: User "svcscope-other" cannot list resource "services" in API group "" '
        'in the namespace "dev"')
    with pytest.raises(ApiException) as exc:
        core_with("expired-token").list_namespaced_service("dev")
    assert exc.value.status == 401 and json.loads(exc.value.body)["reason"] == "Unauthorized"


def test_no_credentials_is_the_demo_user(rbac_sim: SimCluster) -> None:
    """kubectl sends no token over plain HTTP; the sim takes such requests as the demo user."""
    cfg = client.Configuration()
    cfg.host = rbac_sim.url
    core = client.CoreV1Api(client.ApiClient(cfg))
    assert [s.metadata.name for s in core.list_namespaced_service("dev").items] == ["web"]
    assert forbidden(lambda: core.list_namespaced_service("kube-system"))["message"].startswith(
        'services is forbidden: User "svcscope-demo" cannot list')
    assert client.VersionApi(client.ApiClient(cfg)).get_code().minor == "32"


def test_subresources_are_resources_of_their_own() -> None:
    rules = RbacRules([Rule(("get", "list", "patch"), ("deployments",), ("apps",))])
    with SimCluster(scenario="empty", rbac=rules) as sim:
        sim.store.create(lookup("", "namespaces"), {"metadata": {"name": "dev"}})
        sim.store.create(lookup("apps", "deployments"), {
            "metadata": {"name": "web", "namespace": "dev"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
        apps = client.AppsV1Api(sim.api_client())
        assert apps.patch_namespaced_deployment("web", "dev", {"metadata": {"labels": {"a": "b"}}}).metadata.labels
        assert forbidden(lambda: apps.patch_namespaced_deployment_scale("web", "dev", {"spec": {"replicas": 2}}))[
            "message"] == ('deployments.apps "web" is forbidden: User "svcscope-demo" cannot patch resource '
                           '"deployments/scale" in API group "apps" in the namespace "dev"')
