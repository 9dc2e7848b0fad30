"""Fixtures for the pane tests: the app built by the CLI's factory against the simulated cluster over real HTTP,
objects created with the real kubernetes client, and helpers that read the panes as a user sees them.

Until the sim's controllers run in every test, tests create EndpointSlices and pods themselves, as the controllers
would, through the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
from kubernetes.client import CoreV1Api, DiscoveryV1Api

from tui.app import AppOptions, SvcscopeApp, create_app
from tui.config import StateStore, state_dir
from tui.kube.client import connect
from tui.screens.main import MainScreen
from tui.sim.cluster import SimCluster
from tui.widgets.pane import LivePane

SIZE = (80, 24)
SIM_T0 = datetime(2024, 5, 1, 11, 0, 0, tzinfo=timezone.utc)  # the sim's clock for snapshot clusters
FIXED_NOW = SIM_T0 + timedelta(hours=1)  # the app's clock: every AGE is "60m"


def fixed_now() -> datetime:
    return FIXED_NOW


class Kube:
    """The cluster side of a test: what an admin (or the controllers) would do, through the real client."""

    def __init__(self, sim: SimCluster) -> None:
        self.sim = sim
        api = sim.api_client()
        self.v1 = CoreV1Api(api)
        self.disc = DiscoveryV1Api(api)

    def namespaces(self, *names: str) -> None:
        for name in names:
            self.v1.create_namespace({"metadata": {"name": name}})

    def service(self, name: str, ns: str = "dev", *, type: str = "ClusterIP", selector: dict | None = None,
                ports: list[dict] | None = None, labels: dict | None = None, **spec: Any) -> dict:
        body = {"metadata": {"name": name, "labels": labels if labels is not None else {"app": name}},
                "spec": {"type": type, **spec}}
        if type != "ExternalName":
            body["spec"]["ports"] = ports if ports is not None else [{"port": 80, "targetPort": 8080}]
        if selector is not False:
            body["spec"]["selector"] = selector if selector is not None else {"app": name}
        return self.v1.create_namespaced_service(ns, body)

    def slice(self, name: str, service: str, ns: str = "dev", *, endpoints: Iterable[dict] = (),
              address_type: str = "IPv4", ports: list[dict] | None = None) -> Any:
        body = {"metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
                "addressType": address_type, "endpoints": list(endpoints),
                "ports": ports if ports is not None else [{"name": "", "port": 8080, "protocol": "TCP"}]}
        return self.disc.create_namespaced_endpoint_slice(ns, body)

    def replace_slice(self, name: str, service: str, ns: str = "dev", **kw: Any) -> Any:
        self.disc.delete_namespaced_endpoint_slice(name, ns)
        return self.slice(name, service, ns, **kw)

    def patch_slice_endpoints(self, name: str, endpoints: list[dict], ns: str = "dev") -> Any:
        return self.disc.patch_namespaced_endpoint_slice(name, ns, {"endpoints": endpoints})

    def pod(self, name: str, labels: dict, ns: str = "dev", ip: str | None = "10.244.1.10",
            node: str | None = "node-1") -> Any:
        """A pod as a kubelet reports it. On a node the sim knows, its kubelet takes over (and picks the IP); on
        another node, or with no node, the pod stays as given (a pod without IP is one that has not started)."""
        status: dict[str, Any] = {"phase": "Running" if ip else "Pending"}
        if ip:
            status.update(podIP=ip, podIPs=[{"ip": ip}],
                          conditions=[{"type": "Ready", "status": "True"}])
        return self.v1.create_namespaced_pod(ns, {
            "metadata": {"name": name, "labels": labels},
            "spec": {**({"nodeName": node} if node else {}), "containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })

    def node(self, name: str, pod_cidr: str = "10.244.1.0/24", zone: str = "zone-a") -> Any:
        """A Ready node: pods bound to it are started by the sim's kubelet (an IP from `pod_cidr`)."""
        return self.v1.create_node({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.10.21"}]},
        })

    def pod_ip(self, name: str, ns: str = "dev") -> str:
        return self.v1.read_namespaced_pod(name, ns).status.pod_ip or ""

    def delete_service(self, name: str, ns: str = "dev") -> None:
        self.v1.delete_namespaced_service(name, ns)

    def delete_slice(self, name: str, ns: str = "dev") -> None:
        self.disc.delete_namespaced_endpoint_slice(name, ns)


def endpoint(ip: str, ready: bool | None = True, *, node: str | None = "node-1", pod: str | None = None,
             zone: str | None = None, hostname: str | None = None, serving: bool | None = None,
             terminating: bool | None = None, ns: str = "dev") -> dict:
    conditions = {k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating))
                  if v is not None}
    ep: dict[str, Any] = {"addresses": [ip], "conditions": conditions}
    if node:
        ep["nodeName"] = node
    if zone:
        ep["zone"] = zone
    if hostname:
        ep["hostname"] = hostname
    if pod:
        ep["targetRef"] = {"kind": "Pod", "name": pod, "namespace": ns}
    return ep


@pytest.fixture
def kube(sim: SimCluster) -> Kube:
    k = Kube(sim)
    k.namespaces("dev", "kube-system")
    return k


def make_app(kubeconfig: Path, *, clock: Callable[[], datetime] | None = None, **options: Any) -> SvcscopeApp:
    conn = connect(str(kubeconfig), env={})
    kwargs: dict[str, Any] = {"options": AppOptions(**options), "state": StateStore(state_dir())}
    if clock is not None:
        kwargs["clock"] = clock
    return create_app(conn, **kwargs)


@pytest.fixture
def app_for(sim_kubeconfig: Path, xdg) -> Callable[..., SvcscopeApp]:
    """The app on `sim`, namespace dev (the kubeconfig's), with the real clock unless one is given."""
    return lambda **kw: make_app(sim_kubeconfig, **kw)


# -- reading the screen ----------------------------------------------------------------------------------------


def main_screen(app: SvcscopeApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def pane_lines(pane: LivePane) -> list[str]:
    """The pane's lines as rendered (header first), trailing blanks dropped."""
    lines = [pane.render_line(y).text.rstrip() for y in range(pane.scrollable_content_region.height)]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def cells(pane: LivePane, column: str) -> list[str]:
    """One column of the rows shown, in order (every cell, whether or not the column is on screen)."""
    index = [c.key for c in type(pane).SPEC].index(column)
    return [pane.row(k).cells[index] for k in pane.visible_keys()]


def names(pane: LivePane) -> list[str]:
    return [k[1] for k in pane.visible_keys()]


def screen_text(app: SvcscopeApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot, condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll while the app runs (workers are threads) until `condition()` is truthy; generous, never a fixed sleep."""
    loops = int(timeout / 0.05)
    for _ in range(loops):
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def synced(pilot) -> MainScreen:
    main = main_screen(pilot.app)
    await until(pilot, main.is_synced, "the panes' first list")
    await pilot.pause()
    return main
