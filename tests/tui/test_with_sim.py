"""The shell against the simulated cluster over real HTTP, and the header driven by a real watch cache.

The "Bad input" behaviour of issue 2: while running, a lost API server shows in the header as
"disconnected, retrying in Ns" and the app recovers by itself when the server is back.
"""

from __future__ import annotations

import re

from kubernetes.client import CoreV1Api
from textual.notifications import Notify

from tests.tui.test_app import header_text, wait_for
from tui.app import AppOptions, create_app
from tui.config import StateStore, state_dir
from tui.kube.cache import SERVICES, Backoff, ListWatchCache
from tui.kube.client import check_access, connect

SIZE = (80, 24)


def sim_app(sim_kubeconfig):
    conn = connect(str(sim_kubeconfig), env={})
    check_access(conn)  # the start-up probe passes against the sim
    return create_app(conn, options=AppOptions(demo=True), state=StateStore(state_dir()))


async def test_header_namespaces_and_refresh_against_the_sim(sim, sim_kubeconfig, xdg):
    api = CoreV1Api(sim.api_client())
    for name in ("dev", "web"):
        api.create_namespace({"metadata": {"name": name}})
    app = sim_app(sim_kubeconfig)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.known_namespaces == ("dev", "web"), "namespaces from the sim")
        assert header_text(app, "context") == "svcscope-demo"
        assert header_text(app, "namespace") == "dev"
        api.create_namespace({"metadata": {"name": "monitoring"}})
        await pilot.press("ctrl+r")  # refresh lists them again
        await wait_for(pilot, lambda: "monitoring" in app.known_namespaces, "the new namespace after ctrl+r")
        await pilot.press("colon", *"ns mon", "tab", "enter")
        await wait_for(pilot, lambda: header_text(app, "namespace") == "monitoring", "the switch")


async def test_header_shows_a_lost_server_and_recovers(sim, sim_kubeconfig, xdg):
    messages: list = []
    app = sim_app(sim_kubeconfig)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        cache = ListWatchCache(app.connection.api_client, SERVICES, "dev", on_state=app.post_connection_state,
                               backoff=Backoff(initial=3.0, cap=6.0, jitter=0.0))
        cache.start()
        try:
            await wait_for(pilot, lambda: cache.synced and header_text(app, "state") == "connected", "a synced cache")
            sim.stop_server()
            await wait_for(pilot, lambda: header_text(app, "state").startswith("disconnected"), "the header to notice",
                           attempts=600)
            assert re.fullmatch(r"disconnected, retrying (in [1-6]s|now)", header_text(app, "state"))
            sim.start_server()
            await wait_for(pilot, lambda: header_text(app, "state") == "connected", "recovery", attempts=600)
        finally:
            cache.stop()
    said = [m.notification for m in messages if isinstance(m, Notify)]
    lost = [n for n in said if n.title == "Disconnected"]
    assert lost and lost[0].message[0].isupper() and lost[0].message.endswith(".")
    assert any(n.title == "Connected" and n.message.endswith("restored.") for n in said)
