"""Lists as the client pages through them: limit/continue on a stable snapshot, label and field selectors."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster


def test_pages_share_one_snapshot_and_resource_version(sim: SimCluster, core: client.CoreV1Api) -> None:
    for i in range(5):
        core.create_namespaced_service("dev", service(f"svc-{i}"))
    page1 = core.list_namespaced_service("dev", limit=2)
    assert [s.metadata.name for s in page1.items] == ["svc-0", "svc-1"]
    assert page1.metadata._continue and page1.metadata.remaining_item_count == 3
    core.create_namespaced_service("dev", service("svc-2a"))  # after the snapshot: not in the next pages
    core.delete_namespaced_service("svc-4", "dev")            # still in the snapshot
    page2 = core.list_namespaced_service("dev", limit=2, _continue=page1.metadata._continue)
    page3 = core.list_namespaced_service("dev", limit=2, _continue=page2.metadata._continue)
    assert [s.metadata.name for s in page2.items + page3.items] == ["svc-2", "svc-3", "svc-4"]
    assert page1.metadata.resource_version == page2.metadata.resource_version == page3.metadata.resource_version
    assert not page3.metadata._continue
    assert len(core.list_namespaced_service("dev").items) == 5


def test_expired_continue_is_410(sim: SimCluster, core: client.CoreV1Api) -> None:
    for i in range(3):
        core.create_namespaced_service("dev", service(f"svc-{i}"))
    page1 = core.list_namespaced_service("dev", limit=1)
    sim.faults.expire_history()
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_service("dev", limit=1, _continue=page1.metadata._continue)
    assert exc.value.status == 410
    assert "The provided continue parameter is too old" in exc.value.body


def test_garbage_continue_is_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_service("dev", limit=1, _continue="!!!not-a-token")
    assert exc.value.status == 400


def test_label_selectors(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a", labels={"tier": "front", "env": "prod"}))
    core.create_namespaced_service("dev", service("b", labels={"tier": "back", "env": "prod"}))
    core.create_namespaced_service("dev", service("c", labels={"tier": "back"}))

    def names(sel: str) -> list[str]:
        return [s.metadata.name for s in core.list_namespaced_service("dev", label_selector=sel).items]

    assert names("tier=back") == ["b", "c"]
    assert names("tier!=back") == ["a"]
    assert names("env") == ["a", "b"]
    assert names("!env") == ["c"]
    assert names("tier in (front,back),env=prod") == ["a", "b"]
    assert names("tier notin (front)") == ["b", "c"]


def test_field_selectors(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "prod"}})
    core.create_namespaced_service("dev", service("a"))
    core.create_namespaced_service("prod", service("a"))
    core.create_namespaced_service("prod", service("b"))
    by_name = core.list_service_for_all_namespaces(field_selector="metadata.name=a").items
    assert [(s.metadata.namespace, s.metadata.name) for s in by_name] == [("dev", "a"), ("prod", "a")]
    by_ns = core.list_service_for_all_namespaces(field_selector="metadata.namespace!=dev").items
    assert [s.metadata.name for s in by_ns] == ["a", "b"]
    for name, node, phase in (("p1", "node1", "Running"), ("p2", "node2", "Running"), ("p3", "node1", "Pending")):
        core.create_namespaced_pod("dev", {"metadata": {"name": name},
                                           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
                                           "status": {"phase": phase}})
    pods = core.list_namespaced_pod("dev", field_selector="spec.nodeName=node1,status.phase=Running").items
    assert [p.metadata.name for p in pods] == ["p1"]


def test_bad_selectors_are_400_status(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_service("dev", field_selector="spec.ports=80")
    assert exc.value.status == 400
    assert "field label not supported: spec.ports" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_service("dev", label_selector="a b c")
    assert exc.value.status == 400
    assert '"kind":"Status"' in exc.value.body
