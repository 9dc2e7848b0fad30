"""SimCluster: the simulated cluster as one object that tests, `svcscope --demo` and `svcscope sim` start and stop.

It owns a thread running its own asyncio loop, on which the HTTP server, the controllers and any other component
(DNS server, kube-proxy emulator) run. The store is shared and thread-safe, so tests may read it directly; to run
something on the sim's loop use `call`.

    with SimCluster(scenario="empty") as sim:
        v1 = kubernetes.client.CoreV1Api(sim.api_client())

Knobs: `faults` (tui.sim.faults: drop watches, expire history, delay, answer a status, malformed objects,
restart the server), `bookmark_interval` (seconds between watch bookmarks), `rbac` (tui.sim.rbac), `tls=True`
(HTTPS with a throwaway CA in the kubeconfig), `server.requests` (the last requests, for tests to assert on).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol

from aiohttp import web

from tui.sim import kubeconfig, scenario
from tui.sim.controllers import Controllers
from tui.sim.faults import Faults
from tui.sim.rbac import RbacRules
from tui.sim.server import SimServer
from tui.sim.store import Store, utc_now
from tui.sim.tls import ServerCerts, make_server_certs


class Component(Protocol):
    def start(self, loop: asyncio.AbstractEventLoop) -> None: ...
    def stop(self) -> None: ...


class SimCluster:
    def __init__(self, scenario: str | None = "tutorial", *, port: int = 0, host: str = "127.0.0.1",
                 clock: Callable[[], datetime] | None = None, history: int = 2000,
                 rbac: RbacRules | None = None, services: int | None = None, pods_per_service: int | None = None,
                 bookmark_interval: float = 5.0, tls: bool = False) -> None:
        self.scenario = scenario
        self.host = host
        self.port = port
        self.store = Store(history=history, clock=clock or utc_now)
        self.faults = Faults(self.store)
        self.faults.on_stop_server = self.stop_server
        self.faults.on_start_server = self.start_server
        self.server = SimServer(self.store, self.faults, rbac, bookmark_interval)
        self.controllers = Controllers(self.store)
        self._services = services
        self._pods_per_service = pods_per_service
        self._components: list[Component] = [self.controllers]
        self._started: list[Component] = []
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._loaded = False
        # HTTPS with a throwaway CA (tui.sim.tls), made on first start and kept across restarts.
        self.tls = tls
        self.certs: ServerCerts | None = None
        # Made by start(), so that a cluster never started leaks no loop and a stopped one can start again.
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    # -- addresses ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def bookmark_interval(self) -> float:
        return self.server.bookmark_interval

    @bookmark_interval.setter
    def bookmark_interval(self, seconds: float) -> None:
        self.server.bookmark_interval = seconds

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> "SimCluster":
        """Load the scenario, start the components and the HTTP server; return once it answers."""
        if self._thread is not None:
            raise RuntimeError("this SimCluster is already started")
        if not self._loaded:  # a restart keeps the store as it was
            if self.scenario not in (None, "empty"):
                scenario.load_into(self.store, self.scenario)
            if self._services is not None:
                scenario.generate_into(self.store, self._services, self._pods_per_service or 1)
            self._loaded = True
        if self.tls and self.certs is None:
            self.certs = make_server_certs(("127.0.0.1", "localhost", self.host))
        self.loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="svcscope-sim", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self._thread.join(timeout=5)
            self._thread = None
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._startup())
        except BaseException as exc:  # handed to start(): the caller says what failed
            ready.set_exception(exc)
            self.loop.close()
            return
        ready.set_result(None)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _startup(self) -> None:
        for comp in self._components:
            self._start_component(comp)
        self.controllers.sync()
        await self._serve()

    def _start_component(self, comp: Component) -> None:
        comp.start(self.loop)
        self._started.append(comp)

    async def _serve(self) -> None:
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            sock.listen(128)
            sock.setblocking(False)
            self._sock = sock
            self.port = sock.getsockname()[1]
        runner = web.AppRunner(self.server.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        ssl_context = self.certs.server_context() if self.certs is not None else None
        await web.SockSite(runner, self._sock, ssl_context=ssl_context).start()
        self._runner = runner

    async def _unserve(self) -> None:
        self.server.stop_watches()
        await asyncio.sleep(0)  # let the watch streams see the stop and end cleanly
        for _ in range(50):
            if not self.server.open_watches:
                break
            await asyncio.sleep(0.01)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def stop(self) -> None:
        """Close open watches cleanly, stop the server and the components, and join the thread. Idempotent."""
        if self._thread is None:
            return
        if self.loop.is_running():
            try:
                self.call(self._shutdown)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self._thread = None

    async def _shutdown(self) -> None:
        await self._unserve()
        for comp in reversed(self._started):
            comp.stop()
        self._started.clear()

    def stop_server(self) -> None:
        """Stop answering HTTP (open watches are cut as a dying apiserver cuts them); the store is kept."""
        async def down() -> None:
            self.server.abort_watches()
            await asyncio.sleep(0)
            await self._unserve()

        self.call(down)

    def start_server(self) -> None:
        """Serve again on the same port, after stop_server."""
        self.call(self._serve)

    def __enter__(self) -> "SimCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` (a function or a coroutine function) on the sim's loop and return its result."""
        if self._thread is not None and threading.current_thread() is self._thread:
            result = fn(*args)
            if inspect.isawaitable(result):
                raise RuntimeError("call() of a coroutine from the sim's own loop: await it instead")
            return result
        if inspect.iscoroutinefunction(fn):
            return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result()
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:
                fut.set_exception(exc)
                return
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                task.add_done_callback(lambda t: fut.set_exception(t.exception()) if t.exception()
                                       else fut.set_result(t.result()))
            else:
                fut.set_result(result)

        self.loop.call_soon_threadsafe(run)
        return fut.result()

    def add_component(self, comp: Component) -> None:
        """Run `comp` (start(loop)/stop()) with the cluster: now if it is running, else when it starts."""
        self._components.append(comp)
        if self._thread is not None:
            self.call(self._start_component, comp)

    def kubeconfig_dict(self, context: str = "svcscope-demo", namespace: str = "dev") -> dict[str, Any]:
        ca = self.certs.ca_pem if self.certs is not None else None
        return kubeconfig.kubeconfig_dict(self.url, context, namespace, ca_pem=ca)

    def write_kubeconfig(self, path: str | os.PathLike[str], context: str = "svcscope-demo",
                         namespace: str = "dev") -> Path:
        ca = self.certs.ca_pem if self.certs is not None else None
        return kubeconfig.write_kubeconfig(path, self.url, context, namespace, ca_pem=ca)

    def api_client(self) -> Any:
        """A fresh `kubernetes.client.ApiClient` for this sim, configured from its kubeconfig as a user's would be."""
        from kubernetes import config  # imported late: the sim itself does not need the client

        return config.new_client_from_config_dict(self.kubeconfig_dict())
