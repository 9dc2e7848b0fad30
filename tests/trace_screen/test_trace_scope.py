"""`:ns` with a trace open: the main screen stops the feed the trace listens to, so the trace closes with one line
saying why (it used to stay open, frozen on the stopped feed), whether its Service is still shown or not."""

from __future__ import annotations

import pytest

from tests.panes.conftest import until
from tests.trace_screen.conftest import open_trace
from tui.screens.main import MainScreen
from tui.screens.trace import TraceScreen

SIZE = (100, 30)


@pytest.mark.parametrize(("ns", "label"), [("kube-system", "namespace kube-system"), ("all", "all namespaces")])
async def test_ns_closes_the_trace_saying_why(tutorial, ns, label):
    messages: list = []
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await open_trace(pilot, "service-clusterip")
        await pilot.press("colon", *f"ns {ns}", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the trace to close", 30)
        notes = [str(m.notification.message) for m in messages if type(m).__name__ == "Notify"]
        assert (f"Closed the trace of dev/service-clusterip: the view changed to {label}; enter on the Service "
                "traces it again." in notes), notes
        assert not any(isinstance(s, TraceScreen) for s in app.screen_stack)
        main = app.screen
        await until(pilot, lambda: main.is_synced() and main.services.total_count, "the panes in the new scope", 30)
        assert app.scope.all_namespaces == (ns == "all")
