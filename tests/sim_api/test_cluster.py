"""SimCluster as the other parts of svcscope use it: components on its loop, call(), kubeconfig, stop and start."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import yaml
from kubernetes import client, config

from tui.sim.cluster import SimCluster
from tui.sim.resources import lookup


class Recorder:
    """A component that records the loop it ran on and whether it was stopped."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.stopped = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.thread = loop, threading.current_thread()

    def stop(self) -> None:
        self.stopped = True


def test_components_run_on_the_sim_loop_and_stop_with_it() -> None:
    early, late = Recorder(), Recorder()
    sim = SimCluster(scenario="empty")
    sim.add_component(early)
    sim.start()
    try:
        sim.add_component(late)
        assert early.loop is sim.loop and late.loop is sim.loop
        assert early.thread is late.thread and early.thread is not threading.current_thread()
        assert sim.call(lambda x: (threading.current_thread(), x * 2), 21) == (early.thread, 42)

        async def coro(x: int) -> int:
            await asyncio.sleep(0)
            return x + 1

        assert sim.call(coro, 1) == 2
    finally:
        sim.stop()
    assert early.stopped and late.stopped


def test_stop_then_start_keeps_store_and_port(tmp_path: Path) -> None:
    sim = SimCluster(scenario="empty").start()
    port = sim.port
    sim.store.create(lookup("", "namespaces"), {"metadata": {"name": "dev"}})
    sim.stop()
    sim.start()
    try:
        assert sim.port == port
        core = client.CoreV1Api(sim.api_client())
        assert [n.metadata.name for n in core.list_namespace().items] == ["dev"]
    finally:
        sim.stop()


def test_kubeconfig_points_at_the_sim(sim: SimCluster, sim_kubeconfig: Path) -> None:
    doc = yaml.safe_load(sim_kubeconfig.read_text())
    assert doc["current-context"] == "svcscope-demo"
    ctx = doc["contexts"][0]["context"]
    assert ctx["namespace"] == "dev" and ctx["user"] == "svcscope-demo"
    assert doc["clusters"][0]["cluster"]["server"] == sim.url == f"http://127.0.0.1:{sim.port}"
    assert oct(sim_kubeconfig.stat().st_mode & 0o777) == "0o600"
    api = config.new_client_from_config(str(sim_kubeconfig))
    assert client.VersionApi(api).get_code().git_version.startswith("v1.32.")
    other = sim.write_kubeconfig(sim_kubeconfig.parent / "k2", context="elsewhere", namespace="kube-system")
    assert yaml.safe_load(other.read_text())["contexts"][0] == {
        "name": "elsewhere", "context": {"cluster": "svcscope-sim", "user": "svcscope-demo",
                                         "namespace": "kube-system"}}
