"""The kube-proxy screen at 80x24 on the demo cluster, and each step of a switch (SVGs under
snapshots/proxy_screen/): the status view, the preflight, the diff to confirm, the rollout in progress (held at
1 of 3 nodes), the finished switch, a failed one rolled back, and a preflight that blocks.

Nothing here depends on time or ports: the app's clock is fixed (backup names, restartedAt), a simulated node's
temporary directory is not shown, and the rollout is held by the screen's `flow_gate` hook at a point where every
node's state is known. Update deliberately: `pytest tests/proxy_screen/test_proxy_snapshots.py --snapshot-update`,
then look at the SVGs.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from tests.proxy_screen.flow import (
    choose,
    open_proxy,
    press_button,
    switch,
    to_confirm,
    to_preflight,
    wait_until,
)
from tui.kube.proxy_switch import RolloutProgress
from tui.screens.proxy import ProxyScreen
from tui.sim.controllers.kubeproxy import KERNEL_MODULES_ANNOTATION, KERNEL_VERSION_ANNOTATION

SIZE = (80, 24)


@pytest.fixture
def steady(demo):
    """A crash-looping kube-proxy stays at its first restart (the kubelet's back-off is long), so the rolled-back
    message's restart count does not depend on when the rollout was polled."""
    sim, _ = demo
    sim.controllers.CRASH_TICK_SECONDS = 3600.0
    return sim


async def settle(pilot) -> None:
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()


async def status_ready(pilot) -> ProxyScreen:
    screen = await open_proxy(pilot)
    await wait_until(pilot, lambda: all(n.pod is not None and n.pod.ready and n.running_mode == "ipvs"
                                        for n in screen.status.nodes), "ipvs on every node")
    return screen


def test_status_view(snap_compare, make_proxy_app):
    async def run(pilot) -> None:
        await status_ready(pilot)
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_switch_dialog(snap_compare, make_proxy_app):
    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await choose(pilot, screen, mode="nftables")
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_preflight_step(snap_compare, make_proxy_app):
    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await choose(pilot, screen, mode="nftables")
        await to_preflight(pilot)
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_preflight_blocked_step(snap_compare, make_proxy_app, demo):
    sim, _ = demo
    k8s.CoreV1Api(sim.api_client()).patch_node(
        "node1", {"metadata": {"annotations": {KERNEL_MODULES_ANNOTATION: "ip_vs,ip_vs_rr,ip_set,nf_conntrack"}}})

    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await choose(pilot, screen, scheduler="sh")
        await to_preflight(pilot)
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_diff_confirm_step(snap_compare, make_proxy_app):
    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await choose(pilot, screen, mode="nftables")
        await to_preflight(pilot)
        await to_confirm(pilot)
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_progress_step(snap_compare, make_proxy_app, monkeypatch):
    held: list[RolloutProgress] = []

    def hold_at_first_node(screen: ProxyScreen, event) -> None:
        # In the flow's thread: stop at the first report of one node done until the screen goes away.
        if isinstance(event, RolloutProgress) and event.done == 1 and not held:
            held.append(event)
            screen.closed.wait(60)

    monkeypatch.setattr(ProxyScreen, "flow_gate", staticmethod(hold_at_first_node))

    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await choose(pilot, screen, mode="nftables")
        await to_preflight(pilot)
        await to_confirm(pilot)
        await press_button(pilot, "#confirm-apply")
        await wait_until(pilot, lambda: held and screen.flow.rollout is held[0], "the rollout held at 1 of 3")
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_done_step(snap_compare, make_proxy_app):
    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await switch(pilot, screen, mode="iptables")
        assert screen.flow.outcome.ok
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)


def test_rolled_back_step(snap_compare, make_proxy_app, steady):
    k8s.CoreV1Api(steady.api_client()).patch_node(
        "node2", {"metadata": {"annotations": {KERNEL_VERSION_ANNOTATION: "5.4.0"}}})

    async def run(pilot) -> None:
        screen = await status_ready(pilot)
        await switch(pilot, screen, mode="nftables")
        assert screen.flow.outcome.rolled_back
        await settle(pilot)

    assert snap_compare(make_proxy_app(), terminal_size=SIZE, run_before=run)
