"""Snapshots of the IPVS screen on the demo cluster (SVGs under snapshots/ipvs_pane/test_ipvs_snapshots/): `:ipvs`
at 80x24, `i` on the NodePort Service at 80x24, and every namespace at 160x48 (all virtual servers named).

Nothing time-dependent reaches them: the sim's clock is fixed (its ClusterIPs, NodePorts and pod names are
seeded), the app's clock is fixed an hour later, and the emulator's reader stamps its tables with that clock, so no
rate is ever computed (the same instant twice) and the sparkline stays empty. Update deliberately:
`pytest tests/ipvs_pane/test_ipvs_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import pytest

from tui.screens.ipvs import IPVSScreen
from tui.screens.main import MainScreen


async def _wait(pilot, condition, attempts: int = 400) -> None:
    for _ in range(attempts):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


def _named(screen: IPVSScreen, how_many: int) -> bool:
    pane = screen.pane
    named = [k for k in pane.visible_keys() if not k[1] and pane.row(k).cells[3] != "-"]
    return len(named) >= how_many


def ipvs_after(keys: list[str], named: int, all_namespaces: bool = False):
    async def run(pilot) -> None:
        main = pilot.app.screen_stack[0]
        assert isinstance(main, MainScreen)
        if all_namespaces:
            await pilot.press("colon", *"ns all", "enter")
            await _wait(pilot, lambda: main.is_synced() and main.services.total_count >= 5)
        await _wait(pilot, lambda: main.is_synced() and main.services.total_count)
        if "i" in keys:
            assert main.services.move_cursor_to_key(("dev", "service-nodeport"))
        await pilot.press(*keys)
        await _wait(pilot, lambda: isinstance(pilot.app.screen, IPVSScreen) and pilot.app.screen.reads)
        screen = pilot.app.screen
        await _wait(pilot, lambda: _named(screen, named))
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    return run


@pytest.mark.parametrize(("size", "keys", "named", "everything"), [
    ((80, 24), ["colon", *"ipvs", "enter"], 3, False),
    ((80, 24), ["i"], 2, False),
    ((160, 48), ["colon", *"ipvs", "enter"], 7, True),
], ids=["ipvs-80x24", "service-80x24", "all-namespaces-160x48"])
def test_ipvs_screen(snap_compare, make_app, size, keys, named, everything):
    assert snap_compare(make_app(), terminal_size=size, run_before=ipvs_after(keys, named, everything))
