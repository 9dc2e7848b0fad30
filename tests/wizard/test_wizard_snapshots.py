"""Each wizard type at 80x24 on the demo cluster, filled in from the keyboard (SVGs under snapshots/wizard/).

The app's clock is fixed and the form shows no cluster-allocated values (no dry run here), so the pictures hold
still. Update deliberately: `pytest tests/wizard/test_wizard_snapshots.py --snapshot-update`, then look at them.
"""

from __future__ import annotations

import pytest

from tests.wizard.pilot import open_wizard, port_field, steady, tab_to, type_into

KINDS = ["clusterip", "headless", "nodeport", "loadbalancer", "externalname"]


@pytest.mark.parametrize("word", KINDS)
def test_wizard(snap_compare, make_app, word):
    async def fill(pilot) -> None:
        screen = await open_wizard(pilot, f"create {word}")
        await type_into(pilot, "name", "web")
        if word == "externalname":
            await type_into(pilot, "external-name", "db.example.com")
        else:
            await type_into(pilot, "selector", "app=nginx-pod")
        await port_field(pilot, screen, 0, "port", "80")
        await port_field(pilot, screen, 0, "target", "8080")
        await tab_to(pilot, "name")  # the top of the form, scrolled home
        steady(screen)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=fill)


def test_wizard_review(snap_compare, make_app):
    """The review: the exact YAML to be sent, before the dry run."""
    async def review(pilot) -> None:
        screen = await open_wizard(pilot, "create nodeport")
        await type_into(pilot, "name", "web")
        await type_into(pilot, "selector", "app=nginx-pod")
        await port_field(pilot, screen, 0, "port", "80")
        await port_field(pilot, screen, 0, "node-port", "30080")
        await pilot.press("ctrl+s")
        steady(screen)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=review)


def test_wizard_errors(snap_compare, make_app):
    """Invalid fields after ^s: every message the apiserver's, next to its field."""
    async def invalid(pilot) -> None:
        screen = await open_wizard(pilot, "create nodeport")
        await type_into(pilot, "name", "Web")
        await port_field(pilot, screen, 0, "port", "70000")
        await port_field(pilot, screen, 0, "node-port", "30002")
        await pilot.press("ctrl+s")
        steady(screen)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=invalid)
