"""Start-up: the CLI starts the scope's lists before Textual loads (tui.kube.prefetch); the main screen adopts those
caches, so what they listed before the app existed and what they watch afterwards both reach the panes."""

from __future__ import annotations

import argparse
import gc
from contextlib import ExitStack

from tests.panes.conftest import SIZE, cells, endpoint, main_screen, names, synced, until
from tui import gcpolicy
from tui.app import create_app
from tui.commands.tui import build_app, prepare
from tui.config import StateStore, state_dir
from tui.kube.client import connect
from tui.kube.prefetch import Prefetch
from tui.screens.trace import TraceScreen
from tui.sim.rbac import READ_VERBS, RbacRules, Rule


async def test_the_panes_adopt_the_prefetched_lists_and_their_watches(kube, sim_kubeconfig, xdg):
    kube.service("web")
    kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5"), endpoint("10.244.1.6", ready=False)])
    conn = connect(str(sim_kubeconfig), env={})
    prefetch = Prefetch(conn).start()
    try:
        assert all(cache.wait_synced(20) for cache in prefetch.caches)  # listed before any app exists
        app = create_app(conn, state=StateStore(state_dir()), prefetch=prefetch)
        async with app.run_test(size=SIZE) as pilot:
            main = await synced(pilot)
            assert main.feed is not None and main.feed.scope_caches == prefetch.caches  # adopted, not relisted
            assert names(main.services) == ["web"] and cells(main.services, "endpoints") == ["1/2"]
            kube.service("late")  # after adoption: the adopted caches' watches feed the panes
            await until(pilot, lambda: names(main.services) == ["late", "web"], "the watched Service")
            await pilot.press("colon", *"ns kube-system", "enter")  # a new scope: fresh caches, the old stop
            await until(pilot, lambda: main.is_synced() and names(main.services) == [], "kube-system")
            assert all(cache.stopping for cache in prefetch.caches)
            assert main.feed.scope_caches and not set(main.feed.scope_caches) & set(prefetch.caches)
    finally:
        prefetch.stop()


async def test_prefetched_lists_of_another_scope_are_stopped_not_shown(kube, sim_kubeconfig, xdg):
    kube.namespaces("other")
    kube.service("web")
    kube.service("elsewhere", "other")
    conn = connect(str(sim_kubeconfig), env={})
    prefetch = Prefetch(conn.with_namespace("other")).start()
    try:
        app = create_app(conn, state=StateStore(state_dir()), prefetch=prefetch)
        async with app.run_test(size=SIZE) as pilot:
            main = await synced(pilot)
            assert names(main.services) == ["web"]
            assert all(cache.stopping for cache in prefetch.caches)
    finally:
        prefetch.stop()


async def test_prepare_starts_the_lists_and_the_first_sync_restores_the_collector(kube, sim_kubeconfig, xdg):
    kube.service("web")
    before = gc.get_threshold()
    gcpolicy.relax()  # as run_tui does
    try:
        assert gc.get_threshold() == gcpolicy.STARTUP_THRESHOLDS
        args = argparse.Namespace(kubeconfig=str(sim_kubeconfig), context=None, namespace=None,
                                  all_namespaces=False, demo=False, read_only=False)
        with ExitStack() as stack:
            session = prepare(args, stack)
            assert session.prefetch is not None and session.prefetch.serves(session.connection)
            app = build_app(session)
            async with app.run_test(size=SIZE) as pilot:
                main = await synced(pilot)
                assert main.feed is not None and main.feed.scope_caches == session.prefetch.caches
                assert names(main.services) == ["web"]
                assert gc.get_threshold() == before
        assert all(cache.stopping for cache in session.prefetch.caches)
    finally:
        gcpolicy.settle()
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_the_trace_feed_starts_once_both_first_lists_are_shown(kube, app_for, monkeypatch):
    """The DIAGNOSIS column's feed (a pod watch, an engine) must not compete with the panes' first lists: it
    starts after the frame showing them, and again per scope; until then the column shows its placeholder."""
    from tui.trace_feed import TraceFeed

    kube.service("web", selector={"app": "web"})
    kube.slice("web-1", "web", endpoints=[endpoint("10.244.1.5")])
    kube.service("api", selector={"app": "api"})
    seen: list[tuple[bool, list[str], bool]] = []
    start = TraceFeed.start

    def spy(feed: TraceFeed) -> None:
        main = main_screen(feed.target.app)  # type: ignore[attr-defined]
        seen.append((main.is_synced(), names(main.services), main.shown_at is not None))
        start(feed)

    monkeypatch.setattr(TraceFeed, "start", spy)
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        await until(pilot, lambda: main.is_settled(), "every Service diagnosed")
        assert seen == [(True, ["api", "web"], True)]
        assert cells(main.services, "diagnosis") != ["...", "..."]
        await pilot.press("colon", *"ns kube-system", "enter")
        await until(pilot, lambda: len(seen) == 2, "the new scope's feed")
        assert seen[1] == (True, [], True)


async def test_a_trace_asked_for_before_the_lists_are_in_starts_the_feed(kube, sim, app_for):
    """EndpointSlices not allowed: the panes are never both synced, yet enter on a Service opens its trace."""
    kube.service("web", selector={"app": "web"})
    sim.server.rbac = RbacRules([Rule(READ_VERBS, resources=("services", "pods", "nodes", "configmaps",
                                                             "namespaces"))])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await until(pilot, lambda: names(main.services) == ["web"], "the Services")
        await until(pilot, lambda: main.endpoints.empty_level == "error", "the EndpointSlices refused, said")
        assert not main.is_synced() and main.trace_feed is None
        main.services.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace screen")
        assert main.trace_feed is not None and main.trace_feed.started


async def test_pods_not_allowed_give_no_pod_verdict_in_the_diagnosis(kube, sim, app_for):
    """A user who may not list pods: the DIAGNOSIS column must not claim "no pods" from an empty pod cache."""
    kube.service("web", selector={"app": "web"})  # no pods, no slices: with pods readable this is "no-pods"
    sim.server.rbac = RbacRules([Rule(READ_VERBS, resources=("services", "endpointslices", "nodes", "configmaps",
                                                             "namespaces"))])
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        await until(pilot, lambda: main.is_settled(), "the Service diagnosed", timeout=30)
        feed = main.trace_feed
        assert feed is not None
        diagnosis = feed.diagnosis(("dev", "web"))
        assert diagnosis is not None and diagnosis.code != "no-pods"
