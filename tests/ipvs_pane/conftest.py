"""The IPVS screen's tests: the demo cluster (tutorial scenario) with its kube-proxy emulator, and the app built by
the CLI's factory against it over real HTTP, reading the emulator's table as `svcscope --demo` does. The sim runs on
a fixed clock an hour before the app's, so every AGE reads 60m and no wall-clock value reaches a snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from kubernetes.client import CoreV1Api

from tui.app import SvcscopeApp
from tui.ipvs.readers import EmulatorReader
from tui.screens.ipvs import IPVSScreen
from tui.screens.main import MainScreen
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy import KubeProxyEmulator, ensure_emulator

SIM_T0 = datetime(2024, 5, 1, 11, 0, 0, tzinfo=timezone.utc)
FIXED_NOW = SIM_T0 + timedelta(hours=1)


def fixed_now() -> datetime:
    return FIXED_NOW


@pytest.fixture
def demo(start_sim) -> tuple[SimCluster, KubeProxyEmulator]:
    sim = start_sim("tutorial", prepare=ensure_emulator, clock=lambda: SIM_T0, bookmark_interval=0.5)
    return sim, ensure_emulator(sim)


@pytest.fixture
def make_app(demo, demo_app) -> Callable[..., SvcscopeApp]:
    sim, emulator = demo

    def make(namespace: str = "dev", reader: Any = None) -> SvcscopeApp:
        return demo_app(sim, clock=fixed_now, namespace=namespace,
                        ipvs_reader=reader or (lambda: EmulatorReader(emulator, clock=fixed_now)))

    return make


@pytest.fixture
def v1(demo) -> CoreV1Api:
    return CoreV1Api(demo[0].api_client())


# -- driving and reading the screen ------------------------------------------------------------------------------


async def until(pilot, condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll while the app runs (the reader is a thread) until `condition()` is truthy; never a fixed sleep."""
    for _ in range(int(timeout / 0.05)):
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def main_screen(app: SvcscopeApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


async def synced(pilot) -> MainScreen:
    main = main_screen(pilot.app)
    await until(pilot, lambda: main.is_synced() and main.services.total_count, "the panes' first list")
    await pilot.pause()
    return main


async def open_ipvs(pilot, *keys: str) -> IPVSScreen:
    """Press `keys` (default `:ipvs`) and wait for the screen's first read."""
    await pilot.press(*(keys or ("colon", *"ipvs", "enter")))
    screen = await until(pilot, lambda: isinstance(pilot.app.screen, IPVSScreen) and pilot.app.screen,
                         "the IPVS screen")
    await until(pilot, lambda: screen.reads, "the first read")
    return screen


def tree(screen: IPVSScreen) -> list[tuple[str, ...]]:
    """The rows shown, every cell, in order."""
    pane = screen.pane
    return [pane.row(k).cells for k in pane.visible_keys()]


def vs_services(screen: IPVSScreen) -> dict[str, str]:
    """Virtual server -> the SERVICE cell, for the virtual servers shown."""
    return {cells[0]: cells[3] for cells in tree(screen) if not cells[0].startswith("  ->")}
