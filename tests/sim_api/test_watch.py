"""Watches as kubernetes.watch.Watch and informers use them: resume from a resourceVersion, bookmarks, 410."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiException

from tests.conftest import wait_for
from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster


def events(core: client.CoreV1Api, **kw: object) -> list[tuple[str, str]]:
    w = watch.Watch()
    return [(e["type"], e["object"].metadata.name)
            for e in w.stream(core.list_namespaced_service, "dev", **kw)]


def raw_lines(core: client.CoreV1Api, **kw: object) -> list[dict]:
    resp = core.list_namespaced_service("dev", watch=True, _preload_content=False, **kw)
    try:
        return [json.loads(line) for line in resp.read().decode().splitlines() if line.strip()]
    finally:
        resp.release_conn()


def test_watch_from_zero_lists_existing_as_added(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    core.create_namespaced_service("dev", service("b"))
    assert events(core, resource_version="0", timeout_seconds=1) == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_resumes_from_resource_version(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    rv = core.list_namespaced_service("dev").metadata.resource_version
    core.create_namespaced_service("dev", service("b"))
    core.patch_namespaced_service("a", "dev", {"metadata": {"labels": {"x": "1"}}})
    core.delete_namespaced_service("b", "dev")
    assert events(core, resource_version=rv, timeout_seconds=1) == [
        ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_namespaced_watch_sees_only_its_namespace(core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "prod"}})
    rv = core.list_namespaced_service("dev").metadata.resource_version
    core.create_namespaced_service("prod", service("elsewhere"))
    core.create_namespaced_service("dev", service("here"))
    assert events(core, resource_version=rv, timeout_seconds=1) == [("ADDED", "here")]
    w = watch.Watch()
    everywhere = [(e["object"].metadata.namespace, e["object"].metadata.name)
                  for e in w.stream(core.list_service_for_all_namespaces, resource_version=rv, timeout_seconds=1)]
    assert everywhere == [("prod", "elsewhere"), ("dev", "here")]


def test_live_events_reach_an_open_watch(core: client.CoreV1Api) -> None:
    rv = core.list_namespaced_service("dev").metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for e in w.stream(core.list_namespaced_service, "dev", resource_version=rv, timeout_seconds=20):
            seen.append((e["type"], e["object"].metadata.name))
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.2)
    core.create_namespaced_service("dev", service("live"))
    core.delete_namespaced_service("live", "dev")
    t.join(timeout=20)
    assert seen == [("ADDED", "live"), ("DELETED", "live")]


def test_timeout_seconds_ends_the_stream(core: client.CoreV1Api) -> None:
    start = time.monotonic()
    assert events(core, timeout_seconds=1) == []
    assert time.monotonic() - start < 10


def test_bookmarks_carry_the_resource_version(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.bookmark_interval = 0.2
    core.create_namespaced_service("dev", service("a"))
    rv = core.list_namespaced_service("dev").metadata.resource_version
    lines = raw_lines(core, resource_version=rv, allow_watch_bookmarks=True, timeout_seconds=1)
    marks = [l for l in lines if l["type"] == "BOOKMARK"]
    assert marks, lines
    assert {k: v for k, v in marks[0]["object"].items() if k != "metadata"} == {"kind": "Service", "apiVersion": "v1"}
    # at least what was listed; more once the EndpointSlice controller has written a slice for "a"
    assert all(int(m["object"]["metadata"]["resourceVersion"]) >= int(rv) for m in marks)


def test_bookmarks_follow_writes_of_other_resources(sim: SimCluster, core: client.CoreV1Api) -> None:
    """The apiserver's bookmarks follow etcd's progress, so a quiet watch still moves on (and a relist after a
    drop does not replay the world). A ConfigMap written after the watch opened must be passed by a bookmark."""
    sim.bookmark_interval = 0.2
    rv = core.list_namespaced_service("dev").metadata.resource_version
    seen: list[int] = []

    def consume() -> None:
        resp = core.list_namespaced_service("dev", watch=True, _preload_content=False, resource_version=rv,
                                            allow_watch_bookmarks=True, timeout_seconds=5)
        try:
            for line in resp.stream(decode_content=False):
                for raw in line.decode().splitlines():
                    if raw.strip() and json.loads(raw)["type"] == "BOOKMARK":
                        seen.append(int(json.loads(raw)["object"]["metadata"]["resourceVersion"]))
        finally:
            resp.release_conn()

    t = threading.Thread(target=consume)
    t.start()
    wait_for(lambda: seen, message="a first bookmark")
    cm = core.create_namespaced_config_map("dev", {"metadata": {"name": "elsewhere"}, "data": {"a": "b"}})
    written = int(cm.metadata.resource_version)
    wait_for(lambda: seen and seen[-1] >= written, message="a bookmark past the ConfigMap's write")
    t.join(timeout=20)
    assert all(a <= b for a, b in zip(seen, seen[1:])), seen


def test_too_old_resource_version_is_an_error_event(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    rv = core.list_namespaced_service("dev").metadata.resource_version
    core.create_namespaced_service("dev", service("b"))
    sim.faults.expire_history()
    lines = raw_lines(core, resource_version=rv, timeout_seconds=1)
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {rv} (")


def test_watch_client_retries_once_then_raises_410() -> None:
    with SimCluster(scenario="empty", history=2) as sim:
        api = sim.api_client()
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": "dev"}})
        rv = core.list_namespaced_service("dev").metadata.resource_version
        for i in range(4):
            core.create_namespaced_service("dev", service(f"s{i}"))  # history of 2 no longer reaches rv
        sim.server.requests.clear()
        with pytest.raises(ApiException) as exc:
            events(core, resource_version=rv)  # no timeout: Watch retries a 410 once before giving up
        assert exc.value.status == 410
        watches = [p for m, p in sim.server.requests if "watch=true" in p]
        assert len(watches) == 2 and all(f"resourceVersion={rv}" in p for p in watches)
        api.close()


def test_send_initial_events_ends_with_annotated_bookmark(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    lines = raw_lines(core, send_initial_events=True, resource_version_match="NotOlderThan",
                      allow_watch_bookmarks=True, timeout_seconds=1)
    assert [l["type"] for l in lines[:2]] == ["ADDED", "BOOKMARK"]
    assert lines[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    with pytest.raises(ApiException) as exc:
        raw_lines(core, send_initial_events=True, timeout_seconds=1)
    assert exc.value.status == 422
    assert "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" in exc.value.body


def test_selector_watch_sees_objects_enter_and_leave(core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a", labels={"tier": "front"}))
    rv = core.list_namespaced_service("dev").metadata.resource_version
    core.patch_namespaced_service("a", "dev", {"metadata": {"labels": {"tier": "back"}}})
    core.patch_namespaced_service("a", "dev", {"metadata": {"labels": {"tier": "front"}}})
    core.patch_namespaced_service("a", "dev", {"metadata": {"labels": {"extra": "1"}}})
    assert events(core, resource_version=rv, label_selector="tier=front", timeout_seconds=1) == [
        ("DELETED", "a"), ("ADDED", "a"), ("MODIFIED", "a")]


def test_open_watches_end_cleanly_on_stop() -> None:
    sim = SimCluster(scenario="empty").start()
    api = sim.api_client()
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "dev"}})
    done = threading.Event()

    def consume() -> None:
        resp = core.list_namespaced_service("dev", watch=True, _preload_content=False)
        resp.read()
        done.set()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    wait_for(lambda: sim.faults.open_watches == 1)
    sim.stop()
    assert done.wait(10), "the watch stream did not end when the cluster stopped"
    api.close()
