"""A client that goes away with a watch open (svcscope quitting, kubectl get -w interrupted): the sim ends that watch
quietly, logs no traceback, and keeps serving everyone else."""

from __future__ import annotations

import logging
import socket
import struct

import pytest
from kubernetes import client

from tests.conftest import wait_for
from tests.sim_api.conftest import service
from tui.sim.cluster import SimCluster


def _open_watch(sim: SimCluster) -> socket.socket:
    """A raw HTTP/1.1 watch of dev's Services, read up to its first chunk: the server is writing to this socket."""
    sock = socket.create_connection((sim.host, sim.port), timeout=10)
    sock.sendall(f"GET /api/v1/namespaces/dev/services?watch=true&resourceVersion=0 HTTP/1.1\r\n"
                 f"Host: {sim.host}:{sim.port}\r\nAccept: application/json\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the sim closed the watch before answering"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    return sock


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_leaving_mid_watch_leaves_no_traceback(sim: SimCluster, core: client.CoreV1Api,
                                                        caplog: pytest.LogCaptureFixture, how: str) -> None:
    caplog.set_level(logging.DEBUG)
    core.create_namespaced_service("dev", service("before"))
    sock = _open_watch(sim)
    wait_for(lambda: sim.faults.open_watches == 1, message="the watch never opened")
    if how == "reset":  # RST instead of FIN, as a killed process's socket may end
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    # Events for the gone client: the watch writes them (and bookmarks, every 0.5 s here) into a closed connection.
    for i in range(3):
        core.create_namespaced_service("dev", service(f"after-{i}"))
    wait_for(lambda: sim.faults.open_watches == 0, timeout=20, message="the gone client's watch never ended")
    # The server keeps serving. (This answer also comes after anything the ended watch's task logged: one loop.)
    names = {s.metadata.name for s in core.list_namespaced_service("dev").items}
    assert names == {"before", "after-0", "after-1", "after-2"}
    again = _open_watch(sim)
    assert sim.faults.open_watches == 1
    again.close()
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert not noisy, [f"{r.name}: {r.getMessage()} {r.exc_info and r.exc_info[0]}" for r in noisy]
