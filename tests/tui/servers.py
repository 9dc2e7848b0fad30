"""Tiny real HTTP(S) servers on loopback for connection-error tests: each answers the way a broken cluster would.

They run aiohttp on a thread with its own event loop, so the blocking kubernetes client can talk to them from the
test's thread exactly as it talks to a real API server.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ThreadServer:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path_qs, headers)

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "ThreadServer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        async def record(request: web.Request) -> web.StreamResponse:
            self.requests.append((request.method, request.path_qs, dict(request.headers)))
            return await self._handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path, common_name: str = "localhost", san: str = "DNS:localhost,IP:127.0.0.1") -> tuple[
    Path, Path
]:
    """A self-signed certificate and key made by the openssl CLI (no Python crypto package needed)."""
    cert, key = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={common_name}",
         "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def status(code: int, reason: str, message: str) -> web.Response:
    """A Kubernetes Status object as the apiserver sends it."""
    return web.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
         "reason": reason, "code": code},
        status=code,
    )


def empty_list(kind: str, api_version: str) -> web.Response:
    return web.json_response({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1"}, "items": []})


async def idle_watch(request: web.Request) -> web.StreamResponse:
    """A watch with nothing to report: open until its timeoutSeconds (or the client leaves), as an apiserver's."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    for _ in range(int(float(request.query.get("timeoutSeconds") or 30))):
        if request.transport is None or request.transport.is_closing():
            break
        await asyncio.sleep(1)
    return resp


async def healthy(request: web.Request) -> web.StreamResponse:
    """Just enough apiserver for the start-up probe and the panes' watch caches: version, services, endpointslices
    (empty lists, and watches that stay open with nothing to report)."""
    path = request.path.rstrip("/")  # the Python client asks for "/version/"
    if request.query.get("watch") in ("true", "1") and path.endswith(("/services", "/endpointslices")):
        return await idle_watch(request)
    if path == "/version":
        return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"})
    if path.endswith("/services"):
        return empty_list("ServiceList", "v1")
    if path.endswith("/endpointslices"):
        return empty_list("EndpointSliceList", "discovery.k8s.io/v1")
    if path == "/api/v1/namespaces":
        return web.json_response({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                                  "items": [{"metadata": {"name": n}} for n in ("default", "dev", "kube-system")]})
    return status(404, "NotFound", f"the server could not find the requested resource ({path})")
