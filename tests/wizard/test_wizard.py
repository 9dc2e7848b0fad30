"""The wizard from the keyboard against the demo cluster: each Service type filled in, reviewed, dry-run and
created, then selected in the Services pane with its EndpointSlices; invalid inputs blocked with the apiserver's
words; server refusals (409, 422, 403) back on their fields with nothing typed lost; delete; --read-only."""

from __future__ import annotations

import pytest
from kubernetes import client
from textual.widgets import Input, Static

from tests.wizard.pilot import (choose, choose_kind, error_text, open_wizard, port_field, tab_to, toggle,
                                type_into, wait_until)
from tui.kube.service_spec import CLUSTER_IP, EXTERNAL_NAME, HEADLESS, LOAD_BALANCER, NODE_PORT
from tui.screens.confirm import ConfirmScreen
from tui.screens.main import MainScreen
from tui.screens.wizard import WizardScreen
from tui.sim.rbac import READ_VERBS, RbacRules, Rule
from tui.sim.resources import BY_KIND
from tui.sim.cluster import SimCluster

SIZE = (80, 24)
SERVICE = BY_KIND["Service"]


def stored(sim, name: str, namespace: str = "dev") -> dict | None:
    return sim.store.get(SERVICE, namespace, name)


async def review_and_create(pilot, screen: WizardScreen) -> None:
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: screen.mode == "review", "the review")
    yaml_text = str(screen.query_one("#yaml", Static).content)
    assert yaml_text  # the exact YAML is shown before anything is sent
    await pilot.press("enter")  # server dry run
    await wait_until(pilot, lambda: screen.dry_run_ok is not None, "the dry run")
    await pilot.press("enter")  # create


async def selected_in_pane(pilot, key: tuple[str, str]) -> MainScreen:
    app = pilot.app
    main = await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen, "the main screen")
    await wait_until(pilot, lambda: main.services.cursor_key == key, f"{key} selected in the Services pane")
    assert main.services.has_focus
    return main


async def test_clusterip_from_the_keyboard_appears_selected_with_its_endpoints(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        assert pilot.app.focused.id == "name"
        await type_into(pilot, "name", "web")
        await type_into(pilot, "selector", "app=nginx-pod")
        assert "matches 3 pods in dev, 3 ready" in str(screen.query_one("#hint-selector", Static).content)
        await port_field(pilot, screen, 0, "name", "http")
        await port_field(pilot, screen, 0, "port", "80")
        await port_field(pilot, screen, 0, "target", "80")
        await review_and_create(pilot, screen)
        # the dry run said what the server fills in; nothing was created by it
        main = await selected_in_pane(pilot, ("dev", "web"))
        obj = stored(demo, "web")
        assert obj["spec"]["selector"] == {"app": "nginx-pod"} and obj["spec"]["ports"][0]["name"] == "http"
        await wait_until(pilot, lambda: main.endpoints.total_count == 3, "the new Service's EndpointSlices")


async def test_dry_run_shows_what_the_server_fills_in_and_creates_nothing(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "dry")
        await choose_kind(pilot, NODE_PORT)
        await port_field(pilot, screen, 0, "port", "80")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.mode == "review", "the review")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.dry_run_ok is not None, "the dry run")
        filled = str(screen.query_one("#filled", Static).content)
        assert "spec.clusterIP: 10." in filled and "spec.ports[0].nodePort: 3" in filled
        assert "spec.externalTrafficPolicy: Cluster" in filled
        assert stored(demo, "dry") is None
        await pilot.press("escape")  # back to the form, everything kept
        assert screen.mode == "form" and screen.query_one("#name", Input).value == "dry"


async def test_headless_with_publish_not_ready(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "peers")
        await choose_kind(pilot, HEADLESS)
        assert not screen.query_one("#row-cluster-ip").display  # fixed at None: hidden
        await type_into(pilot, "selector", "app=nginx-pod")
        await port_field(pilot, screen, 0, "port", "80")
        await toggle(pilot, "publish")
        await review_and_create(pilot, screen)
        await selected_in_pane(pilot, ("dev", "peers"))
        spec = stored(demo, "peers")["spec"]
        assert spec["clusterIP"] == "None" and spec["publishNotReadyAddresses"] is True


async def test_nodeport_with_a_chosen_node_port_and_client_ip_affinity(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "np")
        await choose_kind(pilot, NODE_PORT)
        hint = str(screen.query_one("#hint-ports", Static).content)
        assert "allocated from 30000-32767" in hint and "taken: 30002" in hint
        await type_into(pilot, "selector", "app=nginx-pod")
        await port_field(pilot, screen, 0, "port", "80")
        await port_field(pilot, screen, 0, "node-port", "30080")
        await choose(pilot, "affinity", "ClientIP")
        await type_into(pilot, "timeout", "600")
        await choose(pilot, "etp", "Local")
        await review_and_create(pilot, screen)
        main = await selected_in_pane(pilot, ("dev", "np"))
        spec = stored(demo, "np")["spec"]
        assert spec["ports"][0]["nodePort"] == 30080 and spec["externalTrafficPolicy"] == "Local"
        assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
        assert "80:30080/TCP" in main.services.row(("dev", "np")).cells


async def test_loadbalancer_with_source_ranges_and_labels(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "lb")
        await choose_kind(pilot, LOAD_BALANCER)
        await type_into(pilot, "selector", "app=nginx-pod")
        await port_field(pilot, screen, 0, "port", "443")
        await port_field(pilot, screen, 0, "target", "80")
        await type_into(pilot, "lb-ranges", "10.0.0.0/8, 192.168.0.0/16")
        await type_into(pilot, "labels", "tier=edge")
        await type_into(pilot, "annotations", "owner=ops")
        await review_and_create(pilot, screen)
        await selected_in_pane(pilot, ("dev", "lb"))
        obj = stored(demo, "lb")
        assert obj["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8", "192.168.0.0/16"]
        assert obj["metadata"]["labels"] == {"tier": "edge"} and obj["metadata"]["annotations"]["owner"] == "ops"
        assert 30000 <= obj["spec"]["ports"][0]["nodePort"] <= 32767


async def test_externalname_hides_what_it_does_not_use(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot, "create externalname")
        assert screen.spec.kind == EXTERNAL_NAME
        for fid in ("selector", "cluster-ip", "affinity", "itp", "external-ips", "lb-class"):
            assert not screen.query_one(f"#row-{fid}").display, fid
        await type_into(pilot, "name", "db")
        await type_into(pilot, "external-name", "db.example.com")
        await port_field(pilot, screen, 0, "port", "5432")
        await review_and_create(pilot, screen)
        main = await selected_in_pane(pilot, ("dev", "db"))
        assert stored(demo, "db")["spec"]["externalName"] == "db.example.com"
        assert "db.example.com" in main.services.row(("dev", "db")).cells


async def test_selector_and_target_port_from_the_live_pods(demo, make_app):
    """A Deployment with a named container port: its label is offered for the selector, the pod count follows the
    rollout live, and targetPort completes the port's name."""
    api = demo.api_client()
    dep = {"metadata": {"name": "api"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                    "template": {"metadata": {"labels": {"app": "api"}},
                                 "spec": {"containers": [{"name": "api", "image": "api:1",
                                                          "ports": [{"name": "api-http", "containerPort": 8080}]}]}}}}
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("dev", dep)
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        hint = lambda: str(screen.query_one("#hint-selector", Static).content)  # noqa: E731
        await wait_until(pilot, lambda: "app=api (2)" in hint(), "the Deployment's pods among the labels")
        await tab_to(pilot, "selector")
        await pilot.press(*"app=a", "right")  # the suggestion completes the label
        assert screen.query_one("#selector", Input).value == "app=api"
        await wait_until(pilot, lambda: "matches 2 pods in dev, 2 ready" in hint(), "the count")
        apps.patch_namespaced_deployment_scale("api", "dev", {"spec": {"replicas": 3}})
        await wait_until(pilot, lambda: "matches 3 pods in dev" in hint(), "the count to follow the scale-up")
        assert "api-http (8080/TCP)" in str(screen.query_one("#hint-ports", Static).content)
        await port_field(pilot, screen, 0, "target", "api")
        await pilot.press("right")  # accept the suggestion
        assert screen.port_rows[0].read().target_port == "api-http"
    api.close()


# -- invalid inputs: the apiserver's words next to the field, and no review ------------------------------------

RANGE = "must be between 1 and 65535, inclusive"
NODE_RANGE = "provided port is not in the valid range. The range of valid ports is 30000-32767"
TIMEOUT = "must be greater than 0 and less than 86400"


async def set_up(pilot, screen, kind=CLUSTER_IP, ports=("80",)):
    await type_into(pilot, "name", "bad")
    if kind != CLUSTER_IP:
        await choose_kind(pilot, kind)
    for i, port in enumerate(ports):
        if i:
            await pilot.press("ctrl+n")
            await pilot.pause()
        await port_field(pilot, screen, i, "port", port)


INVALID = {
    "bad name": (CLUSTER_IP, ("80",), [("name", "Web1.x")], "name",
                 'metadata.name: Invalid value: "Web1.x": a DNS-1035 label must consist of lower case'),
    "port 0": (CLUSTER_IP, ("0",), [], "ports", f"spec.ports[0].port: Invalid value: 0: {RANGE}"),
    "port 70000": (CLUSTER_IP, ("70000",), [], "ports", f"spec.ports[0].port: Invalid value: 70000: {RANGE}"),
    "duplicate ports": (CLUSTER_IP, ("80", "80"), [("p-0-name", "a"), ("p-1-name", "b")], "ports",
                        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP"'),
    "unnamed ports": (CLUSTER_IP, ("80", "443"), [("p-0-name", "http")], "ports",
                      "spec.ports[1].name: Required value"),
    "nodePort out of range": (NODE_PORT, ("80",), [("p-0-node-port", "20000")], "ports",
                              f"spec.ports[0].nodePort: Invalid value: 20000: {NODE_RANGE}"),
    "nodePort taken": (NODE_PORT, ("80",), [("p-0-node-port", "30002")], "ports",
                       "spec.ports[0].nodePort: Invalid value: 30002: provided port is already allocated"),
    "ExternalName bad host": (EXTERNAL_NAME, ("80",), [("external-name", "Bad_Host")], "external-name",
                              'spec.externalName: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain'),
    "ClientIP timeout 0": (CLUSTER_IP, ("80",), [("affinity", "ClientIP"), ("timeout", "0")], "timeout",
                           f"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: {TIMEOUT}"),
    "ClientIP timeout 86401": (CLUSTER_IP, ("80",), [("affinity", "ClientIP"), ("timeout", "86401")], "timeout",
                               f"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: {TIMEOUT}"),
    "NodePort with clusterIP None": (NODE_PORT, ("80",), [("cluster-ip", "None")], "cluster-ip",
                                     "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for "
                                     "NodePort services"),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_input_shows_the_apiservers_message_and_blocks_the_review(demo, make_app, case):
    kind, ports, edits, fid, message = INVALID[case]
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await set_up(pilot, screen, kind, ports)
        for target, text in edits:
            if target.startswith("p-"):
                _, index, part = target.split("-", 2)
                await port_field(pilot, screen, int(index), part, text)
            elif target == "affinity":
                await choose(pilot, target, text)
            else:
                await type_into(pilot, target, text)
        await pilot.press("tab")  # leave the field: its errors show
        await pilot.pause()
        assert message in error_text(screen, fid), error_text(screen, fid)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.mode == "form"  # blocked
        assert "to fix" in str(screen.query_one("#title", Static).content)
        assert stored(demo, "bad") is None


# -- the server's refusals land on their fields, nothing typed is lost -------------------------------------------

async def test_409_lands_on_the_name_and_keeps_the_form(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "service-clusterip")
        await type_into(pilot, "selector", "app=other")
        await port_field(pilot, screen, 0, "port", "8080")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.mode == "review", "the review")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.mode == "form", "the form again")
        assert 'services "service-clusterip" already exists' in error_text(screen, "name")
        assert pilot.app.focused.id == "name"
        assert screen.query_one("#selector", Input).value == "app=other"
        assert screen.port_rows[0].read().port == "8080"
        assert stored(demo, "service-clusterip")["spec"]["ports"][0]["port"] == 80  # untouched


async def test_422_only_the_server_knows_lands_on_the_cluster_ip(demo, make_app):
    taken_ip = stored(demo, "service-clusterip")["spec"]["clusterIP"]
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "twin")
        await type_into(pilot, "cluster-ip", taken_ip)
        await port_field(pilot, screen, 0, "port", "80")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.mode == "review", "the review")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.mode == "form", "the form again")
        text = error_text(screen, "cluster-ip")
        assert text.startswith("spec.clusterIPs") and "already allocated" in text
        assert screen.query_one("#cluster-ip", Input).value == taken_ip


async def test_403_says_who_may_not_and_keeps_the_form(make_app):
    sim = SimCluster(scenario="tutorial", rbac=RbacRules([Rule(verbs=READ_VERBS)])).start()
    try:
        async with make_app(sim=sim).run_test(size=SIZE) as pilot:
            screen = await open_wizard(pilot)
            await type_into(pilot, "name", "nope")
            await port_field(pilot, screen, 0, "port", "80")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: screen.mode == "review", "the review")
            await pilot.press("enter")
            await wait_until(pilot, lambda: screen.mode == "form", "the form again")
            text = error_text(screen, "form")
            assert "does not allow" in text and "403 Forbidden" in text
            assert screen.query_one("#name", Input).value == "nope"
    finally:
        sim.stop()


# -- delete, save, read-only ------------------------------------------------------------------------------------

async def test_delete_asks_naming_the_service_then_deletes_it(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.is_synced(), "the panes")
        main = app.screen
        main.select_service("dev", "service-nodeport")
        await wait_until(pilot, lambda: main.services.cursor_key == ("dev", "service-nodeport"), "the cursor")
        await pilot.press("ctrl+d")
        dialog = await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the dialog")
        assert "Delete Service service-nodeport in namespace dev?" in str(dialog.query_one("#question").content)
        await pilot.press("enter")  # the focus starts on Cancel: a stray enter deletes nothing
        assert stored(demo, "service-nodeport") is not None
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog again")
        await pilot.press("y")
        await wait_until(pilot, lambda: stored(demo, "service-nodeport") is None, "the delete")
        await wait_until(pilot, lambda: main.services.row(("dev", "service-nodeport")) is None, "the row to go")


async def test_read_only_blocks_delete_and_create_with_the_reason_but_saves_the_yaml(demo, make_app, tmp_path):
    async with make_app(read_only=True).run_test(size=SIZE) as pilot:
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.is_synced(), "the panes")
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # no dialog
        assert any("blocked: svcscope was started with --read-only" in str(n.message) for n in app._notifications)
        screen = await open_wizard(pilot)
        assert "read-only" in str(screen.query_one("#title", Static).content)
        await type_into(pilot, "name", "ro")
        await port_field(pilot, screen, 0, "port", "80")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.mode == "review", "the review")
        await pilot.press("enter")
        await pilot.pause()
        status = str(screen.query_one("#review-status", Static).content)
        assert "is blocked: svcscope was started with --read-only" in status
        assert stored(demo, "ro") is None
        target = tmp_path / "ro.yaml"
        await pilot.press("s")
        await wait_until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "prompt", "the prompt")
        await pilot.press("ctrl+a", "ctrl+k", *str(target), "enter")
        await wait_until(pilot, lambda: target.exists(), "the file")
        assert target.read_text() == screen.spec.to_yaml()
        assert "name: ro" in target.read_text()


async def test_the_command_palette_opens_the_wizard_and_a_bad_type_is_refused(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        app = pilot.app
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.is_synced(), "the panes")
        await pilot.press("colon", *"create sctp", "enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert any("'sctp' is not a Service type" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*":create")
        await pilot.pause(0.5)
        await pilot.press("enter")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen, "the wizard")
        assert screen.spec.kind == CLUSTER_IP
        await pilot.press("escape")  # leaves without creating
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


async def test_creating_in_another_namespace_follows_it_there(demo, make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await type_into(pilot, "name", "elsewhere")
        await type_into(pilot, "namespace", "default")
        await wait_until(pilot, lambda: screen._pod_cache is not None and screen._pod_cache.namespace == "default"
                         and screen._pods_listed, "the pods of the namespace typed")
        await port_field(pilot, screen, 0, "port", "80")
        await review_and_create(pilot, screen)
        await selected_in_pane(pilot, ("default", "elsewhere"))
        assert pilot.app.scope.namespace == "default"
        assert stored(demo, "elsewhere", "default") is not None and stored(demo, "elsewhere") is None
