"""The demo cluster as `svcscope --demo` runs it, for the trace screen's tests: the tutorial (or broken) scenario,
its cluster DNS, and node1's kube-proxy emulated (its IPVS table is what the trace compares with); the app built
by the CLI's factory against it, with node1's table reader and node1 as this node, as the CLI hands them over, a fixed clock and the sim's DNS
address map. Helpers read the trace as the user does: the screen's outline, line by line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from tests.conftest import wait_for
from tests.panes.conftest import until
from tui.app import SvcscopeApp
from tui.ipvs.readers import EmulatorReader
from tui.kube.node_site import ProxySite
from tui.screens.main import MainScreen
from tui.screens.trace import Line, TraceScreen
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns
from tui.sim.kubeproxy import KubeProxyEmulator, ensure_emulator

SIM_T0 = datetime(2024, 5, 1, 11, 0, 0, tzinfo=timezone.utc)
FIXED_NOW = SIM_T0 + timedelta(hours=1)
NODE = "node1"


class Demo:
    """A started sim with its cluster DNS and node1's kube-proxy emulated, and the app `svcscope --demo` builds."""

    def __init__(self, sim: SimCluster, dns: SimDns, demo_app: Callable[..., SvcscopeApp]) -> None:
        self.sim = sim
        self.dns = dns
        self.emulator: KubeProxyEmulator = ensure_emulator(sim, NODE)
        self._demo_app = demo_app

    def app(self, namespace: str) -> SvcscopeApp:
        # as `svcscope --demo` hands them over (tui.commands.tui): node1's emulated table, node1 as this node
        return self._demo_app(self.sim, clock=lambda: FIXED_NOW, namespace=namespace,
                              dns_address_map=self.dns.address_map, ipvs_reader=lambda: EmulatorReader(self.emulator),
                              proxy_site=ProxySite(this_node=NODE))

    def settled(self) -> bool:
        """node1's kube-proxy runs and its table holds the tutorial's three real servers per virtual server."""
        vs = [v for v in self.emulator.table.virtual_servers if v.port == 80 and v.protocol == "TCP"]
        return bool(vs) and all(len(v.real_servers) == 3 for v in vs)


@pytest.fixture
def make_demo(start_sim, demo_app) -> Callable[..., Demo]:
    """`make_demo(scenario, clock=None)`: the tutorial waits until node1's emulated table has settled."""

    def make(scenario: str, clock: Callable[[], datetime] | None = None) -> Demo:
        dns: list[SimDns] = []

        def prepare(sim: SimCluster) -> None:  # the DNS server and node1's emulator start with the sim
            dns.append(SimDns(sim.store))
            sim.add_component(dns[0])
            ensure_emulator(sim, NODE)

        knobs: dict[str, Any] = {"bookmark_interval": 0.5}
        if clock is not None:
            knobs["clock"] = clock
        demo = Demo(start_sim(scenario, prepare=prepare, **knobs), dns[0], demo_app)
        if scenario == "tutorial":
            wait_for(demo.settled, timeout=30, message="node1's emulated IPVS table never settled")
        return demo

    return make


@pytest.fixture
def tutorial(make_demo) -> Demo:
    return make_demo("tutorial")


@pytest.fixture
def broken(make_demo) -> Demo:
    return make_demo("broken")


# -- reading the screen ------------------------------------------------------------------------------------------


def flat(line: Line, depth: int = 0) -> list[str]:
    """The outline as indented text, every line (collapsed or not)."""
    out = ["  " * depth + line.text]
    for child in line.children:
        out += flat(child, depth + 1)
    return out


def codes(screen: TraceScreen, *levels: str) -> list[str]:
    trace = screen.trace
    if trace is None:
        return []
    return sorted(f.code for f in trace.all_findings if not levels or f.level in levels)


async def settled_main(pilot) -> MainScreen:
    main = pilot.app.screen_stack[0]
    assert isinstance(main, MainScreen)
    await until(pilot, lambda: main.is_settled() and main.services.total_count, "every Service diagnosed", 30)
    await pilot.pause()
    return main


async def open_trace(pilot, name: str) -> TraceScreen:
    main = await settled_main(pilot)
    main.services.move_cursor_to_key((main.svcscope.scope.namespace, name))
    await pilot.pause()
    await pilot.press("enter")
    screen = await until(pilot, lambda: isinstance(pilot.app.screen, TraceScreen) and pilot.app.screen.trace
                         is not None and pilot.app.screen, "the trace screen's first trace", 30)
    return screen  # type: ignore[return-value]


async def trace_until(pilot, screen: TraceScreen, condition: Callable[[TraceScreen], Any], what: str,
                      timeout: float = 30) -> Any:
    return await until(pilot, lambda: screen.trace is not None and condition(screen), what, timeout)
