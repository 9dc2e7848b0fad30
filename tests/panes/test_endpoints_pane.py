"""The EndpointSlices pane: one row per endpoint of the selected Service, every address type, conditions as the API
sent them, and an empty pane that says why."""

from __future__ import annotations

from tests.panes.conftest import SIZE, cells, endpoint, pane_lines, synced, until


WAITING = ("1 pod matches the selector app=waiting, but no EndpointSlice exists yet: the EndpointSlice controller "
           "has not created it.")


def select(main, name: str, ns: str = "dev") -> None:
    assert main.services.move_cursor_to_key((ns, name)), f"{ns}/{name} is not in the Services pane"


async def test_one_row_per_endpoint_with_every_field(kube, app_for):
    kube.service("web", ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    kube.slice("web-a", "web", ports=[{"name": "http", "port": 8080, "protocol": "TCP"}], endpoints=[
        endpoint("10.244.1.5", True, node="node-1", zone="zone-a", pod="web-1", hostname="web-1"),
        endpoint("10.244.2.6", False, node="node-2", zone="zone-b", pod="web-2"),
        endpoint("10.244.3.7", False, serving=True, terminating=True, node="node-3", pod="web-3"),
    ])
    kube.slice("web-b", "web", address_type="IPv6", ports=[{"name": "http", "port": 8080, "protocol": "TCP"}],
               endpoints=[endpoint("fd00:10:244::5", None, node="node-1", pod="web-1")])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.endpoints
        await until(pilot, lambda: pane.total_count == 4, "the endpoints of web")
        assert pane.border_title == "EndpointSlices dev/web (2/4 ready) [4]"
        assert cells(pane, "address") == ["10.244.1.5", "10.244.2.6", "10.244.3.7", "fd00:10:244::5"]
        assert cells(pane, "ports") == ["http:8080/TCP"] * 4
        assert cells(pane, "ready") == ["true", "false", "false", "true*"]  # * : unset, defaults to ready
        assert cells(pane, "serving") == ["true*", "false*", "true", "true*"]
        assert cells(pane, "terminating") == ["false*", "false*", "true", "false*"]
        assert cells(pane, "node") == ["node-1", "node-2", "node-3", "node-1"]
        assert cells(pane, "zone") == ["zone-a", "zone-b", "<none>", "<none>"]
        assert cells(pane, "hostname") == ["web-1", "<none>", "<none>", "<none>"]
        assert cells(pane, "target") == ["Pod/web-1", "Pod/web-2", "Pod/web-3", "Pod/web-1"]
        assert cells(pane, "slice") == ["web-a", "web-a", "web-a", "web-b"]
        levels = [pane.row(k).level for k in pane.visible_keys()]
        assert levels == ["", "error", "warning", ""]  # not ready: red; terminating: yellow
        # what fits 80 columns is on screen, inside the border
        lines = pane_lines(pane)
        assert lines[0].split()[:3] == ["ADDRESS", "PORTS", "READY"] and all(len(x) <= 78 for x in lines)


async def test_fqdn_endpoints_and_more_than_ten_in_slice_order(kube, app_for):
    kube.service("ext", selector=False)
    kube.slice("ext-1", "ext", address_type="FQDN", endpoints=[endpoint("db.example.com", node=None)])
    kube.service("big")
    kube.slice("big-1", "big", endpoints=[endpoint(f"10.0.0.{i}") for i in range(12)])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        select(main, "ext")
        await until(pilot, lambda: cells(main.endpoints, "address") == ["db.example.com"], "the FQDN endpoint")
        select(main, "big")
        await until(pilot, lambda: main.endpoints.total_count == 12, "big's endpoints")
        assert cells(main.endpoints, "address") == [f"10.0.0.{i}" for i in range(12)]  # 10 after 9


async def test_follows_endpoint_changes_of_the_selected_service(kube, app_for):
    kube.service("web")
    kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5", False, pod="web-1")])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.endpoints
        await until(pilot, lambda: cells(pane, "ready") == ["false"], "the unready endpoint")
        kube.patch_slice_endpoints("web-1", [endpoint("10.244.1.5", True, pod="web-1"),
                                             endpoint("10.244.1.6", True, pod="web-2")])
        await until(pilot, lambda: cells(pane, "ready") == ["true", "true"], "both ready")
        assert pane.border_title == "EndpointSlices dev/web (2/2 ready) [2]"
        kube.delete_slice("web-1")
        await until(pilot, lambda: pane.total_count == 0, "the slice gone")
        assert "web" in pane_lines(pane)[1]  # and it says why


async def test_empty_pane_says_why(kube, sim, app_for):
    kube.service("manual", selector=False)
    kube.service("lonely", selector={"app": "lonely"})
    kube.service("starting", selector={"app": "starting"})
    kube.service("ext", type="ExternalName", externalName="example.com", selector=False)
    kube.pod("starting-1", {"app": "starting"}, ip=None, node=None)  # no node to run on: no IP, no endpoint
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.endpoints

        async def why(name: str, expected: str) -> None:
            main.services.move_cursor_to_key(("dev", name))
            await until(pilot, lambda: pane.empty_text == expected, f"why {name} is empty: {expected!r}")
            assert pane.total_count == 0

        await why("manual", "manual has no selector, so no EndpointSlice is made for it: add a selector, or create "
                            "EndpointSlices labelled kubernetes.io/service-name=manual.")
        await why("lonely", "The selector app=lonely matches no pod in namespace dev.")
        assert pane.empty_level == "error"
        await why("starting", "1 pod matches the selector app=starting, but none has an IP address yet (not "
                              "scheduled or not started).")
        await why("ext", "ext is an ExternalName Service: it has no endpoints; DNS answers with a CNAME to "
                         "example.com.")
        assert pane.empty_level == ""
        # the EndpointSlice controller falls behind: the pod runs, its slice is not there
        kube.node("node-1")
        sim.controllers.stop()
        kube.service("waiting", selector={"app": "waiting"})
        kube.pod("waiting-1", {"app": "waiting"}, ip="10.244.1.20")
        await until(pilot, lambda: ("dev", "waiting") in main.state.services, "waiting listed")
        await why("waiting", WAITING)
        # the explanation wraps inside the pane instead of running off an 80-column screen
        lines = pane_lines(pane)
        assert len(lines) >= 3 and all(len(line) <= 78 for line in lines)
        assert "EndpointSlice" in " ".join(lines[1:])
        sim.call(sim.controllers.start, sim.loop)  # it catches up: the endpoint replaces the explanation
        await until(pilot, lambda: cells(pane, "address") == [kube.pod_ip("waiting-1")], "the controller's endpoint")
        # and a pod that appears for `lonely` becomes its endpoint
        await why("lonely", "The selector app=lonely matches no pod in namespace dev.")
        kube.pod("lonely-1", {"app": "lonely"}, ip=None, node="node-1")  # the node's kubelet starts it
        await until(pilot, lambda: pane.total_count == 1, "lonely's endpoint")
        assert cells(pane, "address") == [kube.pod_ip("lonely-1")] and cells(pane, "target") == ["Pod/lonely-1"]
