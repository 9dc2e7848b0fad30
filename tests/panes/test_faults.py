"""Faults from the simulated apiserver while the panes run: dropped watches, 410 Expired, a server that goes away and
comes back, 403 on a namespace, a malformed object in a watch event. Each time the header shows the state, the pane
recovers by itself, and nothing stale stays: what was deleted while svcscope was not looking is gone afterwards."""

from __future__ import annotations

from textual.notifications import Notify
from textual.widgets import Label

from tests.panes.conftest import SIZE, endpoint, names, pane_lines, synced, until
from tui.sim.rbac import READ_VERBS, RbacRules, Rule
from tui.sim.resources import BY_KIND


def header_state(app) -> str:
    return str(app.screen_stack[0].query_one("HeaderBar #state", Label).render())


def notes(messages) -> list:
    return [m.notification for m in messages if isinstance(m, Notify)]


async def test_dropped_watches_reconnect_and_miss_nothing(kube, sim, app_for):
    kube.service("web")
    kube.service("old")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        assert names(main.services) == ["old", "web"]
        assert sim.faults.drop_watches() >= 2  # both caches' watches cut mid-stream
        kube.delete_service("old")  # while the watches are down
        kube.service("new")
        await until(pilot, lambda: names(main.services) == ["new", "web"], "the changes after the reconnect")
        await until(pilot, lambda: header_state(app) == "connected", "connected again")
        kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5")])
        await until(pilot, lambda: main.services.row(("dev", "web")).cells[6] == "1/1", "slices still watched")


async def test_410_expired_relists_and_drops_what_was_deleted(kube, sim, app_for):
    kube.service("web")
    kube.service("gone")
    kube.slice("gone-1", "gone", endpoints=[endpoint("10.244.1.7")])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        main.services.move_cursor_to_key(("dev", "gone"))
        await until(pilot, lambda: main.endpoints.total_count == 1, "gone's endpoint")
        # Deleted while the history is compacted: a resumed watch gets 410 and the caches must relist.
        kube.delete_slice("gone-1")
        kube.delete_service("gone")
        sim.faults.expire_history()
        sim.faults.drop_watches()
        await until(pilot, lambda: names(main.services) == ["web"], "the relist without gone")
        assert ("dev", "gone") not in main.state.services
        await until(pilot, lambda: not main.state.slices_of(("dev", "gone")), "its slices collected")
        await until(pilot, lambda: main.endpoints.border_title.startswith("EndpointSlices dev/web"),
                    "the cursor moved to web")
        assert main.endpoints.total_count == 0
        await until(pilot, lambda: header_state(app) == "connected", "connected after the relist")


async def test_server_stopped_then_started_header_and_no_stale_rows(kube, sim, app_for):
    kube.service("web")
    kube.service("doomed")
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        sim.stop_server()
        await until(pilot, lambda: header_state(app).startswith("disconnected"), "the header to notice")
        await until(pilot, lambda: main.services.border_subtitle == "disconnected: last known rows",
                    "the pane to say its rows may be stale")
        assert names(main.services) == ["doomed", "web"]  # the last known state stays readable meanwhile
        # the cluster changes while svcscope cannot see it
        services = BY_KIND["Service"]
        sim.store.delete(services, "dev", "doomed")
        sim.start_server()
        await until(pilot, lambda: names(main.services) == ["web"], "doomed gone after the reconnect", timeout=60)
        await until(pilot, lambda: header_state(app) == "connected", "connected again", timeout=60)
        assert main.services.border_subtitle == ""


async def test_403_on_a_namespace_says_so_in_the_pane(kube, sim, app_for):
    kube.namespaces("secret")
    kube.service("web")
    kube.service("hidden", "secret")
    sim.server.rbac = RbacRules([Rule(READ_VERBS, namespaces=("dev", "kube-system")),
                                 Rule(("list",), resources=("namespaces",))])
    messages: list = []
    app = app_for()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        main = await synced(pilot)
        await pilot.press("colon", *"ns secret", "enter")
        pane = main.services
        await until(pilot, lambda: pane.empty_level == "error", "the pane to explain the 403")
        assert "403 Forbidden" in pane.empty_text and "list services in namespace secret" in pane.empty_text
        assert pane.total_count == 0 and "hidden" not in " ".join(pane_lines(pane))
        await until(pilot, lambda: header_state(app).startswith("disconnected"), "the header")
        assert any(n.title == "Disconnected" for n in notes(messages))
        await pilot.press("colon", *"ns dev", "enter")
        await until(pilot, lambda: names(pane) == ["web"] and header_state(app) == "connected", "back in dev")
        assert pane.empty_level == ""


async def test_malformed_object_in_a_watch_event_is_skipped_and_said(kube, sim, app_for):
    kube.service("web")
    kube.service("api")
    messages: list = []
    app = app_for()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        main = await synced(pilot)
        sim.faults.send_malformed("services", "spec-string", where="watch")
        kube.service("broken")  # its ADDED event arrives malformed
        await until(pilot, lambda: any(n.title == "Skipped a malformed object" for n in notes(messages)),
                    "a notification")
        said = [n.message for n in notes(messages) if n.title == "Skipped a malformed object"]
        assert "spec is missing or not an object" in said[0] and said[0].endswith(".")
        assert names(main.services) == ["api", "web"]  # the pane goes on
        kube.service("next")  # and the watch goes on
        await until(pilot, lambda: "next" in names(main.services), "the next event")
        sim.faults.send_malformed("endpointslices", "endpoints-not-list", where="watch")
        kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5")])
        kube.slice("web-2", "web", endpoints=[endpoint("10.244.1.6")])
        await until(pilot, lambda: main.services.row(("dev", "web")).cells[6] == "1/1", "the good slice counted")
        # ctrl+r lists again, which brings what the malformed events hid: nothing stays wrong
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "broken" in names(main.services), "broken after the relist")
        await until(pilot, lambda: main.services.row(("dev", "web")).cells[6] == "2/2", "both slices")
