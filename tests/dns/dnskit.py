"""Helpers for the DNS tests (a module with a name of its own, so no other conftest can shadow it): free ports,
waiting, dig run and parsed, and tiny hand-made servers for the failures a real server will not produce on demand."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from tui.dns.probe import DnsServer

DIG = "/usr/bin/dig"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


def wait_for(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- dig, parsed ------------------------------------------------------------------------------------------------


@dataclass
class DigOutput:
    text: str
    rc: int
    status: str = ""
    id: int = -1
    flags: tuple[str, ...] = ()
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    sections: dict[str, list[tuple[str, int, str, str, str]]] = field(default_factory=dict)
    size: int = -1
    transport: str = ""
    truncated: bool = False
    edns: str | None = None


_RR = re.compile(r"^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$")


def run_dig(port: int, name: str, qtype: str = "A", *opts: str) -> DigOutput:
    assert shutil.which(DIG), "dig is needed for the DNS tests: apt-get install dnsutils"
    proc = subprocess.run([DIG, "@127.0.0.1", "-p", str(port), name, qtype, "+nocookie", *opts],
                          capture_output=True, text=True, timeout=60)
    out = DigOutput(proc.stdout, proc.returncode)
    section = None
    for line in proc.stdout.splitlines():
        if m := re.search(r"status: (\S+), id: (\d+)", line):
            out.status, out.id = m.group(1).rstrip(","), int(m.group(2))
        elif m := re.match(r";; flags:([^;]*); QUERY: (\d+), ANSWER: (\d+), AUTHORITY: (\d+), ADDITIONAL: (\d+)", line):
            out.flags = tuple(m.group(1).split())
            out.counts = tuple(int(m.group(i)) for i in range(2, 6))  # type: ignore[assignment]
        elif m := re.match(r";; (\w+) SECTION:", line):
            section = m.group(1)
            out.sections[section] = []
        elif line.startswith("; EDNS:"):
            out.edns = line
        elif m := re.match(r";; MSG SIZE  rcvd: (\d+)", line):
            out.size = int(m.group(1))
        elif m := re.match(r";; SERVER: .*\((UDP|TCP)\)", line):
            out.transport = m.group(1)
        elif line.startswith(";; Truncated, retrying in TCP mode."):
            out.truncated = True
        elif not line.strip():
            section = None
        elif section and section != "QUESTION" and not line.startswith(";"):
            m = _RR.match(line)
            assert m, line
            out.sections[section].append((m.group(1), int(m.group(2)), m.group(3), m.group(4), m.group(5)))
    return out


def normalise_dig(text: str) -> list[str]:
    """dig's text minus what differs between two runs or two programs: ids, timings, the banner, the mDNS
    warning, and record order inside a section (dnsmasq rotates round-robin answers)."""
    out, block = [], []
    for line in text.splitlines():
        if line.startswith(("; <<>>", "; (1 server", ";; global options", ";; WARNING: .local",
                            ";; You are currently testing", ";; WHEN:", ";; Query time:")):
            continue
        line = re.sub(r"id: \d+", "id: N", line)
        if line and not line.startswith(";"):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        out.append(line)
    out.extend(sorted(block))
    return out


# -- tiny servers -----------------------------------------------------------------------------------------------


class TinyServer:
    """A UDP (and optionally TCP) server on a loopback port whose answers a test function makes from the query."""

    def __init__(self, udp: Callable[[bytes], bytes | None] | None,
                 tcp: Callable[[bytes], bytes | None] | None = None) -> None:
        self.udp_handler, self.tcp_handler = udp, tcp
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.1)
        self.tcp = None
        if tcp is not None:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(8)
            self.tcp.settimeout(0.1)
        self.received = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True)]
        if self.tcp is not None:
            self._threads.append(threading.Thread(target=self._serve_tcp, daemon=True))
        for t in self._threads:
            t.start()

    @property
    def server(self) -> DnsServer:
        return DnsServer("127.0.0.1", self.port)

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.udp.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            self.received += 1
            reply = self.udp_handler(data) if self.udp_handler else None
            if reply is not None:
                self.udp.sendto(reply, addr)

    def _serve_tcp(self) -> None:
        assert self.tcp is not None and self.tcp_handler is not None
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    size = int.from_bytes(conn.recv(2), "big")
                    data = b""
                    while len(data) < size:
                        chunk = conn.recv(size - len(data))
                        if not chunk:
                            break
                        data += chunk
                    reply = self.tcp_handler(data)
                    if reply is not None:
                        conn.sendall(reply)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()


# -- cluster objects for the sim's store ----------------------------------------------------------------------------


def service_obj(ns: str, name: str, cluster_ip: str | None = None, ports: list[dict] | None = None, *,
                type_: str = "ClusterIP", external_name: str = "", publish_not_ready: bool = False,
                labels: dict | None = None) -> dict:
    """A Service as stored after admission. No selector: the tests own its EndpointSlices, no controller does."""
    spec: dict = {"type": type_, "ports": ports or []}
    if type_ == "ExternalName":
        spec["externalName"] = external_name
    else:
        ips = [] if cluster_ip is None else ([cluster_ip] if cluster_ip != "None" else ["None"])
        spec.update(clusterIP=cluster_ip or "", clusterIPs=ips)
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {"metadata": {"namespace": ns, "name": name, "labels": labels or {}}, "spec": spec}


def port(name: str, number: int, protocol: str = "TCP") -> dict:
    return {"name": name, "port": number, "protocol": protocol}


def endpoint(ip: str, *, ready: bool | None = True, serving: bool | None = None, terminating: bool | None = None,
             hostname: str | None = None, pod: str | None = None) -> dict:
    cond = {k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating)) if v is not None}
    e: dict = {"addresses": [ip], "conditions": cond}
    if hostname:
        e["hostname"] = hostname
    if pod:
        e["targetRef"] = {"kind": "Pod", "name": pod}
    return e


def slice_obj(ns: str, service: str, endpoints: list[dict], ports: list[dict], *, name: str | None = None,
              address_type: str = "IPv4") -> dict:
    return {"metadata": {"namespace": ns, "name": name or f"{service}-{address_type.lower()}",
                         "labels": {"kubernetes.io/service-name": service,
                                    "endpointslice.kubernetes.io/managed-by": "svcscope-tests"}},
            "addressType": address_type, "endpoints": endpoints, "ports": ports}


def coredns_pod(name: str, ip: str, ready: bool = True) -> dict:
    return {"metadata": {"namespace": "kube-system", "name": name, "labels": {"k8s-app": "kube-dns"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "coredns", "image": "coredns:1.11"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}
