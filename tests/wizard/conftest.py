"""Fixtures of the Service wizard's tests: the real kubectl against the `sim` fixture (tests/kubectl's), and the
app on the demo cluster (the tutorial scenario) built by the CLI's factory with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator

import pytest

from tests.kubectl.conftest import kubectl  # noqa: F401 - the fixture, for this directory's tests
from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.kube.client import connect
from tui.sim.cluster import SimCluster

FIXED_NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo() -> Iterator[SimCluster]:
    sim = SimCluster(scenario="tutorial")
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def make_app(demo, tmp_path, xdg) -> Callable[..., SvcscopeApp]:
    def make(read_only: bool = False, sim: SimCluster | None = None) -> SvcscopeApp:
        path = (sim or demo).write_kubeconfig(tmp_path / "kubeconfig")
        conn = connect(str(path), env={})
        return create_app(conn, clock=lambda: FIXED_NOW, options=AppOptions(demo=True, read_only=read_only),
                          state=StateStore(state_dir()))

    return make
