"""The probe screen's fixtures: the demo cluster (tutorial) and the app built by the CLI's factory against it with a
fixed clock, plus a real HTTP listener on loopback (no IPVS in front of it) for the probe to connect to."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import pytest

from tui.app import SvcscopeApp
from tui.sim.cluster import SimCluster

FIXED_NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
# A fixed loopback address and port, so the snapshot shows what the user typed (an unusual 127/8 address: free).
LISTEN = ("127.0.0.42", 8080)


@pytest.fixture
def demo(start_sim) -> SimCluster:
    return start_sim("tutorial")


@pytest.fixture
def make_probe_app(demo, demo_app) -> Callable[..., SvcscopeApp]:
    def make(demo_mode: bool = True) -> SvcscopeApp:
        return demo_app(demo, clock=lambda: FIXED_NOW, demo=demo_mode)

    return make


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"pc-deployment-7d7dd5499b-9qnr7\n"  # the tutorial's pod writing its own name in index.html
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    try:
        server = _Server(LISTEN, _Page)
    except OSError as exc:
        pytest.fail(f"cannot listen on {LISTEN[0]}:{LISTEN[1]} for the probe screen's tests: {exc}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield LISTEN
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
