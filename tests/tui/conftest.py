"""Fixtures for the TUI shell tests: a tiny real API server, a kubeconfig with two contexts, tmp config dirs,
and the app built by the same factory the CLI uses, with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
import yaml

from tests.tui.servers import ThreadServer, healthy
from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.kube.client import connect

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def fixed_clock() -> datetime:
    return FIXED_NOW


@pytest.fixture(scope="session")
def api_server():
    server = ThreadServer(healthy).start()
    yield server
    server.stop()


def write_kubeconfig(path: Path, server_url: str) -> Path:
    """Two contexts on the same server, as admins have (a namespaced one and an admin one)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kind-dev",
        "clusters": [{"name": "kind", "cluster": {"server": server_url}}],
        "users": [{"name": "admin", "user": {"token": "t"}}],
        "contexts": [
            {"name": "kind-dev", "context": {"cluster": "kind", "user": "admin", "namespace": "dev"}},
            {"name": "kind-admin", "context": {"cluster": "kind", "user": "admin"}},
        ],
    }))
    return path


@pytest.fixture
def kubeconfig_path(tmp_path, api_server) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", api_server.url)


@pytest.fixture
def make_app(kubeconfig_path, xdg) -> Callable[..., SvcscopeApp]:
    def make(**options) -> SvcscopeApp:
        conn = connect(str(kubeconfig_path), env={})
        return create_app(conn, clock=fixed_clock, options=AppOptions(**options), state=StateStore(state_dir()))

    return make
