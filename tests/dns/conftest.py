"""Fixtures for the DNS tests: a real dnsmasq on a loopback port serving a headless-style zone, dig run beside
the probe, and tiny hand-made servers (see dnskit)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from dnskit import DigOutput, TinyServer, free_port, run_dig, wait_for
from tui.dns.probe import DigResult, DnsServer, probe

DNSMASQ = "/usr/sbin/dnsmasq"
ZONE = "cluster.local"

# A headless-style zone as CoreDNS would serve it for the tutorial-like objects: a ClusterIP Service with a named
# port, a headless Service with three ready endpoints (one IPv6), hostnames, SRV per endpoint x port, PTRs, an
# ExternalName CNAME and dns-version TXT.
HEADLESS_HOSTS = [
    ("10.244.1.5", "hl.default.svc.cluster.local"),
    ("10.244.1.6", "hl.default.svc.cluster.local"),
    ("10.244.2.7", "hl.default.svc.cluster.local"),
    ("fd00:10:244::5", "hl.default.svc.cluster.local"),
    ("10.244.1.5", "db-0.hl.default.svc.cluster.local"),
    ("10.244.1.6", "db-1.hl.default.svc.cluster.local"),
    ("10.244.2.7", "10-244-2-7.hl.default.svc.cluster.local"),
] + [(f"10.244.3.{i}", "big.default.svc.cluster.local") for i in range(1, 61)]

DNSMASQ_RECORDS = [
    "--host-record=web.default.svc.cluster.local,10.96.0.10",
    "--srv-host=_http._tcp.web.default.svc.cluster.local,web.default.svc.cluster.local,80,0,100",
    "--ptr-record=10.0.96.10.in-addr.arpa,web.default.svc.cluster.local",
    "--srv-host=_pg._tcp.hl.default.svc.cluster.local,db-0.hl.default.svc.cluster.local,5432,0,33",
    "--srv-host=_pg._tcp.hl.default.svc.cluster.local,db-1.hl.default.svc.cluster.local,5432,0,33",
    "--srv-host=_pg._tcp.hl.default.svc.cluster.local,10-244-2-7.hl.default.svc.cluster.local,5432,0,33",
    "--ptr-record=5.1.244.10.in-addr.arpa,db-0.hl.default.svc.cluster.local",
    "--ptr-record=6.1.244.10.in-addr.arpa,db-1.hl.default.svc.cluster.local",
    "--cname=ext.default.svc.cluster.local,web.default.svc.cluster.local",
    "--txt-record=dns-version.cluster.local,1.1.0",
    "--txt-record=notes.default.svc.cluster.local,first string,second string",
]


@dataclass
class Dnsmasq:
    port: int
    proc: subprocess.Popen

    @property
    def server(self) -> DnsServer:
        return DnsServer("127.0.0.1", self.port)


@pytest.fixture(scope="session")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dnsmasq]:
    assert Path(DNSMASQ).exists(), "dnsmasq is needed for the DNS tests: apt-get install dnsmasq"
    d = tmp_path_factory.mktemp("dnsmasq")
    hosts = d / "hosts"
    hosts.write_text("".join(f"{ip} {name}\n" for ip, name in HEADLESS_HOSTS))
    for attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [DNSMASQ, "--no-resolv", "--no-hosts", f"--port={port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--keep-in-foreground", "--conf-file=/dev/null", "--user=root",
             f"--pid-file={d / 'pid'}", f"--local=/{ZONE}/", "--local-ttl=5", f"--addn-hosts={hosts}",
             *DNSMASQ_RECORDS],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = DnsServer("127.0.0.1", port)

        def up() -> bool:
            if proc.poll() is not None:
                return True
            r = probe("web.default.svc.cluster.local", "A", server, timeout=0.5, tries=1)
            return isinstance(r, DigResult)

        wait_for(up, what="dnsmasq to answer")
        if proc.poll() is None:
            break
    else:
        raise AssertionError(f"dnsmasq would not start: {proc.stderr.read().decode() if proc.stderr else ''}")
    yield Dnsmasq(port, proc)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def dig() -> Callable[..., DigOutput]:
    return run_dig


@pytest.fixture
def tiny_server() -> Iterator[Callable[..., TinyServer]]:
    made: list[TinyServer] = []

    def make(udp: Callable[[bytes], bytes | None] | None,
             tcp: Callable[[bytes], bytes | None] | None = None) -> TinyServer:
        s = TinyServer(udp, tcp)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
