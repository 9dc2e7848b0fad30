"""A dig-like DNS probe: one question to one server, the whole answer kept, every failure one sentence.

Messages are built and parsed by dnspython; the socket exchange is done here rather than by `dns.query` because dig
shows what `dns.query` throws away: the size of the message on the wire, the header counts as sent (OPT included),
records in wire order with their own TTLs, and the UDP answer that came back truncated before the TCP retry.

`probe()` never raises: it returns a `DigResult` (any rcode, NXDOMAIN and SERVFAIL included: those are answers)
or a `ProbeError` whose `message` is one line saying what failed, why and what to try.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename

DEFAULT_TIMEOUT = 2.0  # seconds per try; dig waits 5 s, but an admin at a TUI should hear of a dead server sooner
DEFAULT_TRIES = 2  # UDP sends before giving up (dig's +tries; TCP is tried once, as dig does)
DEFAULT_BUFSIZE = 1232  # the EDNS UDP size dig 9.18 advertises (DNS flag day 2020)

# The order dig prints header flags in (BIND's printmessage).
_HEADER_FLAGS = (("qr", dns.flags.QR), ("aa", dns.flags.AA), ("tc", dns.flags.TC), ("rd", dns.flags.RD),
                 ("ra", dns.flags.RA), ("ad", dns.flags.AD), ("cd", dns.flags.CD))

# RFC 8914 info-codes, with the texts dig prints after them.
EDE_TEXT = (
    "Other", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type", "Stale Answer", "Forged Answer",
    "DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired", "Signature Not Yet Valid", "DNSKEY Missing",
    "RRSIGs Missing", "No Zone Key Bit Set", "NSEC Missing", "Cached Error", "Not Ready", "Blocked", "Censored",
    "Filtered", "Prohibited", "Stale NXDOMAIN Answer", "Not Authoritative", "Not Supported",
    "No Reachable Authority", "Network Error", "Invalid Data",
)


@dataclass(frozen=True, slots=True)
class DnsServer:
    """Where a query goes. `host`/`port` are what packets are sent to; `name` is what the user asked for.

    They differ in the demo, where a CoreDNS pod IP (unreachable from here) is served on a loopback port, and dig's
    `;; SERVER: host#port(name)` line shows both.
    """

    host: str
    port: int = 53
    name: str = ""  # the address or keyword the user gave; defaults to host
    label: str = ""  # what this server is: "kube-dns Service", "CoreDNS pod coredns-6f5d-x", "/etc/resolv.conf"

    @property
    def shown_name(self) -> str:
        return self.name or self.host

    @property
    def where(self) -> str:
        """dig's `ADDR#PORT`."""
        return f"{self.host}#{self.port}"

    @property
    def title(self) -> str:
        """How verdicts name this server: the label when there is one, with the address the user knows."""
        return f"{self.label} ({self.shown_name})" if self.label else self.shown_name


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    rdclass: str
    rdtype: str


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record as dig prints it: owner name (absolute), TTL, class, type, rdata in presentation form."""

    name: str
    ttl: int
    rdclass: str
    rdtype: str
    rdata: str

    @property
    def value(self) -> str:
        """The part verdicts compare: an address, a target name, `PORT TARGET` for SRV (weights and priorities are
        left to the server by the spec), the rdata itself otherwise. Names are lower-cased (DNS is case-blind)."""
        return record_value(self.rdtype, self.rdata)


def record_value(rdtype: str, rdata: str) -> str:
    if rdtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(rdata))
        except ValueError:
            return rdata
    if rdtype == "SRV":
        parts = rdata.split()
        if len(parts) == 4:
            return f"{parts[2]} {parts[3].lower()}"
        return rdata.lower()
    if rdtype in ("PTR", "CNAME", "NS", "DNAME"):
        return rdata.lower()
    return rdata


@dataclass(frozen=True, slots=True)
class EdnsInfo:
    version: int
    flags: tuple[str, ...]  # "do"
    udp: int
    options: tuple[tuple[str, str], ...]  # (label, text) as dig prints `; LABEL: text`


@dataclass(frozen=True, slots=True)
class DigResult:
    """Everything dig prints about one answer."""

    server: DnsServer
    qname: str  # absolute, as asked
    qtype: str
    id: int
    opcode: str
    status: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...
    flags: tuple[str, ...]  # in dig's order: qr aa tc rd ra ad cd
    counts: tuple[int, int, int, int]  # QUERY, ANSWER, AUTHORITY, ADDITIONAL from the header (OPT counted)
    question: tuple[Question, ...]
    answer: tuple[Record, ...]
    authority: tuple[Record, ...]
    additional: tuple[Record, ...]  # without the OPT pseudo-record, which is `edns`
    edns: EdnsInfo | None
    query_ms: float
    size: int  # bytes of the answer on the wire
    transport: str  # "UDP" | "TCP"
    truncated_udp: bool  # the UDP answer had TC set, so the query was repeated over TCP (dig does the same)
    when: datetime

    @property
    def answered(self) -> bool:
        """What glibc's resolver calls success: NOERROR with at least one answer record."""
        return self.status == "NOERROR" and bool(self.answer)

    def records(self, owner: str | None = None, rdtypes: tuple[str, ...] | None = None) -> tuple[Record, ...]:
        """Answer records, optionally only those owned by `owner` and of the given types."""
        own = owner.lower() if owner else None
        return tuple(r for r in self.answer
                     if (own is None or r.name.lower() == own) and (rdtypes is None or r.rdtype in rdtypes))

    def summary(self) -> str:
        """One line for lists: `NOERROR 3 answers (UDP, 2 ms)`."""
        n = len(self.answer)
        return f"{self.status}, {n} answer{'s' if n != 1 else ''} ({self.transport}, {self.query_ms:.0f} ms)"


@dataclass(frozen=True, slots=True)
class ProbeError:
    """A query that got no usable answer. `message` is the one line a user sees."""

    server: DnsServer
    qname: str
    qtype: str
    kind: str  # timeout | refused | malformed | truncated | network | badname | badtype
    message: str
    partial: DigResult | None = None  # the truncated UDP answer when the TCP retry failed

    @property
    def status(self) -> str:
        return self.kind.upper()

    def summary(self) -> str:
        return self.message


ProbeOutcome = DigResult | ProbeError

_STATUS_WHY = {
    "SERVFAIL": "the server could not produce an answer; for CoreDNS see its pod logs (API server or upstream "
                "unreachable, or a plugin error)",
    "REFUSED": "the server does not serve that name for this client; ask the cluster DNS (kube-dns) or check the "
               "server's zones",
    "FORMERR": "the server could not parse the question",
    "NOTIMP": "the server does not implement this kind of query",
}


def explain(outcome: "ProbeOutcome") -> str:
    """One sentence for any outcome, for status lines and lists: what came back and, for a failure, what it means."""
    if isinstance(outcome, ProbeError):
        return outcome.message
    who = outcome.server.title
    q = f"{outcome.qname} {outcome.qtype}"
    if outcome.status == "NOERROR":
        n = len(outcome.answer)
        if n:
            return f"{who} answered {q} with {n} record{'s' if n != 1 else ''}"
        return f"{outcome.qname} exists but has no {outcome.qtype} records (NODATA) according to {who}"
    if outcome.status == "NXDOMAIN":
        return f"{outcome.qname} does not exist (NXDOMAIN) according to {who}"
    why = _STATUS_WHY.get(outcome.status, "an error status")
    return f"{who} answered {q} with {outcome.status}: {why}"


class _Fail(Exception):
    def __init__(self, kind: str, why: str) -> None:
        super().__init__(why)
        self.kind = kind
        self.why = why


def query_name(name: str, qtype: str) -> str:
    """The absolute name to ask: `10.96.0.10` with PTR becomes its in-addr.arpa name (dig -x); a trailing dot is
    added, since dig treats every name as absolute (search paths are `servers.resolve_as_pod`'s job)."""
    if qtype.upper() == "PTR":
        try:
            return dns.reversename.from_address(name).to_text()
        except (ValueError, dns.exception.SyntaxError):
            pass
    return name if name.endswith(".") else name + "."


def probe(name: str, qtype: str, server: DnsServer, *, timeout: float = DEFAULT_TIMEOUT,
          tries: int = DEFAULT_TRIES, tcp: bool = False, bufsize: int | None = DEFAULT_BUFSIZE,
          recurse: bool = True, clock: Callable[[], datetime] | None = None) -> ProbeOutcome:
    """Ask `server` for `name`/`qtype` the way dig does (RD and AD set, EDNS0 with `bufsize`; `bufsize=None` sends
    no OPT), over UDP unless `tcp`, retrying over TCP when the UDP answer is truncated."""
    qtype = qtype.upper()
    try:
        rdtype = dns.rdatatype.from_text(qtype)
    except (dns.rdatatype.UnknownRdatatype, ValueError):
        return ProbeError(server, name, qtype, "badtype",
                          f"{qtype!r} is not a DNS record type dnspython knows: use A, AAAA, SRV, PTR, CNAME, TXT, ...")
    if qtype in ("AXFR", "IXFR"):
        return ProbeError(server, name, qtype, "badtype",
                          f"{qtype} is a zone transfer, not a question svcscope asks: use dig for transfers")
    tcp = tcp or qtype == "ANY"  # as dig 9.18 does: ANY answers are large, and UDP ANY is an amplification vector
    qname_text = query_name(name, qtype)
    try:
        qname = dns.name.from_text(qname_text)
    except (dns.exception.DNSException, ValueError) as e:
        return ProbeError(server, name, qtype, "badname", f"{name!r} is not a valid DNS name: {_dns_why(e)}")
    flags = dns.flags.RD | dns.flags.AD if recurse else dns.flags.AD
    query = dns.message.make_query(qname, rdtype, use_edns=0 if bufsize is not None else False,
                                   payload=bufsize or 512, flags=flags, id=random.randint(0, 0xFFFF))
    wire = query.to_wire()
    when = (clock or _utc_now)()
    shown = qname.to_text()
    try:
        if not tcp:
            data, msg, elapsed = _udp(wire, query, server, timeout, max(1, tries))
            if not msg.flags & dns.flags.TC:
                return _result(server, shown, qtype, data, msg, elapsed, "UDP", False, when)
            truncated = _result(server, shown, qtype, data, msg, elapsed, "UDP", False, when)
            try:
                data, msg, elapsed = _tcp(wire, query, server, timeout)
            except _Fail as f:
                return ProbeError(server, shown, qtype, "truncated",
                                  f"the UDP answer from {server.where} for {shown} {qtype} was truncated (TC) and the "
                                  f"TCP retry failed: {f.why}; the server must accept DNS over TCP for large answers",
                                  partial=truncated)
            return _result(server, shown, qtype, data, msg, elapsed, "TCP", True, when)
        data, msg, elapsed = _tcp(wire, query, server, timeout)
        return _result(server, shown, qtype, data, msg, elapsed, "TCP", False, when)
    except _Fail as f:
        return ProbeError(server, shown, qtype, f.kind, _sentence(f, server, shown, qtype, timeout, tries, tcp))


def _sentence(f: _Fail, server: DnsServer, qname: str, qtype: str, timeout: float, tries: int, tcp: bool) -> str:
    target = f"{server.where}" + (f" ({server.label})" if server.label else "")
    if f.kind == "timeout":
        sends = "" if tcp or tries <= 1 else f" after {tries} tries"
        return (f"no answer from {target} for {qname} {qtype} within {timeout:g} s{sends} ({f.why}): check that a DNS "
                f"server runs there and is reachable, or raise --timeout")
    if f.kind == "refused":
        return (f"{target} refused the {'TCP connection' if tcp else 'query'} for {qname} {qtype} (connection "
                f"refused): no DNS server listens on that address and port")
    if f.kind == "malformed":
        return f"the answer from {target} for {qname} {qtype} is not a valid DNS message: {f.why}"
    return f"could not query {target} for {qname} {qtype}: {f.why}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _parse(data: bytes, query: dns.message.Message) -> dns.message.Message | None:
    """The parsed answer, None when it answers some other query (dig ignores those), _Fail when it is garbage."""
    if len(data) < 12:
        raise _Fail("malformed", f"{len(data)} bytes is shorter than a DNS header (12 bytes)")
    try:
        msg = dns.message.from_wire(data, one_rr_per_rrset=True)
    except dns.message.ShortHeader:
        raise _Fail("malformed", f"{len(data)} bytes is shorter than a DNS header (12 bytes)") from None
    except dns.message.TrailingJunk:
        raise _Fail("malformed", f"junk after the end of the message ({len(data)} bytes received)") from None
    except dns.exception.DNSException as e:
        raise _Fail("malformed", f"{_dns_why(e)} ({len(data)} bytes received)") from None
    except Exception as e:  # dnspython can raise plain errors on hostile input; it must not escape
        raise _Fail("malformed", f"{type(e).__name__}: {e} ({len(data)} bytes received)") from None
    if msg.id != query.id or not query.is_response(msg):
        return None
    return msg


def _dns_why(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    doc = " ".join((type(e).__doc__ or "").split())
    if text == type(e).__name__ and doc:
        text = doc
    text = text.rstrip(".")  # dnspython's texts are sentences; ours continues after them
    return text[0].lower() + text[1:] if text else text


def _os_fail(e: OSError) -> _Fail:
    if isinstance(e, ConnectionRefusedError):
        return _Fail("refused", "connection refused")
    if isinstance(e, (socket.timeout, TimeoutError)):
        return _Fail("timeout", "timed out")
    if isinstance(e, socket.gaierror):
        return _Fail("network", f"cannot resolve the server address: {e.strerror}")
    return _Fail("network", e.strerror or str(e))


def _udp(wire: bytes, query: dns.message.Message, server: DnsServer, timeout: float,
         tries: int) -> tuple[bytes, dns.message.Message, float]:
    ignored = 0
    try:
        with socket.socket(_family(server.host), socket.SOCK_DGRAM) as sock:
            # Connected, so an ICMP port-unreachable comes back as ECONNREFUSED instead of a silent timeout.
            sock.connect((server.host, server.port))
            for _ in range(tries):
                sent = time.perf_counter()
                sock.send(wire)
                deadline = sent + timeout
                while True:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        break
                    sock.settimeout(left)
                    try:
                        data = sock.recv(65535)
                    except (socket.timeout, TimeoutError):
                        break
                    msg = _parse(data, query)
                    if msg is None:
                        ignored += 1  # a late answer to an earlier try or a stray packet: keep waiting
                        continue
                    return data, msg, (time.perf_counter() - sent) * 1000
    except OSError as e:
        raise _os_fail(e) from None
    why = "timed out" if not ignored else f"timed out; {ignored} answer(s) to other queries ignored"
    raise _Fail("timeout", why)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise _Fail("timeout", "timed out reading the TCP answer")
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            got = "no answer" if not buf and n == 2 else f"{len(buf)} of {n} bytes"
            raise _Fail("malformed", f"the server closed the TCP connection after {got}")
        buf += chunk
    return bytes(buf)


def _tcp(wire: bytes, query: dns.message.Message, server: DnsServer,
         timeout: float) -> tuple[bytes, dns.message.Message, float]:
    start = time.perf_counter()
    deadline = start + timeout
    try:
        with socket.socket(_family(server.host), socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect((server.host, server.port))
            sent = time.perf_counter()
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            size = int.from_bytes(_recv_exact(sock, 2, deadline), "big")
            data = _recv_exact(sock, size, deadline)
    except OSError as e:
        raise _os_fail(e) from None
    msg = _parse(data, query)
    if msg is None:
        raise _Fail("malformed", "the TCP answer is for a different query (id or question does not match)")
    return data, msg, (time.perf_counter() - sent) * 1000


def _records(rrsets: list) -> tuple[Record, ...]:
    out = []
    for rrset in rrsets:
        cls = dns.rdataclass.to_text(rrset.rdclass)
        typ = dns.rdatatype.to_text(rrset.rdtype)
        for rd in rrset:
            out.append(Record(rrset.name.to_text(), int(rrset.ttl), cls, typ, rd.to_text()))
    return tuple(out)


def _edns_option(opt: dns.edns.Option) -> tuple[str, str]:
    """An EDNS option as dig 9.18 prints it."""
    if isinstance(opt, dns.edns.EDEOption):
        code = int(opt.code)
        text = f"{code} ({EDE_TEXT[code]})" if code < len(EDE_TEXT) else str(code)
        return "EDE", text + (f": ({opt.text})" if opt.text else "")
    if isinstance(opt, dns.edns.NSIDOption):
        raw = opt.nsid
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in raw)
        return "NSID", f"{raw.hex()} (\"{shown}\")"
    if isinstance(opt, dns.edns.CookieOption):
        return "COOKIE", (opt.client + opt.server).hex()
    if isinstance(opt, dns.edns.ECSOption):
        return "CLIENT-SUBNET", opt.to_text().removeprefix("ECS ")
    data = opt.to_wire() or b""
    return f"OPT={int(opt.otype)}", data.hex() if data else ""


def _result(server: DnsServer, qname: str, qtype: str, data: bytes, msg: dns.message.Message, elapsed: float,
            transport: str, truncated_udp: bool, when: datetime) -> DigResult:
    counts = tuple(int.from_bytes(data[i:i + 2], "big") for i in (4, 6, 8, 10))
    edns = None
    if msg.edns >= 0:
        eflags = ("do",) if msg.ednsflags & dns.flags.DO else ()
        edns = EdnsInfo(msg.edns, eflags, msg.payload, tuple(_edns_option(o) for o in msg.options))
    return DigResult(
        server=server, qname=qname, qtype=qtype, id=msg.id,
        opcode=dns.opcode.to_text(msg.opcode()), status=dns.rcode.to_text(msg.rcode()),
        flags=tuple(n for n, f in _HEADER_FLAGS if msg.flags & f),
        counts=counts,  # type: ignore[arg-type]
        question=tuple(Question(q.name.to_text(), dns.rdataclass.to_text(q.rdclass), dns.rdatatype.to_text(q.rdtype))
                       for q in msg.question),
        answer=_records(msg.answer), authority=_records(msg.authority), additional=_records(msg.additional),
        edns=edns, query_ms=elapsed, size=len(data), transport=transport, truncated_udp=truncated_udp, when=when,
    )


def with_server(result: ProbeOutcome, server: DnsServer) -> ProbeOutcome:
    """The same outcome attributed to another DnsServer description (labels learned after the fact)."""
    return replace(result, server=server)
