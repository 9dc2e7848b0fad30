"""The real kubernetes client against the `sim` fixture, with the namespace `dev` created."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tui.sim.cluster import SimCluster


@pytest.fixture
def api(sim: SimCluster) -> client.ApiClient:
    c = sim.api_client()
    yield c
    c.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "dev"}})
    return v1


def service(name: str, port: int = 80, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A minimal Service manifest."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}], **spec}}
