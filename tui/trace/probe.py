"""The reachability probe: the tutorial's experiment (each pod serves its own index.html; curl the ClusterIP again
and again) as one call. From this node, open N connections to a virtual server, and for each say which real server
took it (from the IPVS connection table, matched by the client's source port) and how long it took; then count per
real server and judge the spread against what the virtual server and the Service's sessionAffinity promise:
round robin spreads them, ClientIP affinity pins them to one pod.

Blocking and textual-free: the CLI calls `run_probe` directly, the probe screen from a thread worker. Each
connection is held open until the connection table has been read for it (in batches), so its entry is still there
whatever its TCP state; the table is read from /proc (world-readable, no CAP_NET_ADMIN needed).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from tui.ipvs.model import VirtualServer, endpoint_text
from tui.ipvs.conntable import Conn, ConnTableUnavailable, read_conn_table

DEFAULT_COUNT = 10
DEFAULT_TIMEOUT = 2.0
BATCH = 10  # connections held open between two reads of the connection table
MAX_HEAD = 65536  # bytes read for the HTTP headers and the first line of the body
HASHING = ("sh", "dh", "mh")  # schedulers that choose by a hash of the source: one client, one real server


@dataclass(frozen=True, slots=True)
class Target:
    """A virtual server to probe: an address and port this node can reach (ClusterIP, node IP:NodePort, ...)."""

    address: str
    port: int
    protocol: str = "TCP"
    role: str = ""  # "ClusterIP", "NodePort on 192.168.10.11", "" for an address given by hand
    service: str = ""  # "namespace/name" when probing a Service
    affinity: str = ""  # the Service's sessionAffinity ("None" | "ClientIP"); "" when not a Service
    shown: str = ""  # how to show the target when not address:port (tests fix a loopback port this way)

    @property
    def endpoint(self) -> str:
        if self.shown:
            return self.shown
        return endpoint_text(socket.AF_INET6 if ":" in self.address else socket.AF_INET, self.address, self.port)

    @property
    def title(self) -> str:
        what = f"{self.service} {self.role}".strip()
        return f"{what} {self.endpoint}" if what else self.endpoint


@dataclass(frozen=True, slots=True)
class Attempt:
    index: int  # 1-based
    ok: bool
    seconds: float  # connect (and, with HTTP, until the first line of the body)
    local: str = ""  # our address as the kernel chose it
    local_port: int = 0  # the source port the connection table is matched by
    error: str = ""  # why it failed, in words
    status: str = ""  # HTTP status line ("200 OK")
    body: str = ""  # first line of the HTTP body
    real_server: str = ""  # "10.244.1.5:80" from the connection table; "" when unknown
    pod: str = ""  # "namespace/name" of that real server's endpoint, when known
    state: str = ""  # the connection's IPVS state when the table was read


@dataclass(frozen=True, slots=True)
class Share:
    real_server: str
    pod: str
    count: int  # attempts that reached it (failed ones included)
    failed: int  # of those, how many failed (refused by it, no answer from it)
    share: float  # of the attempts whose real server is known
    bodies: tuple[str, ...]  # distinct first lines of the body it served
    mean_seconds: float


@dataclass(frozen=True, slots=True)
class Verdict:
    level: str  # "ok" | "info" | "warning" | "error"
    text: str


@dataclass(frozen=True)
class ProbeResult:
    target: Target
    attempts: tuple[Attempt, ...]
    shares: tuple[Share, ...]
    verdict: Verdict
    table_note: str = ""  # why the real servers are unknown (no connection table, ...), "" when they were read
    virtual_server: VirtualServer | None = None  # this node's IPVS entry for the target, when read
    http: bool = False

    @property
    def succeeded(self) -> int:
        return sum(a.ok for a in self.attempts)

    def to_dict(self) -> dict:
        vs = self.virtual_server
        return {
            "target": {"address": self.target.address, "port": self.target.port, "protocol": self.target.protocol,
                       "role": self.target.role, "service": self.target.service or None,
                       "sessionAffinity": self.target.affinity or None},
            "http": self.http,
            "virtualServer": None if vs is None else {
                "scheduler": vs.scheduler, "persistent": vs.persistent, "timeout": vs.timeout,
                "realServers": [{"address": rs.address, "port": rs.port, "weight": rs.weight}
                                for rs in vs.real_servers]},
            "attempts": [{"index": a.index, "ok": a.ok, "ms": round(a.seconds * 1000, 3), "local": a.local,
                          "localPort": a.local_port, "error": a.error or None, "status": a.status or None,
                          "body": a.body if a.status else None, "realServer": a.real_server or None,
                          "pod": a.pod or None, "state": a.state or None} for a in self.attempts],
            "realServers": [{"realServer": s.real_server, "pod": s.pod or None, "count": s.count, "failed": s.failed,
                             "share": round(s.share, 4), "bodies": list(s.bodies),
                             "meanMs": round(s.mean_seconds * 1000, 3)} for s in self.shares],
            "verdict": {"level": self.verdict.level, "text": self.verdict.text},
            "tableNote": self.table_note or None,
        }


# -- one connection -----------------------------------------------------------------------------------------------

def _error_words(exc: BaseException, target: Target, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return (f"connection refused: nothing accepts connections on {target.endpoint} (no virtual server there, "
                "or its real server refused)")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out after {timeout:g} s: no answer (a real server that does not answer, or dropped traffic)"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset by the other end"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{os.strerror(exc.errno).lower()} ({target.endpoint})"
    return str(exc) or type(exc).__name__


def _http_exchange(sock: socket.socket, target: Target) -> tuple[str, str]:
    """GET / and read up to the first line of the body: (status line without the version, that line)."""
    host = f"[{target.address}]" if ":" in target.address else target.address
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{target.port}\r\nUser-Agent: svcscope-probe\r\n"
                 "Accept: */*\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while len(data) < MAX_HEAD:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and (b"\n" in body or _short_body_done(head, body)):
            break
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if not b"HTTP/".startswith(data[:5]):
            break  # not HTTP: no need to wait for headers that will never end
    head, sep, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status_line.startswith("HTTP/"):
        if not data:
            raise ValueError("the connection was closed before any answer")
        shown = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")[:60]
        raise ValueError(f"the answer is not HTTP ({shown!r})")
    status = status_line.partition(" ")[2].strip()
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest  # the first chunk's data: its first line is what the tutorial's pods print
    return status, body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")


def _short_body_done(head: bytes, body: bytes) -> bool:
    """A body shorter than one line is complete when Content-Length says so."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def _connect(target: Target, index: int, http: bool, timeout: float,
             clock: Callable[[], float]) -> tuple[Attempt, socket.socket]:
    """One attempt. The socket is bound before connecting, so its source port is known even when the connection
    is refused (IPVS still recorded which real server refused it); the caller holds it until the table is read,
    so no later attempt of the batch gets the same port."""
    family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    start = clock()
    local, port = "", 0
    try:
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        port = sock.getsockname()[1]
        sock.connect((target.address, target.port))
        local = sock.getsockname()[0]
        status = body = ""
        if http:
            status, body = _http_exchange(sock, target)
        return Attempt(index, True, clock() - start, local, port, status=status, body=body), sock
    except (OSError, ValueError) as exc:
        return Attempt(index, False, clock() - start, local, port, error=_error_words(exc, target, timeout)), sock


# -- matching the connection table ------------------------------------------------------------------------------

def _proto_name(target: Target) -> str:
    return target.protocol.upper()


def match(attempts: Sequence[Attempt], conns: Iterable[Conn], target: Target,
          pods: Mapping[str, str] | None = None) -> list[Attempt]:
    """Fill each attempt's real server from the entries of its connection (client source port, virtual address and
    port, protocol; the client address too when the kernel printed the one we saw)."""

    want = {a.local_port for a in attempts if a.local_port}
    vaddr = _canonical(target.address)
    found: dict[int, list[Conn]] = {}
    for c in conns:
        if c.client_port in want and not c.template and c.virtual_port == target.port and c.virtual == vaddr \
                and c.protocol == _proto_name(target):
            found.setdefault(c.client_port, []).append(c)
    out = []
    for a in attempts:
        candidates = found.get(a.local_port, [])
        exact = [c for c in candidates if a.local and c.client == _canonical(a.local)] or candidates
        if exact:
            c = exact[0]
            rs = c.dest_endpoint
            out.append(dataclasses.replace(a, real_server=rs, pod=(pods or {}).get(rs, ""), state=c.state))
        else:
            out.append(a)
    return out


def _canonical(address: str) -> str:
    for af in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(af, socket.inet_pton(af, address.split("%")[0]))
        except OSError:
            continue
    return address


# -- the run ------------------------------------------------------------------------------------------------------

ConnSource = Callable[[], Sequence[Conn]]
Progress = Callable[[Sequence[Attempt]], None]


def run_probe(target: Target, count: int = DEFAULT_COUNT, *, http: bool = False, timeout: float = DEFAULT_TIMEOUT,
              virtual_server: VirtualServer | None = None, pods: Mapping[str, str] | None = None,
              conn_table: ConnSource = read_conn_table, clock: Callable[[], float] = time.perf_counter,
              progress: Progress | None = None, cancel: threading.Event | None = None,
              batch: int = BATCH) -> ProbeResult:
    """Open `count` connections to `target` one after another and judge where they went.

    `virtual_server` is this node's IPVS entry for the target (scheduler, persistence, weights) when it could be
    read; `pods` maps "address:port" of real servers to their pods. `progress` hears every attempt so far, after
    each batch. Never raises for network trouble: each failure is an attempt's `error`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    attempts: list[Attempt] = []
    table_note = ""
    for first in range(1, count + 1, batch):
        held: list[socket.socket] = []
        fresh: list[Attempt] = []
        try:
            for i in range(first, min(first + batch, count + 1)):
                if cancel is not None and cancel.is_set():
                    break
                attempt, sock = _connect(target, i, http, timeout, clock)
                fresh.append(attempt)
                held.append(sock)
            if any(a.local_port for a in fresh) and not table_note:
                try:
                    fresh = match(fresh, conn_table(), target, pods)
                except ConnTableUnavailable as exc:
                    table_note = str(exc)
        finally:
            for s in held:
                s.close()
        attempts.extend(fresh)
        if progress is not None:
            progress(list(attempts))
        if cancel is not None and cancel.is_set():
            break
    if not table_note and any(a.local_port for a in attempts) and not any(a.real_server for a in attempts):
        table_note = (f"no connection to {target.endpoint} is in the IPVS connection table: they did not go "
                      "through IPVS on this node (no virtual server for this address, or another proxy mode)")
    shares = summarize(attempts)
    return ProbeResult(target, tuple(attempts), shares, judge(target, attempts, shares, virtual_server, table_note),
                       table_note, virtual_server, http)


def summarize(attempts: Sequence[Attempt]) -> tuple[Share, ...]:
    known = [a for a in attempts if a.real_server]
    counts = Counter(a.real_server for a in known)
    out = []
    for rs, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        mine = [a for a in known if a.real_server == rs]
        bodies = tuple(dict.fromkeys(a.body for a in mine if a.status))
        failed = sum(not a.ok for a in mine)
        out.append(Share(rs, mine[0].pod, n, failed, n / len(known), bodies, sum(a.seconds for a in mine) / n))
    return tuple(out)


def judge(target: Target, attempts: Sequence[Attempt], shares: Sequence[Share], vs: VirtualServer | None,
          table_note: str = "") -> Verdict:
    """Whether the spread is what the virtual server's scheduler and persistence, and the Service's
    sessionAffinity, promise."""
    ok = [a for a in attempts if a.ok]
    if not ok:
        reason = Counter(a.error for a in attempts).most_common(1)[0][0] if attempts else "nothing was tried"
        return Verdict("error", f"no connection to {target.endpoint} succeeded: {reason}")
    failed = len(attempts) - len(ok)
    lost = f"; {failed} of {len(attempts)} connections failed" if failed else ""
    culprits = [s for s in shares if s.failed]
    if failed and culprits:
        lost += " (at " + ", ".join(f"{s.pod or s.real_server}: {s.failed}" for s in culprits) + ")"
    if table_note:  # the note itself is shown next to the verdict
        return Verdict("warning" if failed else "info",
                       f"{len(ok)} of {len(attempts)} connections succeeded; which real server took each is "
                       f"unknown{lost}")
    known = sum(s.count for s in shares)
    affinity = target.affinity == "ClientIP"
    persistent = vs.persistent if vs is not None else affinity
    weighted = [rs for rs in vs.real_servers if rs.weight > 0] if vs is not None else []
    sched = vs.scheduler if vs is not None else ""
    level = "warning" if failed else "ok"
    if target.affinity and vs is not None and vs.persistent != affinity:
        return Verdict("error", f"the Service's sessionAffinity is {target.affinity} but the virtual server is "
                                f"{'persistent' if vs.persistent else 'not persistent'}: "
                                f"{len(shares)} real server(s) took the {known} connections{lost}")
    if persistent:
        if len(shares) == 1:
            who = shares[0].pod or shares[0].real_server
            return Verdict(level, f"ClientIP affinity pins them to one pod: all {known} connections went to "
                                  f"{who}{lost}")
        return Verdict("error", f"ClientIP affinity should pin them to one pod, but {len(shares)} real servers "
                                f"took the {known} connections from this one client{lost}")
    if len(shares) > 1:
        what = "round robin spreads them" if sched in ("", "rr") else f"the {sched} scheduler spreads them"
        of = f" of {len(weighted)}" if weighted else ""
        return Verdict(level, f"{what}: {known} connections over {len(shares)}{of} real servers{lost}")
    only = shares[0].pod or shares[0].real_server
    if vs is not None and len(weighted) <= 1:
        return Verdict(level, f"one real server takes them all ({only}): it is the only one with weight above 0{lost}")
    if sched in HASHING:
        return Verdict(level, f"the {sched} scheduler hashes the source address, so this client lands on one real "
                              f"server ({only}){lost}")
    if known < 2:
        return Verdict(level, f"one connection went to {only}: too few to see a spread{lost}")
    if sched in ("", "rr") and len(weighted) > 1:
        return Verdict("warning", f"round robin should spread them, but all {known} connections went to {only} "
                                  f"({len(weighted)} real servers have weight above 0){lost}")
    return Verdict("info" if not failed else "warning", f"all {known} connections went to {only}{lost}")


__all__ = ["Attempt", "ProbeResult", "Share", "Target", "Verdict", "judge", "match", "run_probe", "summarize"]
