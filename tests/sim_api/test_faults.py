"""Each fault knob, as the real client experiences it."""

from __future__ import annotations

import json
import threading
import time

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client import ApiException

from tests.conftest import wait_for
from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster
from tui.sim.resources import lookup


class RawWatch:
    """A watch read line by line in a thread, recording the events and how the stream ended."""

    def __init__(self, core: client.CoreV1Api, **kw: object) -> None:
        self.lines: list[dict] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._resp = core.list_namespaced_service("dev", watch=True, _preload_content=False, **kw)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for chunk in self._resp.stream(1024, decode_content=False):
                self._buf = getattr(self, "_buf", b"") + chunk
                while b"\n" in self._buf:
                    line, self._buf = self._buf.split(b"\n", 1)
                    self.lines.append(json.loads(line))
        except BaseException as exc:  # what the client sees when the connection breaks
            self.error = exc
        finally:
            self.done.set()


def test_drop_watches_breaks_the_connection(sim: SimCluster, core: client.CoreV1Api) -> None:
    w = RawWatch(core)
    wait_for(lambda: sim.faults.open_watches == 1)
    assert sim.faults.drop_watches() == 1
    assert w.done.wait(10)
    assert isinstance(w.error, urllib3.exceptions.ProtocolError)
    wait_for(lambda: sim.faults.open_watches == 0)


def test_drop_watches_cleanly_ends_the_stream(sim: SimCluster, core: client.CoreV1Api) -> None:
    w = RawWatch(core)
    wait_for(lambda: sim.faults.open_watches == 1)
    sim.faults.drop_watches(abrupt=False)
    assert w.done.wait(10)
    assert w.error is None


def test_drop_watches_after_n_events(sim: SimCluster, core: client.CoreV1Api) -> None:
    w = RawWatch(core)
    wait_for(lambda: sim.faults.open_watches == 1)
    sim.faults.drop_watches(after_events=2)
    time.sleep(0.1)  # the knob reaches the watch through the sim's loop
    for name in ("a", "b", "c"):
        core.create_namespaced_service("dev", service(name))
    assert w.done.wait(10)
    assert [l["object"]["metadata"]["name"] for l in w.lines] == ["a", "b"]
    assert w.error is not None


def test_delay_slows_every_answer(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.faults.delay(0.6)
    start = time.monotonic()
    core.list_namespaced_service("dev")
    assert time.monotonic() - start >= 0.6
    sim.faults.delay(0)
    core.list_namespaced_service("dev")


@pytest.mark.parametrize("code,reason", [(403, "Forbidden"), (500, "InternalError"), (503, "ServiceUnavailable")])
def test_answer_status_for_matching_requests(sim: SimCluster, core: client.CoreV1Api, code: int,
                                             reason: str) -> None:
    sim.faults.answer(code, "GET", "/api/v1/namespaces/dev/services*", times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as exc:
            core.list_namespaced_service("dev")
        assert exc.value.status == code
        assert json.loads(exc.value.body)["reason"] == reason
    core.create_namespaced_service("dev", service("a"))  # POST does not match
    assert [s.metadata.name for s in core.list_namespaced_service("dev").items] == ["a"]  # times ran out


def test_answer_pattern_with_a_query_fails_only_watches(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.faults.answer(500, "GET", "*watch=true*")
    assert core.list_namespaced_service("dev").items == []
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_service("dev", watch=True, timeout_seconds=1, _preload_content=False)
    assert exc.value.status == 500
    sim.faults.clear()
    core.list_namespaced_service("dev", watch=True, timeout_seconds=1, _preload_content=False).release_conn()


def test_malformed_object_in_list_then_normal(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    sim.faults.send_malformed("services", "ports-not-list", where="list")
    resp = core.list_namespaced_service("dev", _preload_content=False)
    items = json.loads(resp.data)["items"]
    assert items[0]["spec"]["ports"] == {"port": "eighty"}
    assert core.list_namespaced_service("dev").items[0].spec.ports[0].port == 80
    assert sim.store.get(lookup("", "services"), "dev", "a")["spec"]["ports"][0]["port"] == 80  # store untouched


def test_malformed_object_in_next_watch_event(sim: SimCluster, core: client.CoreV1Api) -> None:
    sim.faults.send_malformed("services", "spec-string", where="watch")
    w = RawWatch(core, timeout_seconds=2)
    wait_for(lambda: sim.faults.open_watches == 1)
    core.create_namespaced_service("dev", service("a"))
    core.create_namespaced_service("dev", service("b"))
    assert w.done.wait(10)
    assert [l["object"]["spec"] for l in w.lines][0] == "this spec is a string"
    assert isinstance(w.lines[1]["object"]["spec"], dict)


def test_restart_server_keeps_the_store_and_port(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespaced_service("dev", service("a"))
    port = sim.port
    w = RawWatch(core)
    wait_for(lambda: sim.faults.open_watches == 1)
    sim.faults.stop_server()
    assert w.done.wait(10) and w.error is not None  # the watch is cut as by a dying apiserver
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespaced_service("dev", _request_timeout=2)
    sim.faults.start_server()
    assert sim.port == port
    assert [s.metadata.name for s in core.list_namespaced_service("dev").items] == ["a"]
    sim.faults.restart_server()
    assert [s.metadata.name for s in core.list_namespaced_service("dev").items] == ["a"]


def test_watch_client_resumes_after_a_clean_drop(sim: SimCluster, core: client.CoreV1Api) -> None:
    """kubernetes.watch.Watch reconnects from the last resourceVersion when a stream ends without a timeout."""
    seen: list[str] = []
    w = watch.Watch()

    def consume() -> None:
        for e in w.stream(core.list_namespaced_service, "dev", resource_version="0"):
            seen.append(e["object"].metadata.name)
            if len(seen) == 2:
                w.stop()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    wait_for(lambda: sim.faults.open_watches == 1)
    core.create_namespaced_service("dev", service("a"))
    wait_for(lambda: seen == ["a"])
    sim.faults.drop_watches(abrupt=False)
    wait_for(lambda: sim.faults.open_watches == 1)
    core.create_namespaced_service("dev", service("b"))
    t.join(10)
    assert seen == ["a", "b"]
