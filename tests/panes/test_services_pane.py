"""The Services pane against the simulated cluster: it follows creates, changes and deletes, colours what is wrong,
filters, sorts and fits 80 columns. Driven like a user at 80x24."""

from __future__ import annotations

from tests.panes.conftest import SIZE, cells, endpoint, names, pane_lines, synced, until


async def test_follows_services_created_changed_and_deleted(kube, app_for):
    kube.service("web")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.services
        assert names(pane) == ["web"]
        assert pane.border_title == "Services (dev) [1]"
        kube.service("api", type="NodePort", ports=[{"port": 80, "nodePort": 30002, "targetPort": 8080}])
        await until(pilot, lambda: names(pane) == ["api", "web"], "api to appear")
        assert cells(pane, "ports")[0] == "80:30002/TCP"  # kubectl's PORT(S)
        kube.v1.patch_namespaced_service("api", "dev", {"spec": {"ports": [
            {"name": "a", "port": 80, "nodePort": 30002, "targetPort": 8080},
            {"name": "b", "port": 81, "targetPort": 8081, "nodePort": 30003}]}})
        await until(pilot, lambda: cells(pane, "ports")[0] == "80:30002/TCP,81:30003/TCP", "the port change")
        kube.delete_service("web")
        await until(pilot, lambda: names(pane) == ["api"], "web to go")
        assert pane.border_title == "Services (dev) [1]"
        # services of another namespace never show in this one
        kube.service("kube-dns", "kube-system")
        await pilot.pause(0.5)
        assert names(pane) == ["api"]


async def test_endpoints_column_and_colours_follow_the_slices(kube, app_for):
    # Without selectors (slices made by hand, as here): with one, DIAGNOSIS would rightly add "no pod matches"
    kube.service("web", selector=False)
    kube.service("lb", type="LoadBalancer", selector=False)
    kube.service("ext", type="ExternalName", externalName="example.com", selector=False)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.services

        def state(name: str) -> tuple[str, str]:
            row = pane.row(("dev", name))
            return row.cells[6], row.level

        assert state("web") == ("0/0", "error")  # no endpoints
        assert state("ext") == ("-", "")  # ExternalName has none by design
        kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5", False), endpoint("10.244.2.5", False)])
        await until(pilot, lambda: state("web") == ("0/2", "error"), "none ready: error")
        kube.patch_slice_endpoints("web-1", [endpoint("10.244.1.5", True), endpoint("10.244.2.5", False)])
        await until(pilot, lambda: state("web") == ("1/2", "warning"), "some unready: warning")
        kube.slice("web-2", "web", endpoints=[endpoint("10.244.3.5", True)])
        await until(pilot, lambda: state("web") == ("2/3", "warning"), "a second slice counted")
        kube.patch_slice_endpoints("web-1", [endpoint("10.244.1.5", True), endpoint("10.244.2.5", True)])
        await until(pilot, lambda: state("web") == ("3/3", ""), "all ready: no colour")
        kube.slice("lb-1", "lb", endpoints=[endpoint("10.244.1.9", True)])
        await until(pilot, lambda: state("lb") == ("1/1", "warning"), "LoadBalancer pending: warning")
        assert cells(pane, "externalIP")[pane.visible_keys().index(("dev", "lb"))] == "<pending>"
        # the sim's stand-in for a cloud load-balancer controller gives the address this annotation asks for
        kube.v1.patch_namespaced_service("lb", "dev", {"metadata": {"annotations": {
            "sim.svcscope.io/load-balancer-ip": "203.0.113.7"}}})
        await until(pilot, lambda: state("lb") == ("1/1", ""), "the LoadBalancer got its address")
        assert cells(pane, "externalIP")[pane.visible_keys().index(("dev", "lb"))] == "203.0.113.7"
        kube.delete_slice("web-2")
        await until(pilot, lambda: state("web") == ("2/2", ""), "a deleted slice uncounted")


async def test_filter_forms_and_esc(kube, app_for):
    kube.service("web", labels={"app": "web", "tier": "front"})
    kube.service("web-admin", labels={"app": "web-admin", "tier": "back"})
    kube.service("api", labels={"app": "api", "tier": "back"})
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.services
        await pilot.press("slash", *"web")
        assert names(pane) == ["web", "web-admin"]  # as you type
        await pilot.press("enter")
        assert pane.has_focus and pane.border_subtitle == "/web"
        assert pane.border_title == "Services (dev) [2/3]"
        await pilot.press("slash", "ctrl+u", *"!web", "enter")
        assert names(pane) == ["api"]
        await pilot.press("slash", "ctrl+u", *"-l tier=back", "enter")
        assert names(pane) == ["api", "web-admin"]
        await pilot.press("slash", "ctrl+u", *"-l tier in (front),app", "enter")
        assert names(pane) == ["web"]
        # a broken selector is said in one sentence and changes nothing
        await pilot.press("slash", "ctrl+u", *"-l tier in (", "enter")
        assert main.query_one("FilterLine #problem").render().plain.startswith("The label selector")
        await pilot.press("escape")  # cancels the edit: the filter before stays
        assert names(pane) == ["web"]
        await pilot.press("slash", "ctrl+u", *"nothing-like-this", "enter")
        assert pane.row_count == 0
        assert "Nothing matches /nothing-like-this: esc clears the filter." in pane_lines(pane)[1]
        await pilot.press("escape")  # esc in the pane clears the filter
        assert names(pane) == ["api", "web", "web-admin"] and pane.border_subtitle == ""
        # new Services arriving while filtered obey the filter
        await pilot.press("slash", *"web", "enter")
        kube.service("web-2")
        kube.service("db")
        await until(pilot, lambda: names(pane) == ["web", "web-2", "web-admin"], "web-2 under the filter")


async def test_sort_cycles_columns_and_reverses(kube, app_for):
    kube.service("b-svc", type="NodePort")
    kube.service("a-svc")
    kube.service("c-svc", type="ExternalName", externalName="x.example.com", selector=False)
    kube.slice("a-1", "a-svc", endpoints=[endpoint("10.0.0.1"), endpoint("10.0.0.2")])
    kube.slice("b-1", "b-svc", endpoints=[endpoint("10.0.0.3")])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.services
        await until(pilot, lambda: cells(pane, "endpoints") == ["2/2", "1/1", "-"], "counts")
        assert names(pane) == ["a-svc", "b-svc", "c-svc"]
        await pilot.press("s")  # NAME
        assert pane.sort_key == ("name", False)
        assert pane_lines(pane)[0].startswith("NAME ^")
        await pilot.press("S")
        assert names(pane) == ["c-svc", "b-svc", "a-svc"]
        assert pane_lines(pane)[0].startswith("NAME v")
        await pilot.press("s")  # TYPE
        assert pane.sort_key == ("type", False)
        assert cells(pane, "type") == ["ClusterIP", "ExternalName", "NodePort"]
        for _ in range(2):  # CLUSTER-IP, PORT(S) (at 80 columns EXTERNAL-IP gives way to DIAGNOSIS)
            await pilot.press("s")
        await pilot.press("s")
        assert pane.sort_key == ("endpoints", False)
        assert names(pane) == ["c-svc", "b-svc", "a-svc"]  # by ready count, not by text
        # the cursor stays on its Service through re-sorts
        await pilot.press("home", "down")
        assert pane.cursor_key == ("dev", "b-svc")
        await pilot.press("S")
        assert pane.cursor_key == ("dev", "b-svc")
        while pane.sort_key[0] is not None:  # cycles back to the default order
            await pilot.press("s")
        assert names(pane) == ["a-svc", "b-svc", "c-svc"]


async def test_fits_80_columns_and_w_shows_every_column(kube, app_for):
    kube.service("web", selector={"app": "web", "tier": "front"}, sessionAffinity="ClientIP")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        pane = main.services
        shown = pane.shown_columns()
        assert shown[:3] == ["name", "type", "clusterIP"] and "endpoints" in shown and shown[-1] == "age"
        assert "namespace" not in shown
        assert all(len(line) <= 78 for line in pane_lines(pane))  # inside the borders
        pane.focus()
        await pilot.press("w")
        assert pane.shown_columns() == ["name", "type", "clusterIP", "externalIP", "ports", "endpoints",
                                        "diagnosis", "affinity", "selector", "age"]
        assert pane.virtual_size.width > 78  # wider than the screen: scroll right to see the rest
        await pilot.press("right", "right", "right")
        assert pane.scroll_x > 0
        assert cells(pane, "affinity") == ["ClientIP(10800s)"]
        await pilot.press("w")
        assert pane.shown_columns() == shown


async def test_all_namespaces_adds_the_namespace_column(kube, app_for):
    kube.service("web")
    kube.service("kube-dns", "kube-system", selector={"k8s-app": "kube-dns"})
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert names(main.services) == ["web"]
        await pilot.press("colon", *"ns all", "enter")
        await until(pilot, lambda: main.is_synced() and len(main.services.visible_keys()) == 2, "every namespace")
        assert main.services.visible_keys() == [("dev", "web"), ("kube-system", "kube-dns")]
        assert main.services.shown_columns()[0] == "namespace"
        assert main.services.border_title == "Services (all) [2]"


async def test_tab_focuses_the_endpoints_and_switches_back(kube, app_for):
    """enter opens the trace (tests/trace_screen); tab goes to the endpoints and back."""
    kube.service("web")
    kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5", pod="web-1")])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert main.services.has_focus
        await pilot.press("tab")
        assert main.endpoints.has_focus
        assert main.endpoints.border_title.startswith("EndpointSlices dev/web (1/1 ready)")
        await pilot.press("tab")
        assert main.services.has_focus
        await pilot.press("colon", *"ep", "enter")
        assert main.endpoints.has_focus
