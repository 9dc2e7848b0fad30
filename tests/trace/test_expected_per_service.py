"""The trace's per-Service expectation (expected.service_virtual_servers, no table, no ipvsadm sort) is exactly what
emulate() programs for that Service: the trace and the kube-proxy emulator must not drift apart."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tui.ipvs.expected import EmulatorConfig, emulate, node_ips, service_virtual_servers
from tui.kube.models import ServiceView, SliceView
from tui.sim.cluster import SimCluster
from tui.sim.resources import BY_KIND


def unordered(vss) -> list:
    """Virtual servers with their real servers in one order (emulate's is ipvsadm's; the trace's is none)."""
    return sorted((vs.key, vs.scheduler, vs.flags, vs.timeout, vs.netmask,
                   sorted((rs.key, rs.weight, rs.forward) for rs in vs.real_servers)) for vs in vss)


@pytest.mark.parametrize("scenario", ["tutorial", "broken"])
@pytest.mark.parametrize("config", [EmulatorConfig(), EmulatorConfig(scheduler="mh"),
                                    EmulatorConfig(node_port_addresses=("192.168.10.0/24",))])
def test_per_service_expectation_is_emulates(scenario: str, config: EmulatorConfig) -> None:
    sim = SimCluster(scenario=scenario).start()
    try:
        wait_for(lambda: sum(len(o.get("endpoints") or []) for o in sim.store.list(BY_KIND["EndpointSlice"])[0]) >= 4,
                 timeout=30, interval=0.1, message="the controllers wrote no endpoints")
        with sim.store.lock:
            services = [ServiceView.from_api(o) for o in sim.store.list(BY_KIND["Service"])[0]]
            slices = [SliceView.from_api(o) for o in sim.store.list(BY_KIND["EndpointSlice"])[0]]
            nodes = sim.store.list(BY_KIND["Node"])[0]
    finally:
        sim.stop()
    ips = node_ips(nodes, "node1")
    assert ips and any(s.proxied for s in services) and any(sl.endpoints for sl in slices)
    compared = 0
    for svc in services:
        mine = [sl for sl in slices if sl.namespace == svc.namespace and sl.service == svc.name]
        want = emulate([svc], mine, nodes, "node1", config).virtual_servers
        got = service_virtual_servers(svc, mine, ips, "node1", config)
        assert unordered(got) == unordered(want), svc.key
        compared += bool(want)
    assert compared >= 3
