"""Encoded objects are shared while current, forgotten when replaced or deleted, and never stale."""

from __future__ import annotations

import json

from kubernetes import client

from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster


def test_cache_follows_the_store(sim: SimCluster, core: client.CoreV1Api) -> None:
    cache = sim.server.encoded
    for name in ("a", "b", "c"):
        core.create_namespaced_service("dev", service(name))
    core.list_namespaced_service("dev")
    assert len(cache) == 3
    core.patch_namespaced_service("a", "dev", {"metadata": {"labels": {"new": "1"}}})
    assert len(cache) == 2  # a's old encoding is gone
    items = json.loads(core.list_namespaced_service("dev", _preload_content=False).data)["items"]
    assert items[0]["metadata"]["labels"]["new"] == "1"  # the new version, never the cached old one
    assert len(cache) == 3
    w = core.list_namespaced_service("dev", watch=True, resource_version=items[2]["metadata"]["resourceVersion"],
                                     timeout_seconds=1, _preload_content=False)
    core.delete_namespaced_service("b", "dev")
    assert b'"type":"DELETED"' in w.data
    assert len(cache) == 2  # b forgotten, and the DELETED copy not kept
