"""The demo cluster with its DNS for the DNS screen's tests: SimCluster("tutorial") and SimDns on loopback, and the
app built by the CLI's factory against it with a fixed clock and the sim's DNS address map."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator

import pytest

from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.kube.client import connect
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo() -> Iterator[tuple[SimCluster, SimDns]]:
    sim = SimCluster(scenario="tutorial")
    sim_dns = SimDns(sim.store)
    sim.add_component(sim_dns)
    sim.start()
    try:
        yield sim, sim_dns
    finally:
        sim.stop()


@pytest.fixture
def make_dns_app(demo, tmp_path, xdg) -> Callable[[], SvcscopeApp]:
    sim, sim_dns = demo

    def make() -> SvcscopeApp:
        path = sim.write_kubeconfig(tmp_path / "kubeconfig")
        conn = connect(str(path), env={})
        return create_app(conn, clock=lambda: FIXED_NOW, options=AppOptions(demo=True),
                          state=StateStore(state_dir()), dns_address_map=sim_dns.address_map)

    return make
