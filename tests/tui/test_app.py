"""The TUI shell driven like a user at 80x24: keys, the `:` command line, help, palette, header, remembered state.

The app runs against a tiny real API server (tests/tui/servers.py) through a real kubeconfig, built by the same
factory the CLI uses, with a fixed clock.
"""

from __future__ import annotations

from datetime import timedelta

import io

import yaml
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.notifications import Notify
from textual.widgets import Label

from tests.tui.conftest import FIXED_NOW
from tui.kube.connection import ConnectionState
from tui.messages import ConnectionStateChanged
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.widgets.command_line import CommandLine, JumpInput

SIZE = (80, 24)


def header_text(app, part: str) -> str:
    return str(app.screen.query_one(f"HeaderBar #{part}", Label).render())


def plain(static) -> str:
    """What a Static shows, as plain text (rendered by Rich at the help screen's width)."""
    console = Console(width=78, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


def notes(messages) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


async def wait_for(pilot, condition, what: str, attempts: int = 200) -> None:
    """Generous polling for worker results (threads) on a loaded machine; never a fixed sleep."""
    for _ in range(attempts):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def run_command(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def test_header_shows_context_namespace_state_and_marks(make_app):
    app = make_app(demo=True, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert header_text(app, "context") == "kind-dev"
        assert header_text(app, "namespace") == "dev"
        assert header_text(app, "state") == "connected"
        assert app.screen.query_one("#demo").display and app.screen.query_one("#read-only").display


async def test_no_marks_without_demo_or_read_only(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#demo").display
        assert not app.screen.query_one("#read-only").display


async def test_colon_opens_the_command_line_and_esc_closes_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        line = app.screen.query_one(CommandLine)
        assert not line.is_open
        await pilot.press("colon")
        assert line.is_open and isinstance(app.focused, JumpInput)
        await pilot.press("q")  # typed into the line, not quitting
        assert app.is_running and app.focused.value == "q"
        await pilot.press("escape")
        assert not line.is_open and app.is_running
        assert isinstance(app.screen, MainScreen)


async def test_ns_changes_the_header_and_is_remembered(make_app, xdg):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.known_namespaces, "the namespace list")
        await run_command(pilot, "ns kube-system")
        assert header_text(app, "namespace") == "kube-system"
        assert app.connection.namespace == "kube-system"
    state = yaml.safe_load((xdg["XDG_STATE_HOME"] / "svcscope" / "state.yaml").read_text())
    assert state == {"last_context": "kind-dev", "namespaces": {"kind-dev": "kube-system"}}
    # a new session of the same context starts where the last one left off
    from tui.commands.tui import apply_remembered
    from tui.config import StateStore, state_dir
    import argparse

    again = apply_remembered(make_app().connection, StateStore(state_dir()),
                             argparse.Namespace(namespace=None, all_namespaces=False))
    assert again.namespace == "kube-system"


async def test_ns_all_shows_every_namespace(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "ns all")
        assert header_text(app, "namespace") == "*all*"
        assert app.scope.all_namespaces and app.connection.all_namespaces


async def test_ns_completion_from_the_cluster(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.known_namespaces == ("default", "dev", "kube-system"), "namespaces")
        await pilot.press("colon", *"ns ", "tab")
        assert app.focused.value == "ns all"
        await pilot.press("tab", "tab")  # tab again steps through the candidates: default, dev
        assert app.focused.value == "ns dev"
        await pilot.press("tab", "tab")
        assert app.focused.value == "ns all"  # and wraps
        await pilot.press("escape", "colon", *"ns ku", "tab")
        assert app.focused.value == "ns kube-system"
        await pilot.press("enter")
        await pilot.pause()
        assert app.scope.namespace == "kube-system"


async def test_command_word_completion_and_history(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"sv", "tab")  # a jump that stays on this screen: history is per screen
        assert app.focused.value == "svc"
        await pilot.press("enter")
        await pilot.press("colon", "up")
        assert app.focused.value == "svc"


async def test_bad_namespace_name_is_refused(make_app):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "ns Bad_Name")
        assert app.scope.namespace == "dev"
        assert "'Bad_Name' is not a namespace name (lowercase letters, digits and '-', at most 63)." in notes(messages)


async def test_ctx_switches_context_through_a_worker(make_app, xdg):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "ctx kind-admin")
        await wait_for(pilot, lambda: app.scope.context == "kind-admin", "the context switch")
        await pilot.pause()
        assert header_text(app, "context") == "kind-admin"
        assert header_text(app, "namespace") == "default"  # the context sets none
        assert "Now on context kind-admin, namespace default." in notes(messages)
    state = yaml.safe_load((xdg["XDG_STATE_HOME"] / "svcscope" / "state.yaml").read_text())
    assert state["last_context"] == "kind-admin"


async def test_ctx_unknown_says_which_exist(make_app):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "ctx prod")
        assert "Context prod is not in the kubeconfig (contexts: kind-dev, kind-admin)." in notes(messages)
        assert app.scope.context == "kind-dev"


async def test_question_mark_shows_help_and_esc_closes_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = plain(app.screen.query_one("#keys"))
        for key, what in ((":", "command"), ("/", "filter"), ("?", "help"), ("^r", "refresh"), ("esc", "back"),
                          ("q", "quit"), ("^p", "palette"), ("tab", "complete")):
            assert any(key in line.split() and what in line for line in keys.splitlines()), (key, what, keys)
        jumps = plain(app.screen.query_one("#jumps"))
        for usage in (":svc", ":ep", ":ns [NAME]", ":ctx [NAME]", ":ipvs", ":dig [NAME]", ":proxy", ":trace [NAME]",
                      ":help", ":quit"):
            assert usage in jumps, usage
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("colon", *"help", "enter")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("q")  # q closes help first, it does not quit
        assert isinstance(app.screen, MainScreen) and app.is_running


async def test_q_quits_with_status_zero(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_colon_quit_quits(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "q")
    assert app.return_code == 0 and not app.is_running


async def test_unknown_command_says_so(make_app):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "svcs")
        await run_command(pilot, "frobnicate")
    said = notes(messages)
    assert "Unknown command :svcs: did you mean :svc? :help lists the commands." in said
    assert "Unknown command :frobnicate: :help lists the commands." in said


async def test_screens_not_built_yet_say_so(make_app):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "ipvs")
        await run_command(pilot, "proxy")
        await run_command(pilot, "trace web")
        await run_command(pilot, "ipvs now")
    said = notes(messages)
    assert not any("IPVS" in line for line in said)  # built: tests/ipvs_pane
    assert not any("DNS screen" in line for line in said)  # built: tests/dns_screen
    assert not any("kube-proxy screen" in line for line in said)  # built: tests/proxy_screen
    assert "No Service named web in namespace dev." in said  # built: :trace looks it up (tests/trace_screen)
    assert ":ipvs takes no argument." in said


async def test_jumps_focus_the_panes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "ep")
        assert app.focused.id == "endpointslices"
        await pilot.press("question_mark")
        await run_command(pilot, "svc")  # from the help screen: back to the main screen
        assert isinstance(app.screen, MainScreen) and app.focused.id == "services"


async def test_palette_lists_the_jump_commands(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        palette_list = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: palette_list.option_count >= 10, "palette entries")
        prompts = [str(palette_list.get_option_at_index(i).prompt) for i in range(palette_list.option_count)]
        for usage in (":svc", ":ep", ":ns [NAME]", ":ctx [NAME]", ":ipvs", ":dig [NAME]", ":help", ":quit"):
            assert any(usage in p for p in prompts), (usage, prompts)
        # searching finds namespaces too, and choosing one switches
        await pilot.press(*"kube-sys")
        await wait_for(pilot, lambda: any("Namespace: kube-system" in str(palette_list.get_option_at_index(i).prompt)
                                          for i in range(palette_list.option_count)), "a namespace hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.scope.namespace == "kube-system", "the namespace switch")


async def test_header_follows_connection_state_with_countdown(make_app):
    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        down = ConnectionState.disconnected(
            FIXED_NOW, error="Nothing answers at http://x (connection refused): check it.",
            retry_at=FIXED_NOW + timedelta(seconds=4), source="a-cache-under-test",
        )
        app.post_message(ConnectionStateChanged(down))
        await pilot.pause()
        assert header_text(app, "state") == "disconnected, retrying in 4s"
        assert "Nothing answers at http://x (connection refused): check it." in notes(messages)
        app.post_message(ConnectionStateChanged(ConnectionState.connected(FIXED_NOW, source="a-cache-under-test")))
        await pilot.pause()
        assert header_text(app, "state") == "connected"
        assert any(n.startswith("Connection to http://127.0.0.1:") and n.endswith("restored.") for n in notes(messages))


async def test_refresh_relists_namespaces_and_signals(make_app, api_server):
    app = make_app()
    seen: list = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.known_namespaces, "the first namespace list")
        app.refresh_signal.subscribe(app.screen, lambda _: seen.append(True))
        before = sum(1 for _, p, _ in api_server.requests if p.split("?")[0] == "/api/v1/namespaces")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: sum(1 for _, p, _ in api_server.requests
                                          if p.split("?")[0] == "/api/v1/namespaces") > before, "a relist")
        assert seen == [True]


async def test_long_names_yield_so_state_and_marks_fit_80_columns(kubeconfig_path, xdg):
    from tui.app import AppOptions, create_app
    from tui.config import StateStore, state_dir
    from tui.kube.client import connect
    from tests.tui.conftest import fixed_clock

    long_ctx = "arn:aws:eks:eu-central-1:123456789012:cluster/production-payments"
    long_ns = "payments-settlement-reconciliation-batch-jobs"
    conn = connect(str(kubeconfig_path), env={}).with_namespace(long_ns)
    conn = type(conn)(**{**conn.__dict__, "context": long_ctx})
    app = create_app(conn, clock=fixed_clock, options=AppOptions(demo=True, read_only=True),
                     state=StateStore(state_dir()))
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(ConnectionStateChanged(ConnectionState.disconnected(
            FIXED_NOW, error="down", retry_at=FIXED_NOW + timedelta(seconds=30), source="a-test-source")))
        await pilot.pause()
        bar = app.screen.query_one("HeaderBar")
        state = bar.query_one("#state", Label)
        assert header_text(app, "state") == "disconnected, retrying in 30s"
        for part in ("#context", "#namespace", "#state", "#demo", "#read-only"):
            region = bar.query_one(part).region
            assert region.width > 0 and region.right <= 80, (part, region)
        assert state.region.right <= bar.query_one("#demo").region.x
        ctx, ns = header_text(app, "context"), header_text(app, "namespace")
        # both ends stay: the account prefix and the cluster name's tail
        assert "..." in ctx and ctx.startswith("arn:") and ctx.endswith("ments")
        assert not bar.query_one("#brand").display  # the brand gives way first
        assert "..." in ns and len(ns) >= 8
        assert bar.query_one("#context").tooltip == long_ctx


def test_fit_names_shares_the_room():
    from tui.widgets.header import fit_names, shorten

    assert shorten("abcdefghij", 10) == "abcdefghij"
    assert shorten("abcdefghijklmnop", 9) == "abc...nop"
    assert fit_names("kind-dev", "dev", 40) == ("kind-dev", "dev")
    ctx, ns = fit_names("c" * 48, "n" * 10, 40)
    assert (len(ctx), ns) == (30, "n" * 10)
    ctx, ns = fit_names("kind-dev", "n" * 50, 40)
    assert (ctx, len(ns)) == ("kind-dev", 32)
    ctx, ns = fit_names("c" * 48, "n" * 63, 16)
    assert (len(ctx), len(ns)) == (8, 8)


async def test_ctrl_c_quits(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", "a")  # even from inside the command line
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_no_color_setting(make_app):
    app = make_app(no_color=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.no_color
    assert "NO_COLOR" not in __import__("os").environ  # the setting does not leak into the environment
    later = make_app()
    assert not later.no_color


async def test_ctx_to_an_unreachable_cluster_keeps_the_current_one(tmp_path, kubeconfig_path, xdg):
    """A failed switch says why in one sentence and leaves the app where it was."""
    import yaml as _yaml

    from tests.tui.servers import closed_port
    from tests.tui.conftest import fixed_clock
    from tui.app import AppOptions, create_app
    from tui.config import StateStore, state_dir
    from tui.kube.client import connect

    doc = _yaml.safe_load(kubeconfig_path.read_text())
    port = closed_port()
    doc["clusters"].append({"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}})
    doc["contexts"].append({"name": "gone-ctx", "context": {"cluster": "gone", "user": "admin"}})
    kubeconfig_path.write_text(_yaml.safe_dump(doc))
    messages: list = []
    app = create_app(connect(str(kubeconfig_path), env={}), clock=fixed_clock, options=AppOptions(),
                     state=StateStore(state_dir()))
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await run_command(pilot, "ctx gone-ctx")
        await wait_for(pilot, lambda: any(m.notification.title == "Context switch failed" for m in messages
                                          if isinstance(m, Notify)), "the failure")
        failure = [m.notification for m in messages if isinstance(m, Notify)
                   and m.notification.title == "Context switch failed"][0]
        assert failure.message.startswith(f"Nothing answers at http://127.0.0.1:{port} (connection refused)")
        assert "for context 'gone-ctx'" in failure.message
        assert app.scope.context == "kind-dev" and header_text(app, "context") == "kind-dev"


async def test_ns_without_a_name_opens_a_picker(make_app):
    from tui.screens.picker import PickerScreen
    from textual.widgets import OptionList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.known_namespaces, "namespaces")
        await run_command(pilot, "ns")
        assert isinstance(app.screen, PickerScreen)
        options = app.screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels == ["  all namespaces", "  default", "* dev", "  kube-system"]
        await pilot.press(*"kube", "enter")  # narrow, then pick the highlighted one
        assert isinstance(app.screen, MainScreen)
        assert header_text(app, "namespace") == "kube-system"
        await run_command(pilot, "ns")
        await pilot.press("escape")  # cancel changes nothing
        assert isinstance(app.screen, MainScreen) and app.scope.namespace == "kube-system"
        await run_command(pilot, "ns")
        await pilot.press("up", "up", "up", "enter")  # keyboard only: to the top, all namespaces
        assert app.scope.all_namespaces


async def test_ctx_without_a_name_opens_a_picker(make_app):
    from tui.screens.picker import PickerScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "ctx")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.scope.context == "kind-admin", "the switch")


async def test_typing_fast_after_the_colon_loses_nothing(make_app):
    """tmux and fast typists deliver ":ipvs<enter>" in one burst: every key must land in the command line."""
    from textual import events

    messages: list = []
    app = make_app()
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        for key, char in [("colon", ":"), ("i", "i"), ("p", "p"), ("v", "v"), ("s", "s"), ("enter", "\r")]:
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)  # as the terminal driver delivers a burst: no waiting in between
        from tui.screens.ipvs import IPVSScreen

        # the screen is pushed before it is composed: wait for its pane, not just for the screen
        await wait_for(pilot, lambda: isinstance(app.screen, IPVSScreen) and len(app.screen.query("#ipvs")) == 1,
                       "the command")
        # opened by :ipvs, not by the Services pane's `i` (which filters to a Service)
        assert len(app.screen_stack) == 2 and app.screen.pane.filter_text == ""
        assert not app.screen_stack[0].query_one(CommandLine).is_open


async def test_colon_inside_a_field_is_just_a_character(make_app):
    from tui.screens.picker import PickerScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_command(pilot, "ns")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("a", "colon", "b")
        assert app.screen.query_one("#filter").value == "a:b"
        await pilot.press("colon", "x")  # in the command line itself too
        assert app.screen.query_one("#filter").value == "a:b:x"
