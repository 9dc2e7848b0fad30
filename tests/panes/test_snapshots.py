"""Snapshots of the live panes, the detail views and the pickers (SVGs under snapshots/panes/test_snapshots/).

Sync tests, as snap_compare requires. The simulated cluster runs on a fixed clock an hour before the app's, so
every AGE reads 60m and no wall-clock value reaches an SVG; its ClusterIPs, NodePorts and UIDs are seeded.
Update deliberately: `pytest tests/panes/test_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.panes.conftest import SIM_T0, Kube, endpoint, fixed_now, make_app
from tui.screens.main import MainScreen
from tui.sim.cluster import SimCluster

SIZES = [(80, 24), (160, 48)]


def populate(kube: Kube) -> None:
    """A small cluster with every kind of Service and every state the panes colour."""
    kube.namespaces("dev", "kube-system", "secret")
    kube.service("web", type="NodePort", ports=[{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30002}],
                 labels={"app": "web", "tier": "front"})
    kube.service("api", ports=[{"name": "grpc", "port": 9090, "targetPort": 9090}], sessionAffinity="ClientIP")
    kube.service("shop", type="LoadBalancer", ports=[{"port": 443, "targetPort": 8443, "nodePort": 31443}])
    kube.service("worker", selector={"app": "worker"})
    kube.service("db", type="ExternalName", externalName="db.example.com", selector=False)
    kube.service("legacy", selector=False)
    kube.service("kube-dns", "kube-system", selector={"k8s-app": "kube-dns"}, clusterIP="10.96.0.10",
                 ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53},
                        {"name": "metrics", "port": 9153}])
    kube.slice("web-7xk2p", "web", ports=[{"name": "http", "port": 8080, "protocol": "TCP"}], endpoints=[
        endpoint("10.244.1.12", True, node="node-1", zone="zone-a", pod="web-6d4b9-abcde"),
        endpoint("10.244.2.17", True, node="node-2", zone="zone-b", pod="web-6d4b9-fghij"),
        endpoint("10.244.2.18", False, node="node-2", zone="zone-b", pod="web-6d4b9-klmno"),
        endpoint("10.244.1.13", False, serving=True, terminating=True, node="node-1", zone="zone-a",
                 pod="web-5c8f7-pqrst"),
    ])
    kube.slice("api-9qw3e", "api", ports=[{"name": "grpc", "port": 9090, "protocol": "TCP"}],
               endpoints=[endpoint("10.244.1.20", False, node="node-1", pod="api-0")])
    kube.slice("shop-m2k4d", "shop", endpoints=[endpoint("10.244.2.30", node="node-2", pod="shop-0")],
               ports=[{"name": "", "port": 8443, "protocol": "TCP"}])
    kube.pod("worker-0", {"app": "worker"}, ip="10.244.1.40")
    kube.slice("kube-dns-h8s9x", "kube-dns", "kube-system", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "metrics", "port": 9153, "protocol": "TCP"}],
        endpoints=[endpoint("10.244.0.2", node="node-1", pod="coredns-0", ns="kube-system"),
                   endpoint("10.244.0.3", node="node-2", pod="coredns-1", ns="kube-system")])


@pytest.fixture
def snap_sim():
    sim = SimCluster(scenario="empty", clock=lambda: SIM_T0, bookmark_interval=0.5).start()
    try:
        populate(Kube(sim))
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def snap_app(snap_sim, tmp_path, xdg):
    kubeconfig = snap_sim.write_kubeconfig(tmp_path / "kubeconfig")
    return lambda: make_app(kubeconfig, clock=fixed_now, demo=True)


async def _synced(pilot) -> None:
    main = pilot.app.screen_stack[0]
    assert isinstance(main, MainScreen)
    for _ in range(400):
        if main.is_synced() and main.services.total_count:
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
        await pilot.pause(0.2)
        await pilot.wait_for_scheduled_animations()

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, snap_app, size):
    assert snap_compare(snap_app(), terminal_size=size, run_before=keys_then_settle("end", "up"))


def test_all_namespaces_wide(snap_compare, snap_app):
    keys = ("colon", *"ns all", "enter")
    assert snap_compare(snap_app(), terminal_size=(160, 48), run_before=keys_then_settle(*keys))


def test_endpoints_focused_with_every_column(snap_compare, snap_app):
    keys = ("end", "up", "enter", "w")  # web: its four endpoints, all columns
    assert snap_compare(snap_app(), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


def test_empty_pane_explains_why(snap_compare, snap_app):
    # worker: a pod matches, no EndpointSlice yet
    assert snap_compare(snap_app(), terminal_size=(80, 24),
                        run_before=keys_then_settle("home", *["down"] * 5, wait_for="why"))


def test_filtered_by_label(snap_compare, snap_app):
    keys = ("slash", *"-l tier=front", "enter")
    assert snap_compare(snap_app(), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


def test_filter_line_open(snap_compare, snap_app):
    keys = ("slash", *"!web")
    assert snap_compare(snap_app(), terminal_size=(80, 24), run_before=keys_then_settle(*keys))


@pytest.mark.parametrize("mode", ["y", "d"])
def test_detail(snap_compare, snap_app, mode):
    keys = ("end", "up", mode)  # web
    assert snap_compare(snap_app(), terminal_size=(80, 24),
                        run_before=keys_then_settle(*keys, wait_for="events" if mode == "d" else None))


def test_namespace_picker(snap_compare, snap_app):
    async def run(pilot) -> None:
        for _ in range(200):
            if pilot.app.known_namespaces:
                break
            await pilot.pause(0.05)
        await keys_then_settle("colon", *"ns", "enter")(pilot)

    assert snap_compare(snap_app(), terminal_size=(80, 24), run_before=run)


def test_context_picker(snap_compare, snap_sim, tmp_path, xdg):
    doc_path = snap_sim.write_kubeconfig(tmp_path / "kubeconfig")
    import yaml

    doc = yaml.safe_load(doc_path.read_text())
    doc["contexts"].append({"name": "staging", "context": {"cluster": doc["clusters"][0]["name"],
                                                           "user": doc["users"][0]["name"], "namespace": "apps"}})
    doc_path.write_text(yaml.safe_dump(doc))
    app = make_app(Path(doc_path), clock=fixed_now, demo=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys_then_settle("colon", *"ctx", "enter"))
