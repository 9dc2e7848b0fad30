"""The simulated cluster's DNS: answers from the sim's live store as CoreDNS's kubernetes plugin does.

Served over real UDP and TCP on loopback, so the probe, dig and glibc talk to it like to CoreDNS. What it answers
(CoreDNS `plugin/kubernetes`, kubeadm's Corefile `kubernetes cluster.local in-addr.arpa ip6.arpa`, `pods insecure`):

- `<svc>.<ns>.svc.<zone>`: A/AAAA = the ClusterIPs; headless: the ready endpoint addresses (NXDOMAIN when none is
  ready); ExternalName: a CNAME (followed when the target is in the zone).
- `<ep>.<svc>.<ns>.svc.<zone>` for each ready endpoint of a headless Service, `<ep>` its hostname or dashed IP.
- SRV `_<port>._<proto>.<svc>.<ns>.svc.<zone>` per named port (headless: per ready endpoint, the endpoint's port),
  all ports at the bare Service name, priority 0 and weight 100/N as CoreDNS, target addresses in ADDITIONAL.
- PTR for ClusterIPs and ready endpoint addresses; `<a-b-c-d>.<ns>.pod.<zone>` A; `dns-version.<zone>` TXT 1.1.0;
  SOA and NS at the apex; NXDOMAIN/NODATA with the SOA in AUTHORITY; TTL 5. Names outside these zones get REFUSED:
  the sim has no upstream to forward to.

Each CoreDNS pod of the store (kube-system, `k8s-app=kube-dns`) is served on its own loopback port, since pod IPs
are not reachable from the host; `address_map` maps pod IPs and the kube-dns ClusterIPs to those ports, for the
probe's server selection in demo mode. The Service's port hands queries to the ready pods in turn, as kube-proxy
would. Knobs, per pod or for all: `freeze` (stale: the view of the store at that moment), `delay` (slow) and
`fail` (answer every query with an error rcode).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from tui.dns.servers import DEFAULT_ZONE, zone_from_configmaps
from tui.kube.models import SERVICE_NAME_LABEL, PodView, ServiceView, SliceView
from tui.sim.resources import BY_KIND
from tui.sim.store import Event, Store

log = logging.getLogger(__name__)

DNS_SCHEMA_VERSION = "1.1.0"  # kubernetes/dns docs/specification.md
DEFAULT_TTL = 5  # CoreDNS kubernetes plugin default
OUR_PAYLOAD = 1232
REVERSE_ZONES = ("in-addr.arpa.", "ip6.arpa.")
DNS_NAMESPACE, DNS_SERVICE, DNS_LABEL = "kube-system", "kube-dns", ("k8s-app", "kube-dns")

Obj = dict[str, Any]
_SERVICE, _SLICE, _POD, _NAMESPACE = (BY_KIND["Service"], BY_KIND["EndpointSlice"], BY_KIND["Pod"],
                                      BY_KIND["Namespace"])
_A, _AAAA, _SRV, _PTR, _CNAME, _TXT, _SOA, _NS = (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.SRV,
                                                  dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.TXT,
                                                  dns.rdatatype.SOA, dns.rdatatype.NS)


def endpoint_name(hostname: str | None, address: str) -> str:
    """CoreDNS's endpointHostname: the hostname, else the address with dots (or colons) turned into dashes."""
    if hostname:
        return hostname
    return address.replace(":", "-") if ":" in address else address.replace(".", "-")


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer.lower() + "."


def _family_type(address: str) -> int:
    return _AAAA if ":" in address else _A


Rec = tuple[str, int, str]  # (owner name lower-case absolute, rdtype, rdata text): dnspython objects are made only
#                             when answering, since building them is what made a 10,000-Service index slow
_EXISTS = -1  # a pseudo type: the name exists (a namespace), no records


def _ancestors(name: str, apexes: tuple[str, ...]) -> list[str]:
    """`name` and its parents up to the zone apex it is in (inclusive)."""
    out = []
    while name:
        out.append(name)
        if name in apexes:
            break
        name = name.split(".", 1)[1] if "." in name.rstrip(".") else ""
    return out


class Index:
    """Every name of the zone, kept per Service so one change recomputes one Service (as CoreDNS's informer cache
    serves from objects, not from a rebuilt zone). `copy()` gives the frozen view the stale knob answers from."""

    def __init__(self, zone: str) -> None:
        self.zone = zone  # absolute, lower-case: "cluster.local."
        self.serial = 0
        self.apexes = (zone, *REVERSE_ZONES)
        self.per_key: dict[tuple[str, str], list[Rec]] = {}
        self.records: dict[tuple[str, int], list[str]] = {}
        self.refs: dict[str, int] = {}  # how many records own each name or a name under it
        self._built: dict[tuple[str, int], list[dns.rdata.Rdata]] = {}

    def set(self, key: tuple[str, str], recs: list[Rec]) -> None:
        for name, rdtype, text in self.per_key.pop(key, ()):
            items = self.records.get((name, rdtype))
            if items is not None:
                items.remove(text)
                if not items:
                    del self.records[(name, rdtype)]
            self._built.pop((name, rdtype), None)
            for a in _ancestors(name, self.apexes):
                left = self.refs.get(a, 0) - 1
                if left > 0:
                    self.refs[a] = left
                else:
                    self.refs.pop(a, None)
        if recs:
            self.per_key[key] = recs
        for name, rdtype, text in recs:
            if rdtype != _EXISTS:
                self.records.setdefault((name, rdtype), []).append(text)
                self._built.pop((name, rdtype), None)
            for a in _ancestors(name, self.apexes):
                self.refs[a] = self.refs.get(a, 0) + 1

    def copy(self) -> "Index":
        other = Index(self.zone)
        other.serial = self.serial
        other.per_key = dict(self.per_key)
        other.records = {k: list(v) for k, v in self.records.items()}
        other.refs = dict(self.refs)
        return other

    def exists(self, name: str) -> bool:
        return name in self.refs

    def get(self, name: str, rdtype: int) -> list[dns.rdata.Rdata]:
        key = (name.lower(), rdtype)
        built = self._built.get(key)
        if built is None:
            texts = self.records.get(key, ())
            built = [dns.rdata.from_text(dns.rdataclass.IN, rdtype, t) for t in dict.fromkeys(texts)]
            self._built[key] = built
        return built

    def types_at(self, name: str) -> list[int]:
        return [t for (n, t) in self.records if n == name]


def _srv(owner: str, entries: list[tuple[int, str]]) -> list[Rec]:
    """SRV records as CoreDNS weighs them: priority 0, weight floor(100/N)."""
    weight = 100 // len(entries) if entries else 0
    return [(owner, _SRV, f"0 {weight} {port} {target}") for port, target in entries]


def static_records(zone: str, serial: int) -> list[Rec]:
    return [(zone, _SOA, f"ns.dns.{zone} hostmaster.{zone} {serial} 7200 1800 86400 {DEFAULT_TTL}"),
            (zone, _NS, f"ns.dns.{zone}"), (f"dns-version.{zone}", _TXT, f'"{DNS_SCHEMA_VERSION}"')]


def service_records(svc_obj: Obj, slice_objs: list[Obj], zone: str) -> list[Rec]:
    """What the kubernetes plugin serves for one Service and its EndpointSlices."""
    svc = ServiceView.from_api(svc_obj)
    fqdn = f"{svc.name}.{svc.namespace}.svc.{zone}".lower()
    recs: list[Rec] = [(f"{svc.namespace}.svc.{zone}".lower(), _EXISTS, "")]
    if svc.namespace == DNS_NAMESPACE and svc.name == DNS_SERVICE:
        recs += [(f"ns.dns.{zone}", _family_type(ip), ip) for ip in svc.cluster_ips if ip and ip != "None"]
    if svc.type == "ExternalName":
        if svc.external_name:
            recs.append((fqdn, _CNAME, svc.external_name.rstrip(".") + "."))
        return recs
    if not svc.headless:
        ips = [ip for ip in svc.cluster_ips if ip and ip != "None"]
        if not ips:
            return recs
        for ip in ips:
            recs.append((fqdn, _family_type(ip), ip))
            recs.append((reverse_name(ip), _PTR, fqdn))
        for p in svc.ports:
            if p.name:
                recs += _srv(f"_{p.name}._{p.protocol.lower()}.{fqdn}".lower(), [(p.port, fqdn)])
        return recs + _srv(fqdn, [(p.port, fqdn) for p in svc.ports])
    # Headless: the ready endpoints (CoreDNS skips ready == false; publishNotReadyAddresses is the EndpointSlice
    # controller's business: it marks those ready).
    seen: set[tuple[str, str]] = set()
    per_port: dict[tuple[str, str], list[tuple[int, str]]] = {}
    all_ports: list[tuple[int, str]] = []
    for obj in slice_objs:
        sv = SliceView.from_api(obj)
        if sv.address_type not in ("IPv4", "IPv6"):
            continue
        for ep in sv.endpoints:
            if not ep.is_ready:
                continue
            for addr in ep.addresses:
                epname = endpoint_name(ep.hostname, addr).lower()
                if (epname, addr) in seen:
                    continue  # the same endpoint in two slices (a rollout in flight)
                seen.add((epname, addr))
                t = _family_type(addr)
                target = f"{epname}.{fqdn}"
                recs += [(fqdn, t, addr), (target, t, addr), (reverse_name(addr), _PTR, target)]
                for p in ep.ports:
                    if p.port is None:
                        continue
                    all_ports.append((p.port, target))
                    if p.name:
                        per_port.setdefault((p.name.lower(), p.protocol.lower()), []).append((p.port, target))
    for (pname, proto), entries in per_port.items():
        recs += _srv(f"_{pname}._{proto}.{fqdn}", entries)
    return recs + _srv(fqdn, all_ports)


class Mirror:
    """The informer: the store's Services, EndpointSlices (by Service) and Namespaces, kept from its events, and
    the Services whose records are out of date."""

    def __init__(self) -> None:
        self.services: dict[tuple[str, str], Obj] = {}
        self.slices: dict[tuple[str, str], dict[str, Obj]] = {}  # (ns, service) -> slice name -> slice
        self.slice_owner: dict[tuple[str, str], str] = {}  # (ns, slice) -> service
        self.namespaces: set[str] = set()
        self.dirty: set[tuple[str, str]] = set()  # ("#ns", name) for a namespace
        self.rv = 0

    def apply(self, type_: str, res: object, obj: Obj, rv: int) -> None:
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        self.rv = max(self.rv, rv)
        if res is _SERVICE:
            if type_ == "DELETED":
                self.services.pop((ns, name), None)
            else:
                self.services[(ns, name)] = obj
            self.dirty.add((ns, name))
        elif res is _SLICE:
            svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL, "")
            old = self.slice_owner.pop((ns, name), None)
            if old is not None:
                self.slices.get((ns, old), {}).pop(name, None)
                self.dirty.add((ns, old))
            if type_ != "DELETED" and svc:
                self.slices.setdefault((ns, svc), {})[name] = obj
                self.slice_owner[(ns, name)] = svc
                self.dirty.add((ns, svc))
        elif res is _NAMESPACE:
            if type_ == "DELETED":
                self.namespaces.discard(name)
            else:
                self.namespaces.add(name)
            self.dirty.add(("#ns", name))


@dataclass
class Knobs:
    """How one CoreDNS instance misbehaves."""

    frozen: Index | None = None  # stale: answers from this old view
    delay: float = 0.0  # slow: seconds before each answer
    fail: int | None = None  # every query answered with this rcode


@dataclass
class _Listener:
    name: str  # the pod name, or "" for the Service's port
    udp_sock: socket.socket
    tcp_sock: socket.socket
    transports: list[Any] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.udp_sock.getsockname()[1]


def _bind_pair(host: str) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same free loopback port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp
    raise OSError("no loopback port free for both UDP and TCP")


class SimDns:
    """The cluster DNS component of SimCluster (start(loop)/stop()), also usable alone on any asyncio loop."""

    def __init__(self, store: Store, zone: str | None = None, host: str = "127.0.0.1",
                 ttl: int = DEFAULT_TTL) -> None:
        """`zone` None: the clusterDomain of the store's kube-system/kubelet-config ConfigMap when it starts (the
        scenario is loaded by then), else cluster.local."""
        self.store = store
        self.zone = zone.strip(".").lower() if zone else ""
        self.host = host
        self.ttl = ttl
        self.knobs: dict[str, Knobs] = {}  # by pod name; "" is the Service port's own view when no pod is ready
        self.queries: deque[tuple[str, str, str, str]] = deque(maxlen=2000)  # (pod, qname, qtype, rcode)
        self._mirror = Mirror()
        self._live: Index | None = None
        self._view_lock = threading.RLock()  # the mirror and the live index; held while answering from them
        self._lock = threading.RLock()  # listeners and pods
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: dict[str, _Listener] = {}
        self._pod_ips: dict[str, tuple[str, ...]] = {}
        self._ready: dict[str, bool] = {}
        self._service_ips: tuple[str, ...] = ()
        self._turn = itertools.count()
        self._unsubscribe: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind the Service's port and one per CoreDNS pod now (so `port` and `address_map` are right at once) and
        serve them on `loop`. May be called from any thread."""
        self._loop = loop
        self.follow_store()
        with self._lock:
            self._open("")
        self.sync()

    def follow_store(self) -> None:
        """Mirror the store and keep following it, without serving (start() does this first; tests and benchmarks
        of the index use it alone)."""
        if not self.zone:
            configmaps, _ = self.store.list(BY_KIND["ConfigMap"], DNS_NAMESPACE)
            found = zone_from_configmaps(configmaps)
            self.zone = found[0] if found else DEFAULT_ZONE
        with self.store.lock:  # the list and the subscription as one, so no event falls between them
            with self._view_lock:
                self._live = Index(self.zone + ".")
                for res in (_NAMESPACE, _SERVICE, _SLICE):
                    objs, rv = self.store.list(res)
                    for obj in objs:
                        self._mirror.apply("ADDED", res, obj, rv)
                self._mirror.rv = self.store.resource_version
            self._unsubscribe = self.store.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            for name in list(self._listeners):
                self._close(name)

    @property
    def port(self) -> int:
        """The Service's loopback port: what the kube-dns ClusterIP is mapped to."""
        return self._listeners[""].port

    @property
    def address_map(self) -> dict[str, tuple[str, int]]:
        """Pod IPs and kube-dns ClusterIPs -> the loopback (host, port) answering for them."""
        with self._lock:
            out = {ip: (self.host, self.port) for ip in self._service_ips}
            for pod, ips in self._pod_ips.items():
                if pod in self._listeners:
                    for ip in ips:
                        out[ip] = (self.host, self._listeners[pod].port)
            return out

    def address_map_text(self) -> str:
        """The map as SVCSCOPE_DNS_MAP takes it, for `svcscope dig` run against a sim in another process."""
        return ",".join(f"{ip}={host}:{port}" for ip, (host, port) in sorted(self.address_map.items()))

    def pod_port(self, pod: str) -> int:
        return self._listeners[pod].port

    # -- knobs ----------------------------------------------------------------------------------------------

    def _targets(self, pod: str | None) -> list[Knobs]:
        with self._lock:
            names = [pod] if pod is not None else ["", *self._pod_ips]
            return [self.knobs.setdefault(n, Knobs()) for n in names]

    def freeze(self, pod: str | None = None) -> None:
        """Stale DNS: `pod` (every pod when None) keeps answering from the store as it is now."""
        with self._view_lock:
            index = self.index().copy()
        for k in self._targets(pod):
            k.frozen = index

    def thaw(self, pod: str | None = None) -> None:
        for k in self._targets(pod):
            k.frozen = None

    def set_delay(self, seconds: float, pod: str | None = None) -> None:
        """Slow DNS: every answer waits `seconds`."""
        for k in self._targets(pod):
            k.delay = max(0.0, seconds)

    def set_failure(self, rcode: str | None, pod: str | None = None) -> None:
        """A broken instance: every query answered with `rcode` (e.g. "SERVFAIL"); None restores it."""
        value = dns.rcode.from_text(rcode) if rcode else None
        for k in self._targets(pod):
            k.fail = value

    # -- the view of the store ------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Runs under the store's lock: note the change in the mirror (dict updates), hand pod bookkeeping on.
        with self._view_lock:
            self._mirror.rv = max(self._mirror.rv, event.rv)  # the SOA serial: the store's revision
            if event.resource in (_SERVICE, _SLICE, _NAMESPACE):
                self._mirror.apply(event.type, event.resource, event.obj, event.rv)
        if event.namespace == DNS_NAMESPACE and event.resource in (_POD, _SERVICE) and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self.sync)
            except RuntimeError:  # the loop is closed: the cluster is stopping
                pass

    def index(self) -> Index:
        """The live view: the Services that changed since the last question are recomputed, nothing else."""
        with self._view_lock:
            live, m = self._live, self._mirror
            if live is None:
                raise RuntimeError("SimDns is not started")
            z = live.zone
            for key in m.dirty:
                if key[0] == "#ns":
                    live.set(key, [(f"{key[1]}.svc.{z}".lower(), _EXISTS, "")] if key[1] in m.namespaces else [])
                else:
                    svc = m.services.get(key)
                    live.set(key, service_records(svc, list(m.slices.get(key, {}).values()), z) if svc else [])
            m.dirty.clear()
            if live.serial != m.rv or ("#", "static") not in live.per_key:
                live.set(("#", "static"), static_records(z, m.rv))
                live.serial = m.rv
            return live

    def sync(self) -> None:
        """Follow the CoreDNS pods and the kube-dns Service of the store: a port per pod, the address map."""
        with self.store.lock:
            pods, _ = self.store.list(_POD, DNS_NAMESPACE)
            svc = self.store.get(_SERVICE, DNS_NAMESPACE, DNS_SERVICE)
        key, value = DNS_LABEL
        current: dict[str, tuple[str, ...]] = {}
        ready: dict[str, bool] = {}
        for obj in pods:
            p = PodView.from_api(obj)
            if p.labels_dict.get(key) == value:
                current[p.name] = p.pod_ips
                ready[p.name] = p.ready and not p.deleting
        with self._lock:
            if not self._listeners.get(""):
                return  # stopped
            for name in list(self._listeners):
                if name and name not in current:
                    self._close(name)
            for name in current:
                if name not in self._listeners:
                    self._open(name)
            self._pod_ips, self._ready = current, ready
            self._service_ips = tuple(ip for ip in (ServiceView.from_api(svc).cluster_ips if svc else ())
                                      if ip and ip != "None")

    def _open(self, name: str) -> None:
        udp, tcp = _bind_pair(self.host)
        lst = _Listener(name, udp, tcp)
        self._listeners[name] = lst
        loop = self._loop
        assert loop is not None

        async def serve() -> None:
            try:
                transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self, name), sock=udp)
                lst.transports.append(transport)
                server = await asyncio.start_server(lambda r, w: self._tcp(name, r, w), sock=tcp)
                lst.transports.append(server)
            except OSError as e:  # closed before it started (stop right after start)
                log.debug("DNS listener %r did not start: %s", name, e)
            if self._listeners.get(name) is not lst:
                self._close_listener(lst)

        if _running_in(loop):
            loop.create_task(serve())
        else:
            asyncio.run_coroutine_threadsafe(serve(), loop)

    def _close(self, name: str) -> None:
        lst = self._listeners.pop(name, None)
        if lst is not None:
            if self._loop is not None and not _running_in(self._loop) and self._loop.is_running():
                self._loop.call_soon_threadsafe(self._close_listener, lst)
            else:
                self._close_listener(lst)

    @staticmethod
    def _close_listener(lst: _Listener) -> None:
        for t in lst.transports:
            t.close()
        lst.transports.clear()
        lst.udp_sock.close()
        lst.tcp_sock.close()

    # -- answering ------------------------------------------------------------------------------------------

    def _instance(self, listener: str) -> str:
        """Which pod answers a query that arrived on `listener`: itself, or for the Service port the ready pods
        in turn (no pod: the Service port answers alone)."""
        if listener:
            return listener
        with self._lock:
            ready = sorted(n for n, ok in self._ready.items() if ok)
        return ready[next(self._turn) % len(ready)] if ready else ""

    def answer(self, wire: bytes, pod: str = "", udp: bool = False) -> tuple[bytes | None, float]:
        """The reply to one query as the CoreDNS instance `pod` gives it, and the delay before sending it. Over UDP
        an answer larger than the client takes (512 bytes without EDNS) is truncated with TC set."""
        knobs = self.knobs.get(pod) or Knobs()
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            if len(wire) < 12:
                return None, 0.0
            # A header we can answer FORMERR to (RFC 1035 4.1.1), with the question left out.
            return wire[:2] + bytes([0x80 | (wire[2] & 0x79), 0x01]) + b"\0" * 8, knobs.delay
        response = dns.message.make_response(query, our_payload=OUR_PAYLOAD)
        qname, qtype = "", ""
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        elif knobs.fail is not None:
            response.set_rcode(knobs.fail)
        else:
            q = query.question[0]
            qname, qtype = q.name.to_text(), dns.rdatatype.to_text(q.rdtype)
            with self._view_lock:
                self._resolve(response, q.name, q.rdtype, q.rdclass, knobs.frozen or self.index())
        self.queries.append((pod, qname, qtype, dns.rcode.to_text(response.rcode())))
        limit = 65535
        if udp:
            limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit, prefer_truncation=True), knobs.delay
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(), knobs.delay

    def _resolve(self, response: dns.message.Message, qname: dns.name.Name, qtype: int, qclass: int,
                 index: Index) -> None:
        name = qname.to_text().lower()
        in_zone = name == index.zone or name.endswith("." + index.zone)
        in_reverse = any(name == z or name.endswith("." + z) for z in REVERSE_ZONES)
        if qclass != dns.rdataclass.IN or not (in_zone or in_reverse):
            response.set_rcode(dns.rcode.REFUSED)  # not ours, and the sim has no upstream
            return
        response.flags |= dns.flags.AA
        apex = index.zone if in_zone else next(z for z in REVERSE_ZONES if name == z or name.endswith("." + z))
        owner = qname
        for _ in range(8):  # CNAME chain inside the zone
            cname = index.get(name, _CNAME)
            if cname and qtype != _CNAME:
                response.answer.append(dns.rrset.from_rdata_list(owner, self.ttl, cname))
                target = cname[0].target
                tname = target.to_text().lower()
                if not tname.endswith("." + index.zone):
                    return  # out of the zone: CoreDNS would ask upstream, the sim has none
                owner, name = target, tname
                continue
            break
        found = self._lookup(index, name, qtype)
        pod = self._pod_record(index, name, qtype)
        if pod is not None:
            found = [pod]
        if found:
            response.answer.append(dns.rrset.from_rdata_list(owner, self.ttl, found))
            if qtype == _SRV:
                for rd in found:
                    for t in (_A, _AAAA):
                        extra = index.get(rd.target.to_text(), t)
                        if extra:
                            response.additional.append(dns.rrset.from_rdata_list(rd.target, self.ttl, extra))
            return
        if response.answer:
            return  # a CNAME to a name without records of that type
        exists = index.exists(name) or self._pod_record(index, name, _A) is not None \
            or self._pod_record(index, name, _AAAA) is not None
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = index.get(index.zone, _SOA)[0] if apex == index.zone else dns.rdata.from_text(
            dns.rdataclass.IN, _SOA, f"ns.dns.{apex} hostmaster.{apex} {index.serial} 7200 1800 86400 {self.ttl}")
        response.authority.append(dns.rrset.from_rdata_list(dns.name.from_text(apex), self.ttl, [soa]))

    @staticmethod
    def _lookup(index: Index, name: str, qtype: int) -> list[dns.rdata.Rdata]:
        if qtype == dns.rdatatype.ANY:
            return [rd for t in index.types_at(name) for rd in index.get(name, t)]
        found = list(index.get(name, qtype))
        return found[:1] if qtype == _PTR else found  # CoreDNS answers a PTR with one name

    @staticmethod
    def _pod_record(index: Index, name: str, qtype: int) -> dns.rdata.Rdata | None:
        """`pods insecure`: `a-b-c-d.<ns>.pod.<zone>` answers a.b.c.d without looking at the pods."""
        suffix = ".pod." + index.zone
        if not name.endswith(suffix) or qtype not in (_A, _AAAA):
            return None
        labels = name[: -len(suffix)].split(".")
        if len(labels) != 2:
            return None
        dashed = labels[0]
        try:
            ip = ipaddress.ip_address(dashed.replace("-", ".") if dashed.count("-") == 3 else dashed.replace("-", ":"))
        except ValueError:
            return None
        t = _AAAA if ip.version == 6 else _A
        return dns.rdata.from_text(dns.rdataclass.IN, t, str(ip)) if t == qtype else None

    async def _tcp(self, listener: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                wire = await reader.readexactly(int.from_bytes(head, "big"))
                reply, delay = self.answer(wire, self._instance(listener))
                if delay:
                    await asyncio.sleep(delay)
                if reply is None:
                    break
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, dns_server: SimDns, listener: str) -> None:
        self.dns, self.listener = dns_server, listener
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply, delay = self.dns.answer(data, self.dns._instance(self.listener), udp=True)
        if reply is None or self.transport is None:
            return
        if delay:
            asyncio.get_running_loop().call_later(delay, self._send, reply, addr)
        else:
            self._send(reply, addr)

    def _send(self, reply: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
