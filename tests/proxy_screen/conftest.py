"""The demo cluster with kube-proxy emulated (node1 is "this node") and the app built by the CLI's factory against
it with a fixed clock, as `svcscope --demo` builds it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator

import pytest

from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.kube.client import connect
from tui.kube.node_site import ProxySite
from tui.sim.cluster import SimCluster
from tui.sim.demo_site import demo_proxy_site

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo() -> Iterator[tuple[SimCluster, ProxySite]]:
    sim = SimCluster(scenario="tutorial")
    sim.controllers.CRASH_TICK_SECONDS = 0.3  # a crash-looping kube-proxy shows CrashLoopBackOff quickly
    site = demo_proxy_site(sim, poll_interval=0.1)
    sim.start()
    try:
        yield sim, site
    finally:
        sim.stop()


@pytest.fixture
def make_proxy_app(demo, tmp_path, xdg) -> Callable[..., SvcscopeApp]:
    sim, site = demo

    def make(read_only: bool = False, proxy_site: ProxySite | None = None) -> SvcscopeApp:
        path = sim.write_kubeconfig(tmp_path / "kubeconfig")
        conn = connect(str(path), env={})
        return create_app(conn, clock=lambda: FIXED_NOW, options=AppOptions(demo=True, read_only=read_only),
                          state=StateStore(state_dir()), proxy_site=proxy_site or site)

    return make
