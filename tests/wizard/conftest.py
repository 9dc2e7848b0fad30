"""Fixtures of the Service wizard's tests: the real kubectl against the `sim` fixture (tests/kubectl's), and the
app on the demo cluster (the tutorial scenario) built by the CLI's factory with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import pytest

from tests.kubectl.conftest import kubectl  # noqa: F401 - the fixture, for this directory's tests
from tui.app import SvcscopeApp
from tui.sim.cluster import SimCluster

FIXED_NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo(start_sim) -> SimCluster:
    return start_sim("tutorial")


@pytest.fixture
def make_app(demo, demo_app) -> Callable[..., SvcscopeApp]:
    def make(read_only: bool = False, sim: SimCluster | None = None) -> SvcscopeApp:
        return demo_app(sim or demo, clock=lambda: FIXED_NOW, read_only=read_only)

    return make
