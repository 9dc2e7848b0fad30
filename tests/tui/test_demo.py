"""`svcscope --demo`: the tutorial cluster started in-process, reached through a kubeconfig like a real cluster.

One in-process test drives the exact start-up path (`prepare`) with Pilot; one runs the real command in tmux at
80x24, as an admin would, and quits with q.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import urllib3

from tests.tui.test_app import header_text, wait_for
from tui.app import create_app
from tui.commands.tui import DEMO_CONTEXT, prepare

REPO = Path(__file__).resolve().parents[2]


def demo_args(**overrides) -> argparse.Namespace:
    values = dict(kubeconfig=None, context=None, namespace=None, all_namespaces=False, demo=True, read_only=False)
    values.update(overrides)
    return argparse.Namespace(**values)


async def test_demo_runs_the_app_against_the_tutorial_cluster(xdg):
    with ExitStack() as stack:
        session = prepare(demo_args(), stack)
        server = session.connection.server
        assert session.connection.context == DEMO_CONTEXT and session.options.demo
        app = create_app(session.connection, options=session.options, state=session.state)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "kube-system" in app.known_namespaces, "the tutorial's namespaces")
            assert header_text(app, "context") == "svcscope-demo"
            assert header_text(app, "namespace") == "dev"
            assert app.screen.query_one("#demo").display
            assert "dev" in app.known_namespaces
    # leaving the session stops the simulated cluster
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.PoolManager(retries=False).request("GET", f"{server}/version", timeout=5)


def test_demo_in_tmux_at_80x24(tmp_path):
    tmux = shutil.which("tmux")
    assert tmux, "tmux is needed for this test (Debian package tmux)"
    socket = f"svcscope-test-{uuid.uuid4().hex[:8]}"
    exit_file = tmp_path / "exit"
    env = {
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm-256color",
        "TEXTUAL_ANIMATIONS": "none",
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    command = f"cd {REPO} && env {exports} {sys.executable} -m tui --demo; echo $? > {exit_file}"

    def capture() -> str:
        return subprocess.run([tmux, "-L", socket, "capture-pane", "-p"], capture_output=True, text=True).stdout

    subprocess.run([tmux, "-L", socket, "new-session", "-d", "-x", "80", "-y", "24", command], check=True,
                   env={**os.environ, "TMUX": ""})
    try:
        deadline = time.monotonic() + 90
        screen = ""
        while time.monotonic() < deadline:
            screen = capture()
            if "svcscope-demo" in screen and "connected" in screen and "quit" in screen:
                break
            time.sleep(0.3)
        lines = screen.splitlines()
        assert "svcscope ctx svcscope-demo" in lines[0] and "ns dev" in lines[0] and "DEMO" in lines[0], screen
        assert "q quit" in lines[-1] and ": command" in lines[-1], screen
        assert all(len(line) <= 80 for line in lines)
        subprocess.run([tmux, "-L", socket, "send-keys", "q"], check=True)
        while time.monotonic() < deadline and not exit_file.exists():
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0"
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True)
