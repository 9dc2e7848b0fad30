"""Which DNS server to ask, which zone is the cluster's, and how a pod's resolver turns a short name into queries.

A node's /etc/resolv.conf does not point at the cluster DNS, so the cluster's servers come from the API: the
kube-dns Service's ClusterIP (what pods use) and each CoreDNS pod IP (to catch one pod answering differently).
"Resolve as a pod would" builds the resolv.conf kubelet writes into a pod (dnsPolicy ClusterFirst) and walks the
search list exactly as glibc's res_search does with ndots, recording every name tried and why it went on or stopped.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

from tui.dns.probe import DigResult, DnsServer, ProbeError, ProbeOutcome, probe
from tui.kube.models import PodView, ServiceView

DEFAULT_ZONE = "cluster.local"
DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"
DNS_LABEL = ("k8s-app", "kube-dns")  # CoreDNS pods and the Service keep kube-dns's label (kubeadm, k3s, kind)
KUBELET_CONFIG_PATH = Path("/var/lib/kubelet/config.yaml")
RESOLV_CONF_PATH = Path("/etc/resolv.conf")
MAX_NAMESERVERS = 3  # glibc MAXNS
MAX_SEARCH = 32  # kubelet's MaxDNSSearchPaths
POD_NDOTS = 5

# An address the packets cannot reach as-is, mapped to where they can: the demo serves each CoreDNS pod IP and the
# kube-dns ClusterIP on its own loopback port.
AddressMap = Mapping[str, tuple[str, int]]


# -- resolv.conf ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    ndots: int = 1
    options: tuple[str, ...] = ()  # every option as written, ndots included
    source: str = ""  # where it came from, for the user

    def to_text(self) -> str:
        """As `cat /etc/resolv.conf` shows it (kubelet's layout for a pod's file)."""
        lines = []
        if self.search:
            lines.append("search " + " ".join(self.search))
        lines.extend(f"nameserver {ns}" for ns in self.nameservers)
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def parse_resolv_conf(text: str, source: str = "") -> ResolvConf:
    """glibc's reading: the last `search`/`domain` line wins, at most 3 nameservers, `options ndots:N` capped at 15."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    ndots = 1
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        key, _, rest = line.partition(" ")
        words = rest.split()
        if key == "nameserver" and words:
            if len(nameservers) < MAX_NAMESERVERS:
                nameservers.append(words[0])
        elif key in ("search", "domain"):
            search = [w.rstrip(".") or "." for w in words] if key == "search" else words[:1]
        elif key == "options":
            for opt in words:
                options.append(opt)
                if opt.startswith("ndots:"):
                    try:
                        ndots = min(max(int(opt[6:]), 0), 15)
                    except ValueError:
                        pass
    return ResolvConf(tuple(nameservers), tuple(search), ndots, tuple(options), source)


def read_resolv_conf(path: Path = RESOLV_CONF_PATH) -> ResolvConf:
    """This node's resolv.conf; a missing file means glibc's default, the local nameserver."""
    try:
        return parse_resolv_conf(path.read_text(), str(path))
    except OSError:
        return ResolvConf(("127.0.0.1",), (), 1, (), f"{path} (missing: glibc's default)")


def pod_resolv_conf(namespace: str, zone: str, nameservers: Sequence[str],
                    node: ResolvConf | None = None) -> ResolvConf:
    """The resolv.conf kubelet writes for a pod in `namespace` with dnsPolicy ClusterFirst: the cluster search
    domains, then the node's (trailing dots dropped, duplicates omitted, at most 32), the cluster DNS, ndots:5."""
    zone = zone.rstrip(".")
    search: list[str] = []
    for d in [f"{namespace}.svc.{zone}", f"svc.{zone}", zone, *(node.search if node else ())]:
        d = d.rstrip(".")
        if d and d not in search:
            search.append(d)
    return ResolvConf(tuple(nameservers), tuple(search[:MAX_SEARCH]), POD_NDOTS, (f"ndots:{POD_NDOTS}",),
                      f"a pod in namespace {namespace} (dnsPolicy ClusterFirst)")


# -- glibc's search ------------------------------------------------------------------------------------------------


def search_names(name: str, rc: ResolvConf) -> list[str]:
    """Every absolute name glibc's res_search may try for `name`, in order (it may stop early, see resolve_as_pod).

    A trailing dot: the name alone. At least `ndots` dots: as-is first, then the search domains. Fewer: the search
    domains, then as-is last. A root domain in the search list counts as the as-is try."""
    if name.endswith("."):
        return [name]
    out: list[str] = []
    as_is = name + "."
    if name.count(".") >= rc.ndots:
        out.append(as_is)
    for d in rc.search:
        cand = as_is if d in ("", ".") else f"{name}.{d.rstrip('.')}."
        if cand not in out:
            out.append(cand)
    if as_is not in out:
        out.append(as_is)
    return out


@dataclass(frozen=True, slots=True)
class Attempt:
    name: str
    outcome: ProbeOutcome
    next_step: str  # "answered" | "next" (the next name) | "as-is" (the search list is abandoned) | "stop"
    why: str  # in words: "NXDOMAIN: try the next name"


@dataclass(frozen=True, slots=True)
class PodLookup:
    """A short name resolved as a pod would: the resolv.conf used and every name tried."""

    name: str
    qtype: str
    resolv: ResolvConf
    attempts: tuple[Attempt, ...]

    @property
    def answer(self) -> Attempt | None:
        return next((a for a in self.attempts if a.next_step == "answered"), None)

    @property
    def final(self) -> ProbeOutcome | None:
        """What the application gets: the answering outcome, else the last one tried."""
        a = self.answer or (self.attempts[-1] if self.attempts else None)
        return a.outcome if a else None


def _goes_on(outcome: ProbeOutcome) -> tuple[bool, str]:
    """Whether glibc's res_search tries the next search domain after this answer (resolv/res_query.c: NXDOMAIN,
    NODATA and SERVFAIL go on; REFUSED, other errors and timeouts abandon the search list)."""
    if isinstance(outcome, ProbeError):
        return False, f"{outcome.kind} (TRY_AGAIN)"
    if outcome.status == "NOERROR":
        return True, "NOERROR without records (NODATA)"
    if outcome.status in ("NXDOMAIN", "SERVFAIL"):
        return True, outcome.status
    return False, f"{outcome.status} (NO_RECOVERY)"


def resolve_as_pod(name: str, qtype: str, rc: ResolvConf, server: DnsServer,
                   ask: Callable[[str, str, DnsServer], ProbeOutcome] | None = None) -> PodLookup:
    """glibc's res_search against `server` (the pod's first nameserver): a name with a trailing dot is asked alone;
    one with at least `ndots` dots is asked as-is first, and its failure, whatever it is, goes on to the search list;
    a search-list answer other than NXDOMAIN, NODATA or SERVFAIL abandons the list; the as-is name is asked last if it
    was not asked yet."""
    ask = ask or (lambda n, t, s: probe(n, t, s))
    attempts: list[Attempt] = []

    def one(cand: str, in_search: bool) -> bool:
        outcome = ask(cand, qtype, server)
        if isinstance(outcome, DigResult) and outcome.answered:
            attempts.append(Attempt(cand, outcome, "answered", f"NOERROR with {len(outcome.answer)} record(s)"))
            return True
        on, what = _goes_on(outcome)
        if not in_search:
            attempts.append(Attempt(cand, outcome, "next", f"{what}: try the search list"))
        elif on:
            attempts.append(Attempt(cand, outcome, "next", f"{what}: try the next name"))
        else:
            attempts.append(Attempt(cand, outcome, "as-is", f"{what}: glibc abandons the search list"))
        return False

    names = search_names(name, rc)
    as_is = name if name.endswith(".") else name + "."
    if name.endswith(".") or name.count(".") >= rc.ndots:
        if one(as_is, False) or name.endswith("."):
            return _done(name, qtype, rc, attempts)
    for cand in names:
        if cand == as_is:
            continue
        if one(cand, True):
            return _done(name, qtype, rc, attempts)
        if attempts[-1].next_step == "as-is":
            break
    if not any(a.name == as_is for a in attempts):
        one(as_is, False)
    return _done(name, qtype, rc, attempts)


def _done(name: str, qtype: str, rc: ResolvConf, attempts: list[Attempt]) -> PodLookup:
    if attempts and attempts[-1].next_step != "answered":
        last = attempts[-1]
        attempts[-1] = Attempt(last.name, last.outcome, "stop", last.why.split(":")[0] + ": no more names to try")
    return PodLookup(name, qtype.upper(), rc, tuple(attempts))


# -- servers --------------------------------------------------------------------------------------------------------


ADDRESS_MAP_ENV = "SVCSCOPE_DNS_MAP"


def parse_address_map(text: str) -> dict[str, tuple[str, int]]:
    """`IP=HOST:PORT,IP=HOST:PORT` (what `SimDns.address_map_text()` prints for a separately running sim);
    ValueError in words."""
    out: dict[str, tuple[str, int]] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        addr, sep, target = item.partition("=")
        if not sep:
            raise ValueError(f"{ADDRESS_MAP_ENV}: {item!r} is not IP=HOST:PORT")
        try:
            ipaddress.ip_address(addr)
            server = parse_server(target)
        except ValueError as e:
            raise ValueError(f"{ADDRESS_MAP_ENV}: {item!r}: {e}") from None
        out[addr] = (server.host, server.port)
    return out


def make_server(addr: str, port: int = 53, label: str = "", address_map: AddressMap | None = None) -> DnsServer:
    """A DnsServer for `addr:port`, sent to its loopback stand-in when the demo maps that address."""
    if address_map and port == 53 and addr in address_map:
        host, real_port = address_map[addr]
        return DnsServer(host, real_port, addr, label)
    return DnsServer(addr, port, addr, label)


def parse_server(spec: str, address_map: AddressMap | None = None, label: str = "") -> DnsServer:
    """`ADDR`, `ADDR:PORT`, `ADDR#PORT` (dig's way), `[V6]:PORT` or a bare IPv6 address; ValueError in words."""
    text = spec.lstrip("@").strip()
    host, port = text, 53
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{spec!r}: missing ']' after the IPv6 address")
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith((":", "#")):
                raise ValueError(f"{spec!r}: expected :PORT after ']'")
            port = _port(rest[1:], spec)
    elif "#" in text:
        host, p = text.rsplit("#", 1)
        port = _port(p, spec)
    elif text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p, spec)
    if not host:
        raise ValueError(f"{spec!r}: no server address")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{spec!r} is not an IP address (with an optional :PORT); name servers are given by "
                         f"address, or as @kube-dns, @coredns or @resolv.conf") from None
    return make_server(host, port, label, address_map)


def _port(text: str, spec: str) -> int:
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    raise ValueError(f"{spec!r}: {text!r} is not a port number (1-65535)")


@dataclass(frozen=True, slots=True)
class DnsPod:
    name: str
    ips: tuple[str, ...]
    ready: bool
    node: str


@dataclass(frozen=True, slots=True)
class ClusterDns:
    """The cluster's DNS as the API describes it."""

    service: str  # "kube-system/kube-dns", "" when none was found
    service_ips: tuple[str, ...]
    port: int
    pods: tuple[DnsPod, ...]
    problems: tuple[str, ...] = ()

    def service_servers(self, address_map: AddressMap | None = None) -> list[DnsServer]:
        return [make_server(ip, self.port, f"{self.service} Service", address_map) for ip in self.service_ips]

    def pod_servers(self, address_map: AddressMap | None = None) -> list[DnsServer]:
        """One server per CoreDNS pod with an IP, in name order (the first IP of each: one answer per pod)."""
        return [make_server(p.ips[0], self.port, f"CoreDNS pod {p.name}" + ("" if p.ready else " (not ready)"),
                            address_map) for p in self.pods if p.ips]


def cluster_dns_from_objects(services: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]]) -> ClusterDns:
    """From kube-system's Services and pods (API JSON): prefer the Service named kube-dns, else any labelled
    k8s-app=kube-dns (RKE2 and others rename it); its `dns` UDP port, else 53."""
    problems: list[str] = []
    views = [ServiceView.from_api(s) for s in services]
    key, value = DNS_LABEL
    svc = next((v for v in views if v.name == DNS_SERVICE), None) or \
        next((v for v in views if v.labels_dict.get(key) == value), None)
    ips: tuple[str, ...] = ()
    port = 53
    name = ""
    if svc is None:
        problems.append(f"no Service {DNS_NAMESPACE}/{DNS_SERVICE} (nor one labelled {key}={value}): the cluster DNS "
                        f"is not where kubeadm puts it; give its address with @ADDR")
    else:
        name = f"{svc.namespace or DNS_NAMESPACE}/{svc.name}"
        ips = tuple(ip for ip in svc.cluster_ips if ip and ip != "None")
        if not ips:
            problems.append(f"Service {name} has no ClusterIP")
        udp = [p for p in svc.ports if p.protocol == "UDP"]
        named = [p for p in udp if p.name == "dns"] or udp
        if named:
            port = named[0].port
    dns_pods = []
    for obj in pods:
        p = PodView.from_api(obj)
        if p.labels_dict.get(key) != value:
            continue
        if not p.pod_ips:
            problems.append(f"CoreDNS pod {p.name} has no IP yet")
        dns_pods.append(DnsPod(p.name, p.pod_ips, p.ready and not p.deleting, p.node_name))
    if svc is not None and not dns_pods:
        problems.append(f"no pods labelled {key}={value} in {DNS_NAMESPACE}: nothing answers behind {name}")
    dns_pods.sort(key=lambda d: d.name)
    return ClusterDns(name, ips, port, tuple(dns_pods), tuple(problems))


def list_objects(api_client: Any, plural: str, namespace: str | None = None,
                 label_selector: str | None = None) -> list[dict[str, Any]]:
    """Raw JSON items of services, pods, configmaps or endpointslices (the models parse API JSON, not the client's
    objects). API errors propagate for the caller to word."""
    from kubernetes import client

    api: Any = client.DiscoveryV1Api(api_client) if plural == "endpointslices" else client.CoreV1Api(api_client)
    method = {"services": "service", "pods": "pod", "configmaps": "config_map",
              "endpointslices": "endpoint_slice"}[plural]
    kw: dict[str, Any] = {"_preload_content": False, "_request_timeout": (5, 30)}
    if label_selector:
        kw["label_selector"] = label_selector
    if namespace:
        resp = getattr(api, f"list_namespaced_{method}")(namespace, **kw)
    else:
        resp = getattr(api, f"list_{method}_for_all_namespaces")(**kw)
    return list(json.loads(resp.data).get("items") or [])


def read_cluster_dns(api_client: Any) -> ClusterDns:
    """kube-system's DNS Service and CoreDNS pods from the API. API errors propagate (the caller words them)."""
    key, value = DNS_LABEL
    svcs = list_objects(api_client, "services", DNS_NAMESPACE)
    pods = list_objects(api_client, "pods", DNS_NAMESPACE, f"{key}={value}")
    return cluster_dns_from_objects(svcs, pods)


# -- the cluster domain ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    zone: str
    source: str  # where it was found, for the user
    notes: tuple[str, ...] = ()  # sources that were tried and why they did not answer


def _cluster_domain(kubelet_yaml: str) -> str | None:
    try:
        doc = yaml.safe_load(kubelet_yaml)
    except yaml.YAMLError:
        return None
    value = doc.get("clusterDomain") if isinstance(doc, dict) else None
    return value.rstrip(".") if isinstance(value, str) and value.strip(".") else None


def zone_from_configmaps(configmaps: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """clusterDomain from kubeadm's kubelet-config ConfigMap (older kubeadm: kubelet-config-1.NN, newest wins)."""
    found = []
    for cm in configmaps:
        name = str((cm.get("metadata") or {}).get("name", ""))
        if name == "kubelet-config" or name.startswith("kubelet-config-"):
            data = cm.get("data") or {}
            zone = _cluster_domain(str(data.get("kubelet", "")))
            if zone:
                found.append((name != "kubelet-config", name, zone))
    if not found:
        return None
    found.sort(key=lambda f: (f[0], [int(x) if x.isdigit() else 0 for x in f[1].split("-")[-1].split(".")]))
    _, name, zone = found[0]
    return zone, f"ConfigMap {DNS_NAMESPACE}/{name} (kubelet clusterDomain)"


def detect_zone(override: str | None = None, api_client: Any = None,
                kubelet_config: Path | None = KUBELET_CONFIG_PATH, resolv: ResolvConf | None = None) -> ZoneInfo:
    """The cluster domain: --zone, else kubelet's clusterDomain (kube-system ConfigMap, then this node's kubelet
    config file), else a `svc.ZONE` search domain in resolv.conf (inside a pod), else cluster.local."""
    if override:
        return ZoneInfo(override.strip(".").lower(), "--zone")
    notes: list[str] = []
    if api_client is not None:
        try:
            items = list_objects(api_client, "configmaps", DNS_NAMESPACE)
            hit = zone_from_configmaps(items)
            if hit:
                return ZoneInfo(hit[0], hit[1], tuple(notes))
            notes.append(f"no kubelet-config ConfigMap with clusterDomain in {DNS_NAMESPACE}")
        except Exception as e:  # any API failure only means this source is unavailable
            notes.append(f"could not read {DNS_NAMESPACE} ConfigMaps ({type(e).__name__})")
    if kubelet_config is not None:
        try:
            zone = _cluster_domain(kubelet_config.read_text())
            if zone:
                return ZoneInfo(zone, f"{kubelet_config} (kubelet clusterDomain)", tuple(notes))
            notes.append(f"{kubelet_config} has no clusterDomain")
        except OSError:
            notes.append(f"no {kubelet_config} on this machine")
    if resolv is not None:
        for d in resolv.search:
            if d.startswith("svc.") and len(d) > 4:
                return ZoneInfo(d[4:].rstrip("."), f"{resolv.source or 'resolv.conf'} search path", tuple(notes))
    return ZoneInfo(DEFAULT_ZONE, "the Kubernetes default", tuple(notes))
