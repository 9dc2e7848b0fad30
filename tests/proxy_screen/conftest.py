"""The demo cluster with kube-proxy emulated (node1 is "this node") and the app built by the CLI's factory against
it with a fixed clock, as `svcscope --demo` builds it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import pytest

from tui.app import SvcscopeApp
from tui.kube.node_site import ProxySite
from tui.sim.cluster import SimCluster
from tui.sim.demo_site import demo_proxy_site

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo(start_sim) -> tuple[SimCluster, ProxySite]:
    sites: list[ProxySite] = []

    def prepare(sim: SimCluster) -> None:
        sim.controllers.CRASH_TICK_SECONDS = 0.3  # a crash-looping kube-proxy shows CrashLoopBackOff quickly
        sites.append(demo_proxy_site(sim, poll_interval=0.1))

    return start_sim("tutorial", prepare=prepare), sites[0]


@pytest.fixture
def make_proxy_app(demo, demo_app) -> Callable[..., SvcscopeApp]:
    sim, site = demo

    def make(read_only: bool = False, proxy_site: ProxySite | None = None) -> SvcscopeApp:
        return demo_app(sim, clock=lambda: FIXED_NOW, read_only=read_only, proxy_site=proxy_site or site)

    return make
