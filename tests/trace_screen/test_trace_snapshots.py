"""Snapshots at 80x24 (SVGs under snapshots/trace_screen/test_trace_snapshots/): the trace of a healthy Service,
the trace of a broken one, and the Services pane with DIAGNOSIS on the broken scenario with node1's IPVS table.

Sync tests, as snap_compare requires. The simulated cluster runs on a fixed clock an hour before the app's; its
ClusterIPs, pod names and addresses are seeded; the trace waits for its DNS answers, so no "asking..." line races
the capture. Update deliberately: `pytest tests/trace_screen/test_trace_snapshots.py --snapshot-update`, then look
at the SVGs.
"""

from __future__ import annotations

import pytest

from tests.panes.conftest import until
from tests.trace_screen.conftest import SIM_T0, Demo, open_trace, settled_main

SIZE = (80, 24)


@pytest.fixture
def fixed_tutorial(make_demo) -> Demo:
    return make_demo("tutorial", clock=lambda: SIM_T0)


@pytest.fixture
def fixed_broken(make_demo) -> Demo:
    return make_demo("broken", clock=lambda: SIM_T0)


def trace_of(name: str):
    async def run(pilot) -> None:
        screen = await open_trace(pilot, name)
        await until(pilot, lambda: screen.trace is not None and screen.trace.dns_lines, "the DNS answers", 30)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    return run


def test_trace_healthy(snap_compare, fixed_tutorial, tmp_path):
    assert snap_compare(fixed_tutorial.app("dev"), terminal_size=SIZE,
                        run_before=trace_of("service-clusterip"))


def test_trace_broken(snap_compare, fixed_broken, tmp_path):
    assert snap_compare(fixed_broken.app("broken"), terminal_size=SIZE,
                        run_before=trace_of("wrong-port-name"))


def test_services_pane_with_diagnosis(snap_compare, fixed_broken, tmp_path):
    async def run(pilot) -> None:
        main = await settled_main(pilot)
        await until(pilot, lambda: main.services.row(("broken", "all-unready")).cells[6] == "0/2", "unready pods")
        await pilot.pause()

    assert snap_compare(fixed_broken.app("broken"), terminal_size=SIZE, run_before=run)
