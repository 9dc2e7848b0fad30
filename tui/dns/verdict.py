"""DNS answers judged against the spec's expectation, address by address, and CoreDNS pods against each other.

Only the records that answer the question are compared: owned by the asked name and of the asked type (or CNAME
for an ExternalName). A CNAME chain the server followed, SRV additional records and the SOA of a negative answer
are the server's business. SRV priorities and weights are left to the server by the spec: SRV is compared by port
and target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tui.dns.expect import Expectation
from tui.dns.probe import DigResult, ProbeError, ProbeOutcome, Record


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # status | missing | unexpected | class | ttl | error | disagree
    server: str  # the server's title; "" when every server asked shows it
    value: str  # the address or record value concerned ("" for status, error, disagree)
    text: str  # one line saying what is wrong

    def line(self) -> str:
        where = f"  [{self.server}]" if self.server else ""
        if self.kind in ("missing", "unexpected"):
            return f"{self.kind:<11} {self.value}  {self.text}{where}"
        return f"{self.text}{where}"


@dataclass(frozen=True, slots=True)
class Verdict:
    expectation: Expectation
    ok: bool | None  # None: the spec says nothing about this name and the servers agree
    differences: tuple[Difference, ...]
    said: tuple[tuple[str, str], ...]  # (server title, what it answered) for each server asked

    @property
    def state(self) -> str:
        return {True: "OK", False: "FAIL", None: "UNCHECKED"}[self.ok]

    def headline(self) -> str:
        e = self.expectation
        return f"CHECK {e.qname} {e.qtype}: {self.state} ({e.rule})"

    def lines(self) -> list[str]:
        """The headline, then each difference; an OK verdict says what was matched."""
        out = [self.headline()]
        if self.ok and self.expectation.records:
            out += [f"  ok          {w.value}  {w.why}" for w in self.expectation.records]
        out += ["  " + d.line() for d in self.differences]
        return out


def relevant(result: DigResult, exp: Expectation) -> list[Record]:
    """The answer records the expectation speaks about."""
    types = {"CNAME"} if any(w.rdtype == "CNAME" for w in exp.records) else {exp.qtype}
    return [r for r in result.answer if r.name.lower() == exp.qname and r.rdtype in types]


def said(outcome: ProbeOutcome, exp: Expectation) -> str:
    """What one server answered, in a few words: `NOERROR 10.244.1.5 10.244.1.6`, `NXDOMAIN`, `timeout`."""
    if isinstance(outcome, ProbeError):
        return outcome.kind
    values = sorted({r.value for r in relevant(outcome, exp)})
    return " ".join([outcome.status, *values]) if values else outcome.status


def _one(exp: Expectation, outcome: ProbeOutcome, max_ttl: int | None) -> list[Difference]:
    who = outcome.server.title
    if isinstance(outcome, ProbeError):
        return [Difference("error", who, "", f"no answer to check: {outcome.message}")]
    if not exp.checkable:
        return []
    diffs: list[Difference] = []
    got = relevant(outcome, exp)
    got_values = {r.value for r in got}
    want = {w.value: w for w in exp.records}
    if outcome.status != exp.status:
        n = len(got_values)
        answered = f"{outcome.status} with {n} record{'s' if n != 1 else ''}" if n else outcome.status
        diffs.append(Difference("status", who, "", f"answered {answered}, the spec says {exp.status}"))
    if exp.match == "any":
        if exp.status == "NOERROR" and want and not got_values:
            diffs.append(Difference("missing", who, " or ".join(sorted(want)), "one of these names"))
    else:
        for value, w in want.items():
            if value not in got_values:
                diffs.append(Difference("missing", who, value, w.why))
    for value in sorted(got_values - set(want)):
        diffs.append(Difference("unexpected", who, value, exp.known_why(value) or exp.stray))
    for r in got:
        if r.rdclass != "IN":
            diffs.append(Difference("class", who, r.value, f"class {r.rdclass} for {r.value}, not IN"))
        if max_ttl is not None and r.ttl > max_ttl:
            diffs.append(Difference("ttl", who, r.value, f"TTL {r.ttl} s for {r.value} is above {max_ttl} s (the "
                                                         f"kubernetes plugin's TTL): a cache answers, not the plugin"))
    return diffs


def judge(exp: Expectation, outcomes: Sequence[ProbeOutcome], max_ttl: int | None = None) -> Verdict:
    """Judge every server's answer against `exp`; with several servers (one per CoreDNS pod), also whether they
    agree. A difference every server shows is listed once, without a server."""
    per_server = [(o.server.title, _one(exp, o, max_ttl)) for o in outcomes]
    titles = [t for t, _ in per_server]
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for title, diffs in per_server:
        for d in diffs:
            grouped.setdefault((d.kind, d.value, d.text), []).append(title)
    diffs = []
    for (kind, value, text), who in grouped.items():
        server = "" if len(outcomes) == 1 or sorted(who) == sorted(titles) else ", ".join(who)
        diffs.append(Difference(kind, server, value, text))
    answers = tuple((o.server.title, said(o, exp)) for o in outcomes)
    if len({a for _, a in answers}) > 1:
        pods = all(o.server.label.startswith("CoreDNS pod") for o in outcomes)
        text = "; ".join(f"{t} said {a}" for t, a in answers)
        diffs.append(Difference("disagree", "", "", f"{'CoreDNS pods' if pods else 'the servers'} disagree: {text}"))
    if diffs:
        ok: bool | None = False
    else:
        ok = True if exp.checkable and outcomes else None
    return Verdict(exp, ok, tuple(diffs), answers)
