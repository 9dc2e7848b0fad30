"""x during a switch's rollout asks "abort and roll back?"; yes stops the rollout at its next check and rolls the
ConfigMap and kube-proxy back (checked through the kubernetes client); no lets the switch go on."""

from __future__ import annotations

import threading

from tests.proxy_screen.flow import (SIZE, choose, configured, open_proxy, press_button, running_pods, to_confirm,
                                     to_preflight, wait_until)
from tui.kube.proxy_switch import RolloutProgress
from tui.screens.confirm import ConfirmScreen
from tui.screens.proxy import ProxyScreen

NODES = ("node1", "node2", "node3")


def hold_first_rollout(monkeypatch) -> tuple[list[RolloutProgress], threading.Event]:
    """Hold the flow's thread at its first rollout report until released, so the abort lands mid-rollout."""
    held: list[RolloutProgress] = []
    release = threading.Event()

    def gate(screen: ProxyScreen, event) -> None:
        if isinstance(event, RolloutProgress) and not held:
            held.append(event)
            release.wait(60)

    monkeypatch.setattr(ProxyScreen, "flow_gate", staticmethod(gate))
    return held, release


async def asked_mid_rollout(pilot, held: list) -> ProxyScreen:
    """Start a switch to wrr, hold it at its first rollout report, press x: the question is up."""
    screen = await open_proxy(pilot)
    await wait_until(pilot, lambda: screen.status.config.mode == "ipvs", "the status")
    await choose(pilot, screen, scheduler="wrr")
    await to_preflight(pilot)
    await to_confirm(pilot)
    await press_button(pilot, "#confirm-apply")
    await wait_until(pilot, lambda: held and screen.flow.rollout is not None, "the rollout, held")
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the question")
    return screen


async def test_x_aborts_the_rollout_and_rolls_back(make_proxy_app, demo, monkeypatch):
    api = demo[0].api_client()
    held, release = hold_first_rollout(monkeypatch)
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await asked_mid_rollout(pilot, held)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and screen.message.startswith("Aborting"), "aborting")
        release.set()
        out = await wait_until(pilot, lambda: not screen.flow.running and screen.flow.outcome, "the outcome")
        assert not out.ok and out.rolled_back, out.message
        assert "was aborted by the admin" in out.message
        assert configured(api).scheduler == "rr"
        await wait_until(pilot, lambda: running_pods(api) == {n: ("ipvs", "rr") for n in NODES}, "rr everywhere")
        await pilot.press("x")  # over: nothing to abort, no question
        await pilot.pause()
        assert app.screen is screen


async def test_no_lets_the_switch_finish(make_proxy_app, demo, monkeypatch):
    api = demo[0].api_client()
    held, release = hold_first_rollout(monkeypatch)
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await asked_mid_rollout(pilot, held)
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen, "back on the flow")
        release.set()
        out = await wait_until(pilot, lambda: not screen.flow.running and screen.flow.outcome, "the outcome")
        assert out.ok, out.message
        assert configured(api).scheduler == "wrr"
