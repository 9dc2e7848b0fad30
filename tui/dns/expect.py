"""What the Kubernetes DNS spec says a name must answer, from the Services and EndpointSlices the API holds.

kubernetes/dns `docs/specification.md` (schema 1.1.0), with CoreDNS's choices where the spec leaves room:

- ClusterIP Service: `<svc>.<ns>.svc.<zone>` A/AAAA = its ClusterIPs; SRV `_<port>._<proto>.<svc>...` per named
  port -> the Service name; PTR of each ClusterIP -> the Service name.
- Headless: A/AAAA = the ready endpoint addresses (and serving ones with publishNotReadyAddresses); no such
  endpoint: NXDOMAIN; `<hostname>.<svc>...` per endpoint (a dashed IP when it has no hostname, as CoreDNS);
  SRV = endpoints x named ports (the endpoint's port, the endpoint's name); PTR of each address -> that name.
- ExternalName: a CNAME to spec.externalName, whatever the question type.
- `dns-version.<zone>` TXT "1.1.0".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable, Sequence

import dns.name
import dns.reversename

from tui.dns.probe import query_name
from tui.kube.models import ServiceView, SliceEndpoint, SliceView

SCHEMA_VERSION = "1.1.0"


@dataclass(frozen=True, slots=True)
class Want:
    """One record the spec requires."""

    rdtype: str
    value: str  # as probe.Record.value: an address, a lower-case name, `PORT TARGET` for SRV
    why: str  # "the ClusterIP", "ready endpoint db-0 (pod db-0)"


@dataclass(frozen=True, slots=True)
class Expectation:
    qname: str  # absolute, lower-case
    qtype: str
    status: str  # NOERROR | NXDOMAIN | "" (the spec says nothing about this name: nothing to check)
    records: tuple[Want, ...]
    rule: str  # the spec's rule that applies, one sentence
    service: tuple[str, str] | None = None  # (namespace, name) the name belongs to
    match: str = "exact"  # exact: the answer set equals records; any: a non-empty subset (PTR: one name of several)
    known: tuple[tuple[str, str], ...] = ()  # values that are not wanted, with why ("endpoint db-3 is not ready")
    stray: str = "not expected"  # why any other value in the answer is wrong

    @property
    def checkable(self) -> bool:
        return bool(self.status)

    def known_why(self, value: str) -> str | None:
        return next((why for v, why in self.known if v == value), None)


@dataclass(frozen=True, slots=True)
class ClusterName:
    """What a name in the cluster zone points at."""

    kind: str  # service | endpoint | srv | pod | version | reverse | other | outside
    namespace: str = ""
    service: str = ""
    endpoint: str = ""  # the <hostname> label
    port: str = ""  # the _<port> label without the underscore
    proto: str = ""
    ip: str = ""  # reverse and pod names


def absolute(name: str) -> str:
    return (name if name.endswith(".") else name + ".").lower()


def parse_name(qname: str, zone: str) -> ClusterName:
    name = absolute(qname)
    z = absolute(zone)
    if name.endswith((".in-addr.arpa.", ".ip6.arpa.")):
        try:
            return ClusterName("reverse", ip=dns.reversename.to_address(dns.name.from_text(name)))
        except Exception:  # not a complete reverse name: nothing the spec covers
            return ClusterName("other")
    if name != z and not name.endswith("." + z):
        return ClusterName("outside")
    labels = name[: -len(z) - 1].split(".") if name != z else []
    if labels == ["dns-version"]:
        return ClusterName("version")
    if len(labels) == 3 and labels[2] == "svc":
        return ClusterName("service", labels[1], labels[0])
    if len(labels) == 4 and labels[3] == "svc":
        return ClusterName("endpoint", labels[2], labels[1], endpoint=labels[0])
    if len(labels) == 5 and labels[4] == "svc" and labels[0].startswith("_") and labels[1].startswith("_"):
        return ClusterName("srv", labels[3], labels[2], port=labels[0][1:], proto=labels[1][1:])
    if len(labels) == 3 and labels[2] == "pod":
        dashed = labels[0]
        text = dashed.replace("-", ".") if dashed.count("-") == 3 else dashed.replace("-", ":")
        try:
            return ClusterName("pod", labels[1], ip=str(ipaddress.ip_address(text)))
        except ValueError:
            return ClusterName("other")
    return ClusterName("other")


def endpoint_label(ep: SliceEndpoint, address: str) -> str:
    """CoreDNS's name for an endpoint: its hostname, else its address with dashes."""
    if ep.hostname:
        return ep.hostname.lower()
    return address.replace(":", "-") if ":" in address else address.replace(".", "-")


def published(svc: ServiceView, ep: SliceEndpoint) -> bool:
    """Whether DNS must publish this endpoint: ready, or serving when the Service publishes not-ready addresses."""
    return ep.is_ready or (svc.publish_not_ready and ep.is_serving)


def _ep_what(ep: SliceEndpoint) -> str:
    who = f"{ep.target_kind.lower()} {ep.target_name}" if ep.target_kind and ep.target_name else ep.slice_name
    return f"endpoint {ep.hostname or ep.address} ({who})" if ep.hostname else f"endpoint {ep.address} ({who})"


def _why_not(ep: SliceEndpoint) -> str:
    state = "terminating" if ep.is_terminating else ("not ready" if not ep.is_ready else "not serving")
    return f"{_ep_what(ep)} is {state} in slice {ep.slice_name}"


def endpoints_of(svc: ServiceView, slices: Iterable[SliceView]) -> list[tuple[SliceEndpoint, str]]:
    """(endpoint, address) of the Service's slices (IP address types only), the same address once."""
    out: list[tuple[SliceEndpoint, str]] = []
    seen: set[str] = set()
    for sv in slices:
        if sv.namespace != svc.namespace or sv.service != svc.name or sv.address_type not in ("IPv4", "IPv6"):
            continue
        for ep in sv.endpoints:
            for addr in ep.addresses:
                try:
                    norm = str(ipaddress.ip_address(addr))
                except ValueError:
                    continue
                if norm not in seen:
                    seen.add(norm)
                    out.append((ep, norm))
    return out


def _family(addr: str) -> str:
    return "AAAA" if ":" in addr else "A"


def _fqdn(svc: ServiceView, zone: str) -> str:
    return f"{svc.name}.{svc.namespace}.svc.{absolute(zone)}".lower()


def expect(qname: str, qtype: str, zone: str, services: Sequence[ServiceView],
           slices: Sequence[SliceView]) -> Expectation:
    """The spec's answer for `qname`/`qtype`. `services`/`slices` must hold the Service the name is about (every
    Service and slice for a reverse name)."""
    qname, qtype = absolute(query_name(qname, qtype)), qtype.upper()  # an address asked for PTR: its reverse name
    cn = parse_name(qname, zone)

    def unknown(rule: str) -> Expectation:
        return Expectation(qname, qtype, "", (), rule)

    if qtype == "ANY":
        return unknown("ANY is not a question the spec answers: ask for A, AAAA, SRV, PTR, CNAME or TXT")
    if cn.kind == "outside":
        return unknown(f"{qname} is outside the cluster zone {absolute(zone)}: the spec says nothing about it")
    if cn.kind == "version":
        recs = (Want("TXT", f'"{SCHEMA_VERSION}"', "the DNS schema version"),) if qtype == "TXT" else ()
        return Expectation(qname, qtype, "NOERROR", recs, "dns-version.<zone> has a TXT record with the schema "
                                                          f"version {SCHEMA_VERSION}")
    if cn.kind == "reverse":
        return _expect_reverse(qname, qtype, cn.ip, zone, services, slices)
    if cn.kind in ("pod", "other"):
        return unknown(f"{qname} is not a Service name: svcscope checks Service records only")
    svc = next((s for s in services if s.namespace == cn.namespace and s.name == cn.service), None)
    if svc is None:
        return Expectation(qname, qtype, "NXDOMAIN", (), f"there is no Service {cn.namespace}/{cn.service}")
    key = (svc.namespace, svc.name)
    fqdn = _fqdn(svc, zone)
    if svc.type == "ExternalName":
        if cn.kind != "service":
            return Expectation(qname, qtype, "NXDOMAIN", (), "an ExternalName Service has only its own name",
                               key)
        target = absolute(svc.external_name.rstrip(".")) if svc.external_name else ""
        return Expectation(qname, qtype, "NOERROR", (Want("CNAME", target, "spec.externalName"),),
                           f"ExternalName Service {svc.namespace}/{svc.name}: a CNAME to {target}", key)
    if svc.headless:
        return _expect_headless(qname, qtype, cn, svc, fqdn, slices)
    return _expect_clusterip(qname, qtype, cn, svc, fqdn)


def _expect_clusterip(qname: str, qtype: str, cn: ClusterName, svc: ServiceView, fqdn: str) -> Expectation:
    key = (svc.namespace, svc.name)
    ips = [ip for ip in svc.cluster_ips if ip and ip != "None"]
    rule = f"ClusterIP Service {svc.namespace}/{svc.name}"
    if cn.kind == "endpoint":
        return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no per-endpoint names (only headless ones do)",
                           key)
    if cn.kind == "srv":
        ports = [p for p in svc.ports if p.name.lower() == cn.port and p.protocol.lower() == cn.proto]
        if not ports:
            return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no port named {cn.port!r} over "
                                                             f"{cn.proto.upper()}", key)
        recs = tuple(Want("SRV", f"{p.port} {fqdn}", f"port {p.name} {p.port}/{p.protocol}") for p in ports) \
            if qtype == "SRV" else ()
        return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: SRV per named port, target the Service name",
                           key)
    if not ips:
        return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no ClusterIP yet", key)
    if qtype in ("A", "AAAA"):
        recs = tuple(Want(qtype, ip, "the ClusterIP") for ip in ips if _family(ip) == qtype)
        return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: {qtype} = the ClusterIP", key,
                           stray=f"not a ClusterIP of {svc.namespace}/{svc.name}")
    if qtype == "SRV":  # not in the spec for the bare name; CoreDNS lists every port
        recs = tuple(Want("SRV", f"{p.port} {fqdn}", f"port {p.name or p.port}/{p.protocol}") for p in svc.ports)
        return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: CoreDNS gives an SRV per port at the bare name",
                           key)
    return Expectation(qname, qtype, "NOERROR", (), f"{rule} has no {qtype} records (NODATA)", key)


def _known(svc: ServiceView, eps: list[tuple[SliceEndpoint, str]], fqdn: str) -> tuple[tuple[str, str], ...]:
    """The values an endpoint that must not be published would show up as (its address, its SRV targets), with why:
    so an unexpected answer says "endpoint db-3 is not ready" rather than only "unexpected"."""
    out: list[tuple[str, str]] = []
    for ep, a in eps:
        if published(svc, ep):
            continue
        why = _why_not(ep)
        out.append((a, why))
        out += [(f"{p.port} {endpoint_label(ep, a)}.{fqdn}", why) for p in ep.ports if p.port is not None]
    return tuple(out)


def _expect_headless(qname: str, qtype: str, cn: ClusterName, svc: ServiceView, fqdn: str,
                     slices: Sequence[SliceView]) -> Expectation:
    key = (svc.namespace, svc.name)
    rule = f"headless Service {svc.namespace}/{svc.name}"
    eps = endpoints_of(svc, slices)
    live = [(ep, a) for ep, a in eps if published(svc, ep)]
    known = _known(svc, eps, fqdn)
    which = "ready or serving" if svc.publish_not_ready else "ready"
    stray = f"not a {which} endpoint of {svc.namespace}/{svc.name} in any EndpointSlice: a stale answer?"
    if not live:
        return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no {which} endpoint, so its names do not "
                                                         f"exist", key, known=known, stray=stray)
    if cn.kind == "service":
        if qtype in ("A", "AAAA"):
            recs = tuple(Want(qtype, a, f"{which} {_ep_what(ep)}") for ep, a in live if _family(a) == qtype)
            return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: one {qtype} per {which} endpoint", key,
                               known=known, stray=stray)
        if qtype == "SRV":
            recs = tuple(Want("SRV", f"{p.port} {endpoint_label(ep, a)}.{fqdn}", f"{_ep_what(ep)} port {p.name or p.port}")
                         for ep, a in live for p in ep.ports if p.port is not None)
            return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: CoreDNS gives endpoints x ports at the bare "
                                                              f"name", key, known=known, stray=stray)
        return Expectation(qname, qtype, "NOERROR", (), f"{rule} has no {qtype} records (NODATA)", key)
    if cn.kind == "endpoint":
        mine = [(ep, a) for ep, a in live if endpoint_label(ep, a) == cn.endpoint]
        if not mine:
            return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no {which} endpoint named {cn.endpoint}",
                               key, known=known, stray=stray)
        recs = tuple(Want(qtype, a, _ep_what(ep)) for ep, a in mine if _family(a) == qtype) \
            if qtype in ("A", "AAAA") else ()
        return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: <hostname>.<service> resolves to that endpoint",
                           key, known=known, stray=stray)
    # SRV name
    entries = [(ep, a, p) for ep, a in live for p in ep.ports
               if p.name.lower() == cn.port and p.protocol.lower() == cn.proto and p.port is not None]
    if not entries:
        return Expectation(qname, qtype, "NXDOMAIN", (), f"{rule} has no port named {cn.port!r} over "
                                                         f"{cn.proto.upper()} on a {which} endpoint", key)
    recs = tuple(Want("SRV", f"{p.port} {endpoint_label(ep, a)}.{fqdn}", _ep_what(ep)) for ep, a, p in entries) \
        if qtype == "SRV" else ()
    return Expectation(qname, qtype, "NOERROR", recs, f"{rule}: SRV = {which} endpoints x named port, target the "
                                                      f"endpoint's name", key, known=known, stray=stray)


def _expect_reverse(qname: str, qtype: str, ip: str, zone: str, services: Sequence[ServiceView],
                    slices: Sequence[SliceView]) -> Expectation:
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        return Expectation(qname, qtype, "", (), f"{qname} is not a reverse name of an address")
    for svc in services:
        if svc.type != "ExternalName" and not svc.headless and ip in svc.cluster_ips:
            recs = (Want("PTR", _fqdn(svc, zone), f"ClusterIP of {svc.namespace}/{svc.name}"),) if qtype == "PTR" \
                else ()
            return Expectation(qname, qtype, "NOERROR", recs, f"the PTR of a ClusterIP is its Service's name",
                               (svc.namespace, svc.name))
    wants: list[Want] = []
    owner = None
    for svc in services:
        if not svc.headless or svc.type == "ExternalName":
            continue
        for ep, a in endpoints_of(svc, slices):
            if a == ip and published(svc, ep):
                wants.append(Want("PTR", f"{endpoint_label(ep, a)}.{_fqdn(svc, zone)}",
                                  f"{_ep_what(ep)} of headless {svc.namespace}/{svc.name}"))
                owner = owner or (svc.namespace, svc.name)
    if not wants:
        return Expectation(qname, qtype, "", (), f"{ip} is neither a ClusterIP nor a ready endpoint of a headless "
                                                 f"Service: the spec requires no PTR for it")
    return Expectation(qname, qtype, "NOERROR", tuple(wants) if qtype == "PTR" else (),
                       "the PTR of a ready endpoint of a headless Service is the endpoint's name", owner,
                       match="any" if len(wants) > 1 else "exact")


@dataclass(frozen=True, slots=True)
class Preset:
    """A name worth asking for a Service, for the DNS screen's presets."""

    name: str
    qtype: str
    label: str


def presets(svc: ServiceView, slices: Sequence[SliceView], zone: str) -> list[Preset]:
    """The Service's names: the FQDN (A, and AAAA when it has IPv6), each SRV `_port._proto`, each endpoint name,
    the PTR of each address."""
    fqdn = _fqdn(svc, zone)
    out = [Preset(fqdn, "CNAME" if svc.type == "ExternalName" else "A", "the Service name")]
    if svc.type == "ExternalName":
        return out
    if svc.headless:
        eps = [(ep, a) for ep, a in endpoints_of(svc, slices) if published(svc, ep)]
        if any(":" in a for _, a in eps):
            out.append(Preset(fqdn, "AAAA", "the Service name (IPv6)"))
        ports = sorted({(p.name, p.protocol) for ep, _ in eps for p in ep.ports if p.name})
        out += [Preset(f"_{n}._{pr.lower()}.{fqdn}", "SRV", f"SRV of port {n}") for n, pr in ports]
        out += [Preset(f"{endpoint_label(ep, a)}.{fqdn}", _family(a), f"{_ep_what(ep)}") for ep, a in eps]
        out += [Preset(a, "PTR", f"PTR of {_ep_what(ep)}") for ep, a in eps]
        return out
    if any(":" in ip for ip in svc.cluster_ips):
        out.append(Preset(fqdn, "AAAA", "the Service name (IPv6)"))
    out += [Preset(f"_{p.name}._{p.protocol.lower()}.{fqdn}", "SRV", f"SRV of port {p.name}")
            for p in svc.ports if p.name]
    out += [Preset(ip, "PTR", "PTR of the ClusterIP") for ip in svc.cluster_ips if ip and ip != "None"]
    return out
