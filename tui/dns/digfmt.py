"""A probe outcome as `dig` prints it, so admins read it with the eyes they already have (and tests diff it).

The layout is BIND 9.18's: the header and flags lines, the OPT pseudo-section, then each non-empty section with
records in dig's tab columns (name, TTL at 24, class at 32, type at 40, rdata at 48, BIND's `indent()`), and the
statistics footer. One deliberate omission: dig's warning that `.local` is reserved for mDNS, which is noise for
`cluster.local`, the name every Kubernetes cluster uses.
"""

from __future__ import annotations

from tui import __version__
from tui.dns.probe import DigResult, ProbeError, ProbeOutcome, Question, Record
from tui.dns.servers import PodLookup

_TAB = 8
_TTL_COL, _CLASS_COL, _TYPE_COL, _RDATA_COL = 24, 32, 40, 48


def _indent(current: int, to: int) -> tuple[str, int]:
    """BIND masterdump's indent(): tabs then spaces up to column `to`, always at least one character."""
    to = max(to, current + 1)
    tabs = to // _TAB - current // _TAB
    out = ""
    if tabs > 0:
        out = "\t" * tabs
        current = (to // _TAB) * _TAB
    return out + " " * (to - current), to


def _columns(fields: list[tuple[str, int]]) -> str:
    """Join (text, column-it-starts-at) pairs; the first field starts at column 0."""
    line, col = fields[0][0], len(fields[0][0])
    for text, at in fields[1:]:
        pad, col = _indent(col, at)
        line += pad + text
        col += len(text)
    return line


def record_line(r: Record) -> str:
    return _columns([(r.name, 0), (str(r.ttl), _TTL_COL), (r.rdclass, _CLASS_COL), (r.rdtype, _TYPE_COL),
                     (r.rdata, _RDATA_COL)])


def question_line(q: Question) -> str:
    # BIND counts columns from the name, not from the ';' the message printer puts before it.
    return ";" + _columns([(q.name, 0), (q.rdclass, _CLASS_COL), (q.rdtype, _TYPE_COL)])


def command_line(result: ProbeOutcome) -> str:
    """What goes after `; <<>> svcscope VERSION <<>>`: the query as a dig command line would say it."""
    s = result.server
    port = f" -p {s.port}" if s.port != 53 else ""
    return f"@{s.shown_name}{port} {result.qname} {result.qtype}"


def when_text(result: DigResult) -> str:
    return result.when.strftime("%a %b %d %H:%M:%S %Z %Y")


def render(result: ProbeOutcome, *, short: bool = False, command: str | None = None,
           show_when: bool = True) -> str:
    """dig's output for one query (`short`: dig +short). A ProbeError is its one line, as dig prints a failure."""
    if isinstance(result, ProbeError):
        return f";; {result.message}\n"
    if short:
        return "".join(r.rdata + "\n" for r in result.answer)
    lines: list[str] = []
    if result.truncated_udp:
        lines.append(";; Truncated, retrying in TCP mode.")
    lines.append("")
    lines.append(f"; <<>> svcscope {__version__} <<>> {command or command_line(result)}")
    lines.append(";; Got answer:")
    lines.append(f";; ->>HEADER<<- opcode: {result.opcode}, status: {result.status}, id: {result.id}")
    flags = "".join(" " + f for f in result.flags)
    qd, an, ns, ar = result.counts
    lines.append(f";; flags:{flags}; QUERY: {qd}, ANSWER: {an}, AUTHORITY: {ns}, ADDITIONAL: {ar}")
    if "rd" in result.flags and "ra" not in result.flags:  # CoreDNS's authoritative answers say this
        lines.append(";; WARNING: recursion requested but not available")
    lines.append("")
    if result.edns is not None:
        e = result.edns
        lines.append(";; OPT PSEUDOSECTION:")
        eflags = "".join(" " + f for f in e.flags)
        lines.append(f"; EDNS: version: {e.version}, flags:{eflags}; udp: {e.udp}")
        lines.extend(f"; {label}: {text}" if text else f"; {label}" for label, text in e.options)
    if result.question:
        lines.append(";; QUESTION SECTION:")
        lines.extend(question_line(q) for q in result.question)
        lines.append("")
    for title, records in (("ANSWER", result.answer), ("AUTHORITY", result.authority),
                           ("ADDITIONAL", result.additional)):
        if records:
            lines.append(f";; {title} SECTION:")
            lines.extend(record_line(r) for r in records)
            lines.append("")
    lines.append(f";; Query time: {int(result.query_ms)} msec")
    s = result.server
    lines.append(f";; SERVER: {s.host}#{s.port}({s.shown_name}) ({result.transport})")
    if show_when:
        lines.append(f";; WHEN: {when_text(result)}")
    lines.append(f";; MSG SIZE  rcvd: {result.size}")
    lines.append("")
    return "\n".join(lines) + "\n"


def render_pod_lookup(lookup: PodLookup) -> str:
    """The pod's resolv.conf and each name glibc tried, as dig-style comments."""
    lines = [f";; resolv.conf of {lookup.resolv.source}:"]
    lines += [f";;   {line}" for line in lookup.resolv.to_text().splitlines()]
    lines.append(f";; names tried for {lookup.name} {lookup.qtype}, in glibc's order:")
    for at in lookup.attempts:
        o = at.outcome
        status = o.summary() if isinstance(o, DigResult) else o.kind
        mark = {"answered": "<- answered", "stop": "<- no more names", "as-is": "<- search list abandoned",
                "next": ""}[at.next_step]
        lines.append(f";;   {at.name:<48} {status}  {mark}".rstrip())
        if at.next_step != "answered":
            lines.append(f";;     {at.why}")
    return "\n".join(lines) + "\n"
