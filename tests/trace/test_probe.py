"""The probe off the kernel: real connections to loopback listeners (HTTP, silent, refusing, not HTTP), where there
is no IPVS connection table and the probe must say so; matching connection-table entries to attempts; and the
verdicts on every kind of spread. The kernel test (tests/kernel) runs it through real IPVS."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from tui.ipvs.model import F_PERSISTENT, RealServer, VirtualServer
from tui.ipvs.conntable import Conn, read_conn_table
from tui.trace.probe import Attempt, Target, judge, match, run_probe, summarize


class _Handler(BaseHTTPRequestHandler):
    body = b"web-1 says hello\nsecond line\n"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def raw_server() -> Iterator[tuple[socket.socket, list]]:
    """A listener whose behaviour each test sets: `greeting` bytes sent on accept (None: say nothing)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    state: list = [None, []]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            state[1].append(conn)
            if state[0] is not None:
                conn.sendall(state[0])

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield srv, state
    finally:
        srv.close()
        for c in state[1]:
            c.close()


def no_table(tmp_path):
    return lambda: read_conn_table(str(tmp_path))


def test_http_probe_of_a_loopback_listener_reads_each_answer_and_says_the_table_is_missing(http_server, tmp_path):
    seen: list[int] = []
    result = run_probe(Target("127.0.0.1", http_server), 12, http=True, conn_table=no_table(tmp_path),
                       progress=lambda attempts: seen.append(len(attempts)), batch=5)
    assert seen == [5, 10, 12]  # the table is read (and progress told) per batch of held connections
    assert [a.index for a in result.attempts] == list(range(1, 13))
    assert all(a.ok and a.status == "200 OK" and a.body == "web-1 says hello" for a in result.attempts)
    assert len({a.local_port for a in result.attempts}) == 12 and all(a.local == "127.0.0.1" for a in result.attempts)
    assert all(a.real_server == "" and a.seconds >= 0 for a in result.attempts)
    assert result.shares == ()
    assert "no IPVS connection table here" in result.table_note and "ip_vs is not loaded" in result.table_note
    assert (result.verdict.level, result.verdict.text) == (
        "info", "12 of 12 connections succeeded; which real server took each is unknown")


def test_plain_tcp_probe_connects_without_sending(raw_server, tmp_path):
    srv, state = raw_server
    result = run_probe(Target("127.0.0.1", srv.getsockname()[1]), 3, conn_table=no_table(tmp_path))
    assert all(a.ok and a.status == "" for a in result.attempts)


def test_refused_connections_are_an_error_in_words(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    result = run_probe(Target("127.0.0.1", port), 2, conn_table=no_table(tmp_path))
    assert [a.ok for a in result.attempts] == [False, False]
    assert result.attempts[0].error.startswith(f"connection refused: nothing accepts connections on 127.0.0.1:{port}")
    assert result.verdict.level == "error"
    assert result.verdict.text.startswith(f"no connection to 127.0.0.1:{port} succeeded: connection refused")
    assert all(a.local_port for a in result.attempts)  # bound first: a refused connection has its source port too
    assert "no IPVS connection table" in result.table_note


def test_a_silent_server_times_out_in_words(raw_server, tmp_path):
    srv, _ = raw_server
    result = run_probe(Target("127.0.0.1", srv.getsockname()[1]), 2, http=True, timeout=0.3,
                       conn_table=no_table(tmp_path))
    assert all(not a.ok and a.error.startswith("timed out after 0.3 s") and a.local_port for a in result.attempts)
    assert result.verdict.level == "error"


def test_an_answer_that_is_not_http_is_said(raw_server, tmp_path):
    srv, state = raw_server
    state[0] = b"SSH-2.0-OpenSSH_9.2\r\n"
    result = run_probe(Target("127.0.0.1", srv.getsockname()[1]), 1, http=True, timeout=1,
                       conn_table=no_table(tmp_path))
    assert result.attempts[0].error == "the answer is not HTTP ('SSH-2.0-OpenSSH_9.2')"
    assert result.attempts[0].seconds < 1  # said at once, not after waiting out the timeout


def test_a_chunked_answer_gives_its_first_line(raw_server, tmp_path):
    srv, state = raw_server
    state[0] = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"d\r\npod-b here\r\n\r\n0\r\n\r\n")
    result = run_probe(Target("127.0.0.1", srv.getsockname()[1]), 1, http=True, conn_table=no_table(tmp_path))
    assert result.attempts[0].body == "pod-b here"


# -- matching ---------------------------------------------------------------------------------------------------

VIP = Target("10.96.0.10", 80, service="dev/web", role="ClusterIP", affinity="None")


def conn(cport: int, dest: str, client: str = "10.96.0.10", vport: int = 80, proto: str = "TCP") -> Conn:
    return Conn(proto, client, cport, "10.96.0.10", vport, dest, 80, "TIME_WAIT", 119)


def test_match_takes_the_entry_of_each_source_port_and_skips_the_rest():
    attempts = [Attempt(1, True, 0.001, "10.96.0.10", 40001), Attempt(2, True, 0.002, "10.96.0.10", 40002),
                Attempt(3, False, 0.5, error="refused")]
    conns = [conn(0, "10.244.9.9"),  # a persistence template: not a connection
             conn(40001, "10.244.1.5", vport=443),  # another virtual server
             conn(40001, "10.244.1.5", proto="UDP"),
             conn(40001, "10.244.2.6", client="192.168.10.11"),  # same port from another client: second choice
             conn(40001, "10.244.1.7"),
             conn(40002, "10.244.2.6", client="192.168.10.11")]
    a, b, c = match(attempts, conns, VIP, {"10.244.1.7:80": "dev/web-1"})
    assert (a.real_server, a.pod, a.state) == ("10.244.1.7:80", "dev/web-1", "TIME_WAIT")
    assert (b.real_server, b.pod) == ("10.244.2.6:80", "")  # the kernel saw another client address: still ours
    assert c.real_server == ""


# -- verdicts ---------------------------------------------------------------------------------------------------

def vs(scheduler: str = "rr", persistent: bool = False, weights: tuple[int, ...] = (1, 1, 1)) -> VirtualServer:
    return VirtualServer("TCP", "10.96.0.10", 80, scheduler=scheduler, flags=F_PERSISTENT if persistent else 0,
                         timeout=10800 if persistent else 0,
                         real_servers=tuple(RealServer(f"10.244.{i}.5", 80, weight=w) for i, w in enumerate(weights)))


def attempts_to(*servers: str) -> list[Attempt]:
    return [Attempt(i, True, 0.001, "10.96.0.10", 40000 + i, real_server=f"{s}:80", pod=f"dev/{s}")
            for i, s in enumerate(servers, start=1)]


def verdict(attempts, server, target=VIP):
    return judge(target, attempts, summarize(attempts), server)


def test_round_robin_spreads_them():
    a = attempts_to("a", "b", "c", "a", "b", "c")
    shares = summarize(a)
    assert [(s.real_server, s.count, round(s.share, 2)) for s in shares] == [
        ("a:80", 2, 0.33), ("b:80", 2, 0.33), ("c:80", 2, 0.33)]
    v = verdict(a, vs())
    assert (v.level, v.text) == ("ok", "round robin spreads them: 6 connections over 3 of 3 real servers")
    assert verdict(a, vs("wrr")).text.startswith("the wrr scheduler spreads them")


def test_client_ip_affinity_pins_them_to_one_pod():
    sticky = Target("10.96.0.10", 80, service="dev/web", role="ClusterIP", affinity="ClientIP")
    v = verdict(attempts_to("b", "b", "b"), vs(persistent=True), sticky)
    assert (v.level, v.text) == ("ok", "ClientIP affinity pins them to one pod: all 3 connections went to dev/b")
    broken = verdict(attempts_to("a", "b"), vs(persistent=True), sticky)
    assert broken.level == "error" and "should pin them to one pod, but 2 real servers" in broken.text


def test_affinity_the_kernel_does_not_apply_is_an_error():
    sticky = Target("10.96.0.10", 80, service="dev/web", role="ClusterIP", affinity="ClientIP")
    v = verdict(attempts_to("a", "b", "c"), vs(persistent=False), sticky)
    assert v.level == "error" and v.text.startswith("the Service's sessionAffinity is ClientIP but the virtual "
                                                    "server is not persistent")


def test_one_server_taking_everything():
    assert verdict(attempts_to("a", "a", "a"), vs(weights=(1, 1, 1))).level == "warning"
    only = verdict(attempts_to("a", "a"), vs(weights=(1, 0, 0)))
    assert only.level == "ok" and "only one with weight above 0" in only.text
    assert "hashes the source address" in verdict(attempts_to("a", "a", "a"), vs("sh")).text
    assert "too few to see a spread" in verdict(attempts_to("a"), vs()).text


def test_failures_are_counted_in_the_verdict():
    a = attempts_to("a", "b") + [Attempt(3, False, 2.0, error="timed out after 2 s: no answer")]
    v = verdict(a, vs())
    assert v.level == "warning" and v.text.endswith("; 1 of 3 connections failed")
    refused = Attempt(4, False, 0.001, "", 40004, error="connection refused", real_server="c:81", pod="dev/c")
    v = verdict(attempts_to("a", "b") + [refused], vs())
    assert v.text == ("round robin spreads them: 3 connections over 3 of 3 real servers; 1 of 3 connections failed "
                      "(at dev/c: 1)")
    assert [(s.real_server, s.failed) for s in summarize(attempts_to("a") + [refused])] == [("a:80", 0), ("c:81", 1)]
