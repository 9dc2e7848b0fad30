"""The demo cluster as `svcscope --demo` runs it, for the trace screen's tests: the tutorial (or broken) scenario,
its cluster DNS, and node1's kube-proxy emulated (its IPVS table is what the trace compares with); the app built
by the CLI's factory against it, with node1's table reader and node1 as this node, as the CLI hands them over, a fixed clock and the sim's DNS
address map. Helpers read the trace as the user does: the screen's outline, line by line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.panes.conftest import until
from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.ipvs.readers import EmulatorReader
from tui.kube.client import connect
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
    def __init__(self, scenario: str, clock: Callable[[], datetime] | None = None) -> None:
        kwargs: dict[str, Any] = {"bookmark_interval": 0.5}
        if clock is not None:
            kwargs["clock"] = clock
        self.sim = SimCluster(scenario=scenario, **kwargs)
        self.dns = SimDns(self.sim.store)
        self.sim.add_component(self.dns)
        self.emulator: KubeProxyEmulator = ensure_emulator(self.sim, NODE)
        self.sim.start()

    def app(self, tmp_path: Path, namespace: str) -> SvcscopeApp:
        path = self.sim.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
        # as `svcscope --demo` hands them over (tui.commands.tui): node1's emulated table, node1 as this node
        return create_app(connect(str(path), env={}), clock=lambda: FIXED_NOW, options=AppOptions(demo=True),
                          state=StateStore(state_dir()), dns_address_map=self.dns.address_map,
                          ipvs_reader=lambda: EmulatorReader(self.emulator), proxy_site=ProxySite(this_node=NODE))

    def settled(self) -> bool:
        """node1's kube-proxy runs and its table holds the tutorial's three real servers per virtual server."""
        vs = [v for v in self.emulator.table.virtual_servers if v.port == 80 and v.protocol == "TCP"]
        return bool(vs) and all(len(v.real_servers) == 3 for v in vs)


@pytest.fixture
def tutorial(xdg) -> Iterator[Demo]:
    demo = Demo("tutorial")
    try:
        from tests.conftest import wait_for

        wait_for(demo.settled, timeout=30, message="node1's emulated IPVS table never settled")
        yield demo
    finally:
        demo.sim.stop()


@pytest.fixture
def broken(xdg) -> Iterator[Demo]:
    demo = Demo("broken")
    try:
        yield demo
    finally:
        demo.sim.stop()


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
