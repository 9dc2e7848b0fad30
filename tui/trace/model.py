"""What a trace is made of: the chain Service -> port -> virtual server -> real server -> endpoint -> pod, and the
findings (verdicts) attached to each link. Plain frozen data, shared by the trace screen, `svcscope check` and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from tui.ipvs.model import RealServer, VirtualServer
from tui.kube.models import PodView, ServicePort, ServiceView, SliceEndpoint

# Levels, worst first. "info" findings explain (headless rightly absent, a server draining); they never fail a check.
LEVELS = ("error", "warning", "info")


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # error | warning | info
    code: str  # stable identifier for scripts and tests: "no-pods", "ready-weight-0", ...
    subject: str  # where: "port 80/TCP", "TCP 10.96.0.10:80 -> 10.244.1.2:80"
    message: str  # one line: what is wrong
    cause: str = ""  # the likely cause and what to try

    def line(self) -> str:
        text = f"{self.level.upper():<7} {self.subject}: {self.message}" if self.subject else \
            f"{self.level.upper():<7} {self.message}"
        return f"{text} ({self.cause})" if self.cause else text


def worst(findings: Iterable[Finding]) -> str | None:
    """The worst level among findings, None when there are none."""
    ranked = sorted((level_rank(f.level), f.level) for f in findings)
    return ranked[0][1] if ranked else None


@dataclass(frozen=True, slots=True)
class RealServerLink:
    address: str
    port: int
    actual: RealServer | None  # None: expected but not in this node's table
    expected_weight: int | None  # None: kube-proxy would not program it
    endpoint: SliceEndpoint | None
    pod: str  # "namespace/name" of the endpoint's pod, "" when unknown
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class VirtualServerLink:
    role: str  # "ClusterIP", "NodePort on 192.168.10.11", "externalIP", "LoadBalancer"
    endpoint: str  # "TCP 10.96.0.10:80"
    actual: VirtualServer | None  # None: missing from this node's table
    expected: VirtualServer | None
    real_servers: tuple[RealServerLink, ...] = ()
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class PortTrace:
    port: ServicePort
    endpoints: tuple[SliceEndpoint, ...]  # the slice endpoints that serve this port
    target_ports: tuple[int, ...]  # the numbers the slices resolved targetPort to
    virtual_servers: tuple[VirtualServerLink, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def label(self) -> str:
        name = f"{self.port.name} " if self.port.name else ""
        return f"port {name}{self.port.port}/{self.port.protocol} -> {self.port.target_port}"


@dataclass(frozen=True, slots=True)
class Trace:
    service: ServiceView
    pods: tuple[PodView, ...]  # the pods the selector matches
    ports: tuple[PortTrace, ...]
    findings: tuple[Finding, ...]  # Service-level findings (API, IPVS layer as a whole, DNS)
    ipvs_note: str = ""  # which IPVS source was compared, or why none was
    dns_lines: tuple[str, ...] = ()  # the DNS verdicts' lines, as `svcscope dig --check` prints them
    all_findings: tuple[Finding, ...] = field(default=())

    @property
    def worst(self) -> str | None:
        return worst(self.all_findings)


# Findings about this node rather than about a Service (the IPVS table could not be read, kube-proxy runs another
# mode): the Services pane says them once, in its note, instead of on every row.
NODE_CODES = frozenset({"no-ipvs-table", "not-ipvs"})

SYMBOLS = {"error": "✗", "warning": "!", "info": "i", "ok": "✓"}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A Service's worst verdict in one word: "OK", or the code of its first worst finding (error, else warning).

    The DIAGNOSIS column of the Services pane; `svcscope check -o json`'s `worst` and first finding of that level
    say the same, which the tests compare."""

    level: str  # "ok" | "warning" | "error"
    code: str  # "OK" or a Finding.code
    count: int = 0  # findings at that level

    @property
    def text(self) -> str:
        """The cell: readable without colour (a symbol and a word)."""
        if self.level == "ok":
            return "OK"
        more = f" +{self.count - 1}" if self.count > 1 else ""
        return f"{SYMBOLS[self.level]} {self.code}{more}"


OK = Diagnosis("ok", "OK")


def diagnose(findings: Iterable[Finding], skip: frozenset[str] = frozenset()) -> Diagnosis:
    """The worst error or warning among findings (their order decides between equals); info only: OK."""
    findings = [f for f in findings if f.code not in skip]
    for level in ("error", "warning"):
        hits = [f for f in findings if f.level == level]
        if hits:
            return Diagnosis(level, hits[0].code, len(hits))
    return OK
