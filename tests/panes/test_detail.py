"""`y` and `d` on a Service: its YAML and its describe, each byte for byte what the real kubectl prints for the same
Service on the same simulated cluster; the view follows changes, says when the Service is deleted, esc goes back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.panes.conftest import SIZE, endpoint, synced, until
from tui.kube.describe import tabwrite
from tui.screens.detail import DetailScreen
from tui.screens.main import MainScreen


def kubectl(kubeconfig: Path, tmp_path: Path, *args: str) -> str:
    out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), f"--cache-dir={tmp_path / 'kc-cache'}",
                          *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


SHAPES = {
    "web": dict(type="NodePort", labels={"app": "web", "tier": "front"},
                ports=[{"name": "http", "port": 80, "targetPort": 8080},
                       {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]),
    "lb": dict(type="LoadBalancer", sessionAffinity="ClientIP", externalIPs=["192.0.2.10"],
               ports=[{"port": 443, "targetPort": 8443}]),
    "ext": dict(type="ExternalName", externalName="db.example.com", selector=False),
    "headless": dict(clusterIP="None", ports=[]),
    "many": dict(ports=[{"port": 80, "targetPort": 8080}]),
}


@pytest.fixture
def shapes(kube):
    for name, spec in SHAPES.items():
        kube.service(name, **spec)
    kube.v1.patch_namespaced_service("web", "dev", {"metadata": {"annotations": {
        "note": "short", "long": "x" * 200, "multi": "line one\nline two\n"}}})
    kube.slice("web-1", "web", ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                                      {"name": "dns", "port": 5353, "protocol": "UDP"}],
               endpoints=[endpoint("10.244.1.5"), endpoint("10.244.2.5", False)])
    kube.slice("headless-1", "headless", address_type="IPv6", ports=[],
               endpoints=[endpoint("fd00::1"), endpoint("fd00::2")])
    kube.slice("many-1", "many", endpoints=[endpoint(f"10.0.0.{i}", i != 2) for i in range(7)])
    # two ingress addresses (ipMode VIP), from the sim's stand-in for a cloud load-balancer controller
    kube.v1.patch_namespaced_service("lb", "dev", {"metadata": {"annotations": {
        "sim.svcscope.io/load-balancer-ip": "203.0.113.7,2001:db8::7"}}})
    return kube


@pytest.mark.parametrize("name", list(SHAPES))
async def test_yaml_and_describe_match_kubectl(shapes, app_for, sim_kubeconfig, tmp_path, name):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        main.services.move_cursor_to_key(("dev", name))
        await pilot.pause()
        await pilot.press("y")
        assert isinstance(app.screen, DetailScreen) and app.screen.mode == "yaml"
        assert app.screen.text() == kubectl(sim_kubeconfig, tmp_path, "get", "svc", name, "-n", "dev", "-o", "yaml")
        await pilot.press("d")
        screen = app.screen
        await until(pilot, lambda: screen.events is not None, "the events read")
        assert screen.text() == kubectl(sim_kubeconfig, tmp_path, "describe", "svc", name, "-n", "dev")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_detail_follows_the_service_and_scrolls(kube, app_for):
    kube.service("web", ports=[{"name": f"p{i}", "port": 8000 + i, "targetPort": 9000 + i} for i in range(12)],
                 selector=False)  # no selector: no EndpointSlice until the test makes one
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        await pilot.press("d")
        screen = app.screen
        await until(pilot, lambda: screen.events is not None, "the events read")
        assert "Endpoints:                <none>" in screen.text()
        kube.slice("web-1", "web", ports=[{"name": "p0", "port": 9000, "protocol": "TCP"}],
                   endpoints=[endpoint("10.244.1.5")])
        await until(pilot, lambda: "Endpoints:                10.244.1.5:9000" in screen.text(), "the new endpoint")
        box = screen.query_one("#detail")
        assert box.max_scroll_y > 0  # 12 ports do not fit 24 lines: it scrolls
        await pilot.press("pagedown")
        assert box.scroll_y > 0
        kube.delete_service("web")
        await until(pilot, lambda: box.border_subtitle.startswith("deleted"), "the deletion noticed")
        assert "Name:                     web" in screen.text()  # the last version stays readable
        await pilot.press("y")
        assert screen.mode == "yaml" and screen.text().startswith("apiVersion: v1\n")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_y_without_a_service_says_so(kube, app_for):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await synced(pilot)
        await pilot.press("y")
        assert isinstance(app.screen, MainScreen)
        assert any(n.message == "Select a Service first." for n in app._notifications)


def test_tabwriter_aligns_column_blocks_as_go_does():
    # a cell in column 1 only on the Port line: its block is that line alone
    text = "Name:\tweb\nPort:\thttp\t80/TCP\nTargetPort:\t8080/TCP\nEndpoints:\t\n"
    assert tabwrite(text) == ("Name:        web\nPort:        http  80/TCP\nTargetPort:  8080/TCP\n"
                              "Endpoints:   \n")
