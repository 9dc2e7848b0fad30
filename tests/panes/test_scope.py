"""Namespaces and contexts: `:ns NAME`, the `:ns` and `:ctx` pickers (two simulated clusters, one kubeconfig), the
panes restarting cleanly on each switch, and the last choice remembered for the next session."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from textual.widgets import OptionList

from tests.panes.conftest import SIZE, Kube, make_app, names, synced, until
from tui.config import StateStore, state_dir
from tui.screens.main import MainScreen
from tui.screens.picker import PickerScreen
from tui.sim.cluster import SimCluster


def remembered() -> dict:
    return yaml.safe_load((state_dir() / "state.yaml").read_text())


async def test_ns_name_switches_the_panes(kube, app_for, xdg):
    kube.service("web")
    kube.service("kube-dns", "kube-system", selector={"k8s-app": "kube-dns"})
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert names(main.services) == ["web"]
        await pilot.press("colon", *"ns kube-system", "enter")
        await until(pilot, lambda: main.is_synced() and names(main.services) == ["kube-dns"], "kube-system")
        assert main.services.border_title == "Services (kube-system) [1]"
        assert main.endpoints.border_title.startswith("EndpointSlices kube-system/kube-dns")
        # a Service created in the old namespace does not leak into the new view
        kube.service("late")
        await pilot.pause(0.5)
        assert names(main.services) == ["kube-dns"]
    assert remembered()["namespaces"] == {"svcscope-demo": "kube-system"}


async def test_ns_picker_narrows_picks_and_remembers(kube, app_for, xdg):
    kube.namespaces("monitoring")
    kube.service("prometheus", "monitoring")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        await until(pilot, lambda: "monitoring" in app.known_namespaces, "the namespace list")
        await pilot.press("colon", *"ns", "enter")
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        options = picker.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == [
            "all", "dev", "kube-system", "monitoring"]
        assert options.get_option_at_index(options.highlighted).id == "dev"  # the current one
        await pilot.press(*"mon")
        assert options.option_count == 1
        await pilot.press("enter")
        assert isinstance(app.screen, MainScreen)
        await until(pilot, lambda: names(main.services) == ["prometheus"], "monitoring's Services")
        # esc leaves everything as it was
        await pilot.press("colon", *"ns", "enter", "escape")
        assert isinstance(app.screen, MainScreen) and app.scope.namespace == "monitoring"
    assert remembered()["namespaces"] == {"svcscope-demo": "monitoring"}


async def test_ns_picker_takes_a_typed_name_when_listing_is_forbidden(kube, sim, app_for):
    from tui.sim.rbac import READ_VERBS, RbacRules, Rule

    kube.namespaces("team-a")
    kube.service("svc-a", "team-a")
    sim.server.rbac = RbacRules([Rule(READ_VERBS, namespaces=("dev", "team-a"))])  # may not list namespaces
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        await pilot.press("colon", *"ns", "enter")
        picker = app.screen
        assert "cannot be listed" in str(picker.query_one(".hint").render())
        await pilot.press(*"team-a")
        assert picker.query_one(OptionList).option_count == 0
        await pilot.press("enter")
        await until(pilot, lambda: names(main.services) == ["svc-a"], "team-a's Services")


@pytest.fixture
def second_sim():
    cluster = SimCluster(scenario="empty", bookmark_interval=0.5).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def two_context_kubeconfig(path: Path, one: SimCluster, two: SimCluster) -> Path:
    """One kubeconfig, two clusters: `prod` (namespace dev) and `staging` (namespace apps)."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "prod", "clusters": [], "users": [],
           "contexts": []}
    for name, sim, ns in (("prod", one, "dev"), ("staging", two, "apps")):
        single = sim.kubeconfig_dict(context=name, namespace=ns)
        doc["clusters"].append({"name": f"{name}-cluster", "cluster": single["clusters"][0]["cluster"]})
        doc["users"].append({"name": f"{name}-user", "user": single["users"][0]["user"]})
        doc["contexts"].append({"name": name, "context": {"cluster": f"{name}-cluster", "user": f"{name}-user",
                                                          "namespace": ns}})
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_ctx_picker_switches_cluster_and_remembers(kube, sim, second_sim, tmp_path, xdg):
    kube.service("prod-web")
    staging = Kube(second_sim)
    staging.namespaces("apps")
    staging.service("staging-api", "apps")
    kubeconfig = two_context_kubeconfig(tmp_path / "kubeconfig", sim, second_sim)
    app = make_app(kubeconfig)
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert names(main.services) == ["prod-web"]
        await pilot.press("colon", *"ctx", "enter")
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        options = picker.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == ["prod", "staging"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.scope.context == "staging", "the context switch")
        await until(pilot, lambda: main.is_synced() and names(main.services) == ["staging-api"], "staging's panes")
        assert main.services.border_title == "Services (apps) [1]"
        # the old cluster's changes no longer reach the panes
        kube.service("prod-late")
        await pilot.pause(0.5)
        assert names(main.services) == ["staging-api"]
        await pilot.press("colon", *"ns all", "enter")
        await until(pilot, lambda: main.services.visible_keys() == [("apps", "staging-api")], "staging, all ns")
    state = remembered()
    assert state["last_context"] == "staging" and state["namespaces"]["staging"] == "*"
    # the next session's start-up would pick these up (tui.commands.tui.apply_remembered)
    assert StateStore(state_dir()).namespace_for("staging").all_namespaces
