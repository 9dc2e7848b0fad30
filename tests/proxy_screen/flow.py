"""Driving the kube-proxy screen the way an admin does (`:proxy`, `s`, the dialogs), and reading the cluster back
through the kubernetes client to check what the screen claims."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from kubernetes import client as k8s
from textual.widgets import Checkbox, Select

from tui.kube.models import PodView
from tui.kube.proxy_config import ProxyConfig, parse
from tui.screens.proxy import ProxyScreen
from tui.screens.proxy_dialogs import ConfirmDialog, PreflightDialog, SwitchDialog
from tui.sim.controllers.kubeproxy import PROXY_MODE_ANNOTATION, SCHEDULER_ANNOTATION

SIZE = (80, 24)


async def wait_until(pilot, predicate: Callable[[], Any], what: str, attempts: int = 1800) -> Any:
    """Up to ~90 s (rollouts of three nodes on a loaded machine), polling every 50 ms."""
    for _ in range(attempts):
        value = predicate()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def open_proxy(pilot) -> ProxyScreen:
    await pilot.press("colon", *"proxy", "enter")
    screen = await wait_until(pilot, lambda: isinstance(pilot.app.screen, ProxyScreen) and pilot.app.screen,
                              "the kube-proxy screen")
    await wait_until(pilot, lambda: screen.status is not None and len(screen.status.nodes) == 3, "the status")
    return screen


async def choose(pilot, screen: ProxyScreen, mode: str | None = None, scheduler: str | None = None,
                 strict_arp: bool | None = None) -> SwitchDialog:
    await pilot.press("s")
    dialog = await wait_until(pilot, lambda: isinstance(pilot.app.screen, SwitchDialog) and pilot.app.screen.query(
        "#switch-next") and pilot.app.screen, "the switch dialog")
    if mode is not None:
        dialog.query_one("#switch-mode", Select).value = mode
    if scheduler is not None:
        dialog.query_one("#switch-scheduler", Select).value = scheduler
    if strict_arp is not None:
        dialog.query_one("#switch-strict-arp", Checkbox).value = strict_arp
    await pilot.pause()
    return dialog


async def press_button(pilot, button_id: str) -> None:
    """Press a button of the screen on top, once it is mounted (a modal pushed from a worker mounts a bit later)."""
    from textual.widgets import Button

    button = await wait_until(pilot, lambda: pilot.app.screen.query(button_id).first(Button)
                              if pilot.app.screen.query(button_id) else None, f"the {button_id} button")
    button.press()
    await pilot.pause()


async def to_preflight(pilot) -> PreflightDialog:
    await press_button(pilot, "#switch-next")
    return await wait_until(pilot, lambda: isinstance(pilot.app.screen, PreflightDialog) and pilot.app.screen,
                            "the preflight dialog")


async def to_confirm(pilot, answer: str = "#preflight-continue") -> ConfirmDialog:
    await press_button(pilot, answer)
    return await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog) and pilot.app.screen,
                            "the confirmation with the diff")


async def finish(pilot, screen: ProxyScreen) -> ProxyScreen:
    await wait_until(pilot, lambda: pilot.app.screen is screen and screen.flow.outcome is not None
                     and not screen.flow.running, "the end of the flow")
    return screen


async def switch(pilot, screen: ProxyScreen, mode: str | None = None, scheduler: str | None = None,
                 strict_arp: bool | None = None, preflight: str = "#preflight-continue",
                 meanwhile: Callable[[ConfirmDialog], Awaitable[None] | None] | None = None) -> ProxyScreen:
    """The whole switch through the dialogs; `meanwhile` runs while the diff waits for Apply."""
    await choose(pilot, screen, mode, scheduler, strict_arp)
    await to_preflight(pilot)
    confirm = await to_confirm(pilot, preflight)
    if meanwhile is not None:
        result = meanwhile(confirm)
        if result is not None:
            await result
    await press_button(pilot, "#confirm-apply")
    return await finish(pilot, screen)


# -- the cluster, read back through the kubernetes client ---------------------------------------------------------

def configured(api: k8s.ApiClient) -> ProxyConfig:
    cm = k8s.CoreV1Api(api).read_namespaced_config_map("kube-proxy", "kube-system")
    return parse(cm.data["config.conf"])


def kube_proxy_pods(api: k8s.ApiClient) -> list[PodView]:
    raw = k8s.CoreV1Api(api).list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy",
                                                  _preload_content=False)
    return [PodView.from_api(p) for p in json.loads(raw.data)["items"]]


def running_pods(api: k8s.ApiClient) -> dict[str, tuple[str, str]]:
    """node -> (mode, scheduler) its live, Ready kube-proxy pod started with."""
    out = {}
    for p in kube_proxy_pods(api):
        if p.ready and not p.deleting:
            ann = dict(p.annotations)
            out[p.node_name] = (ann.get(PROXY_MODE_ANNOTATION, ""), ann.get(SCHEDULER_ANNOTATION, ""))
    return out
