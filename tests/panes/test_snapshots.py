"""Snapshots of the live panes on the tutorial and broken scenarios, the detail views and the pickers (SVGs under
snapshots/panes/test_snapshots/).

Sync tests, as snap_compare requires. The simulated cluster runs on a fixed clock an hour before the app's, so
every AGE reads 60m and no wall-clock value reaches an SVG; its ClusterIPs, NodePorts and UIDs are seeded.
Update deliberately: `pytest tests/panes/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from textual.widgets import Input

from tests.panes.conftest import SIM_T0, fixed_now, make_app
from tui.screens.main import MainScreen
from tui.sim.cluster import SimCluster

SIZES = [(80, 24), (160, 48)]


def start_sim(scenario: str) -> SimCluster:
    return SimCluster(scenario=scenario, clock=lambda: SIM_T0, bookmark_interval=0.5).start()


@pytest.fixture
def tutorial():
    """The tutorial cluster: dev's pc-deployment (3 pods) behind a ClusterIP, a headless and a NodePort Service;
    kube-system's CoreDNS; three nodes."""
    sim = start_sim("tutorial")
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def broken():
    """Namespace `broken`: one problem per Service (no pods, all unready, pending LoadBalancer, no selector...)."""
    sim = start_sim("broken")
    try:
        yield sim
    finally:
        sim.stop()


def app_on(sim: SimCluster, tmp_path: Path, namespace: str = "dev"):
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
    return make_app(kubeconfig, clock=fixed_now, demo=True)


async def _synced(pilot) -> None:
    main = pilot.app.screen_stack[0]
    assert isinstance(main, MainScreen)
    for _ in range(400):
        if main.is_settled() and main.services.total_count:  # DIAGNOSIS filled in too
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def keys_then_settle(*keys: str, wait_for: str | None = None):
    async def run(pilot) -> None:
        await _synced(pilot)
        for key in keys:
            await pilot.press(key)
        for _ in range(200):  # the pods of an empty Service, or a detail view's events, come from threads
            screen = pilot.app.screen
            if wait_for == "events" and getattr(screen, "events", None) is not None:
                break
            if wait_for == "why" and "matches" in screen.query_one("#endpointslices").empty_text:
                break
            if wait_for is None:
                break
            await pilot.pause(0.05)
        pilot.app.clear_notifications()  # toasts come and go on their own clock
        for field in pilot.app.screen.query(Input):  # and a blinking cursor is on or off by the clock too
            field.cursor_blink = False
        await pilot.pause(0.2)
        await pilot.wait_for_scheduled_animations()

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_tutorial(snap_compare, tutorial, tmp_path, xdg, size):
    app = app_on(tutorial, tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle("end"))  # service-nodeport


def test_all_namespaces_wide(snap_compare, tutorial, tmp_path, xdg):
    keys = ("colon", *"ns all", "enter")
    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(160, 48), run_before=keys_then_settle(*keys))


def test_endpoints_focused_with_every_column(snap_compare, tutorial, tmp_path, xdg):
    keys = ("tab", "w")  # service-clusterip: its three endpoints, all columns (enter opens the trace)
    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


def test_broken_services_and_why_one_is_empty(snap_compare, broken, tmp_path, xdg):
    """Colours for what is wrong, and the endpoints pane explaining `no-pods`."""
    app = app_on(broken, tmp_path, namespace="broken")

    async def run(pilot) -> None:
        await _synced(pilot)
        pilot.app.screen_stack[0].services.move_cursor_to_key(("broken", "no-pods"))
        await keys_then_settle(wait_for="why")(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run)


def test_filtered_view(snap_compare, tutorial, tmp_path, xdg):
    keys = ("colon", *"ns all", "enter", "slash", *"-l k8s-app", "enter")
    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


def test_filter_line_open(snap_compare, tutorial, tmp_path, xdg):
    keys = ("slash", *"!head")
    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


@pytest.mark.parametrize("mode", ["y", "d"])
def test_detail(snap_compare, tutorial, tmp_path, xdg, mode):
    keys = ("end", mode)  # service-nodeport
    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(80, 24),
                        run_before=keys_then_settle(*keys, wait_for="events" if mode == "d" else None))


def test_namespace_picker(snap_compare, tutorial, tmp_path, xdg):
    async def run(pilot) -> None:
        for _ in range(200):
            if pilot.app.known_namespaces:
                break
            await pilot.pause(0.05)
        await keys_then_settle("colon", *"ns", "enter")(pilot)

    assert snap_compare(app_on(tutorial, tmp_path), terminal_size=(80, 24), run_before=run)


def test_context_picker(snap_compare, tutorial, tmp_path, xdg):
    path = tutorial.write_kubeconfig(tmp_path / "kubeconfig")
    doc = yaml.safe_load(path.read_text())
    doc["contexts"].append({"name": "staging", "context": {"cluster": doc["clusters"][0]["name"],
                                                           "user": doc["users"][0]["name"], "namespace": "apps"}})
    path.write_text(yaml.safe_dump(doc))
    app = make_app(path, clock=fixed_now, demo=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys_then_settle("colon", *"ctx", "enter"))
