"""`svcscope dig NAME [TYPE] [@SERVER[:PORT]] [--check]`: dig for Service names, checked against the live
EndpointSlices.

Servers: `@kube-dns` (the default: the cluster DNS Service's ClusterIP, from the API), `@coredns` (every CoreDNS pod
side by side), `@resolv.conf` (this node's first nameserver) or `@ADDR[:PORT]`. `-n NS` turns a bare Service name
into its FQDN; `--pod-namespace NS` resolves the name as a pod in NS would (its resolv.conf, glibc's search and
ndots:5), showing every name tried. Exit codes: 0 answered (and the check passed), 1 the check failed, 2 usage,
9 a server gave no usable answer, 10 the cluster could not be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_NO_ANSWER, EXIT_CLUSTER = 0, 1, 2, 9, 10
ADDRESS_MAP_ENV = "SVCSCOPE_DNS_MAP"  # tui.dns.servers.ADDRESS_MAP_ENV, here so --help does not import dnspython
KEYWORDS = {"kube-dns": "kube-dns", "coredns": "coredns", "pods": "coredns", "resolv.conf": "resolv",
            "resolv": "resolv"}


class _Intermixed(argparse.ArgumentParser):
    """Takes the query's words anywhere among the options (`dig web -n shop @10.96.0.10 --check`), as dig does;
    argparse alone stops collecting positionals at the first option."""

    _inside = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        if self._inside:  # parse_known_intermixed_args calls back here
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def register(subparsers: argparse._SubParsersAction) -> None:
    from tui.cli import add_connection_args

    p = subparsers.add_parser(
        "dig", usage="%(prog)s NAME [TYPE] [@SERVER[:PORT]] [--check] [--short] [-n NS] [--pod-namespace NS] "
                     "[--demo] [options]",
        help="query a Service's DNS names like dig, and check the answers against its EndpointSlices",
        description="Query NAME like dig does and print dig's output. With --check, compare the answer with what "
                    "the Kubernetes DNS spec says for the Service's live EndpointSlices.",
        epilog="SERVER: @kube-dns (default), @coredns (each CoreDNS pod), @resolv.conf, or @ADDR[:PORT]. "
               "Exit codes: 0 answered (check passed), 1 check failed, 2 usage, 9 no usable answer, "
               "10 the cluster could not be read. Against a `svcscope sim` in another terminal, set "
               f"{ADDRESS_MAP_ENV}=IP=HOST:PORT,... (printed by the sim) to reach its DNS pods.")
    p.add_argument("query", nargs="+", metavar="NAME [TYPE] [@SERVER]",
                   help="the name, an optional record type (A, AAAA, SRV, PTR, CNAME, TXT, ...), the server")
    p.add_argument("--check", action="store_true",
                   help="judge the answer against the Service's EndpointSlices (exit 1 when it differs)")
    p.add_argument("--short", action="store_true", help="print only the answers, as dig +short")
    p.add_argument("-x", dest="reverse", action="store_true", help="NAME is an address: ask its PTR (as dig -x)")
    p.add_argument("--pod-namespace", metavar="NS",
                   help="resolve NAME as a pod in namespace NS would (search path, ndots:5)")
    p.add_argument("--zone", help="the cluster domain (default: detected from kubelet's config, else cluster.local)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each try (default: 2)")
    p.add_argument("--tries", type=int, default=2, help="UDP tries per query (default: 2)")
    p.add_argument("--tcp", action="store_true", help="query over TCP (as dig +tcp)")
    p.add_argument("--bufsize", type=int, default=1232,
                   help="EDNS UDP size to advertise, 0 for no EDNS (as dig +bufsize/+noedns; default: 1232)")
    p.add_argument("--max-ttl", type=int, help="with --check: flag records whose TTL is above this")
    p.add_argument("-o", "--output", choices=("dig", "json"), default="dig", help="dig's text (default) or JSON")
    add_connection_args(p)
    p.set_defaults(func=run)
    p.__class__ = _Intermixed


class DigError(Exception):
    def __init__(self, message: str, code: int = EXIT_CLUSTER) -> None:
        super().__init__(message)
        self.code = code


@dataclasses.dataclass
class Request:
    name: str
    qtype: str
    server: str | None  # None: the default (kube-dns)


def parse_query(words: list[str], reverse: bool) -> Request:
    import dns.rdatatype

    name = qtype = server = None
    for w in words:
        if w.startswith("@"):
            if server is not None:
                raise DigError(f"two servers given ({server}, {w}): give one, or @coredns for every CoreDNS pod",
                               EXIT_USAGE)
            server = w[1:]
        elif name is None:
            name = w
        elif qtype is None and _is_type(w, dns.rdatatype):
            qtype = w.upper()
        else:
            raise DigError(f"{w!r} is neither a record type nor a server (@ADDR): one NAME per query", EXIT_USAGE)
    if name is None:
        raise DigError("no NAME to query", EXIT_USAGE)
    if reverse:
        qtype = "PTR"
    return Request(name, qtype or "A", server)


def _is_type(word: str, rdatatype: Any) -> bool:
    try:
        rdatatype.from_text(word.upper())
    except Exception:
        return False
    return "." not in word


def run(args: argparse.Namespace) -> int:
    try:
        req = parse_query(args.query, args.reverse)
        with Session(args) as session:
            return session.dig(req)
    except DigError as exc:
        print(f"svcscope dig: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:  # `svcscope dig ... | head`
        return EXIT_OK
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"svcscope dig: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_CLUSTER


class Session:
    """The cluster (real or demo) a dig runs against, opened only as far as the query needs it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sim: Any = None
        self.sim_dns: Any = None
        self.api: Any = None
        self.conn: Any = None  # tui.kube.client.Connection, for error sentences
        self.address_map: dict[str, tuple[str, int]] = {}
        self._api_error: str | None = None

    def __enter__(self) -> "Session":
        if self.args.demo:
            from tui.sim.cluster import SimCluster
            from tui.sim.dns_server import SimDns

            self.sim = SimCluster(scenario="tutorial")
            self.sim_dns = SimDns(self.sim.store)
            self.sim.add_component(self.sim_dns)
            try:
                self.sim.start()
            except (ValueError, OSError) as exc:
                raise DigError(f"cannot start the demo cluster: {exc}") from None
            self.api = self.sim.api_client()
            self.address_map = self.sim_dns.address_map
        elif os.environ.get(ADDRESS_MAP_ENV):
            from tui.dns.servers import parse_address_map

            try:
                self.address_map = parse_address_map(os.environ[ADDRESS_MAP_ENV])
            except ValueError as exc:
                raise DigError(str(exc), EXIT_USAGE) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sim is not None:
            self.sim.stop()

    # -- the cluster ---------------------------------------------------------------------------------------------

    def client(self, required: bool, why: str) -> Any:
        """The API client, connecting on first use; None (or DigError when `required`) if there is no cluster."""
        if self.api is None and self._api_error is None:
            from tui.kube.client import KubeConnectionError, connect

            try:
                self.conn = connect(self.args.kubeconfig, self.args.context)
                self.api = self.conn.api_client
            except KubeConnectionError as exc:
                self._api_error = str(exc)
        if self.api is None and required:
            error = (self._api_error or "there is no cluster").rstrip(".")
            hint = "" if self.args.check else "; or name a server with @ADDR[:PORT]"
            raise DigError(f"{why} needs the cluster, but: {error[0].lower()}{error[1:]}{hint}", EXIT_CLUSTER)
        return self.api

    def read(self, verb: str, resource: str, namespace: str | None, fn: Any) -> Any:
        """Call the API, turning its failures into one sentence."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        from tui.kube.client import explain_error

        try:
            return fn()
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise DigError(explain_error(exc, self.conn, (verb, resource, namespace))) from None

    def cluster_dns(self) -> Any:
        from tui.dns.servers import read_cluster_dns

        api = self.client(True, "finding the cluster DNS (@kube-dns, the default, or @coredns)")
        return self.read("list", "services and pods", "kube-system", lambda: read_cluster_dns(api))

    def zone(self) -> Any:
        from tui.dns.servers import detect_zone, read_resolv_conf

        api = None if self.args.zone else self.client(False, "")
        return detect_zone(self.args.zone, api, resolv=read_resolv_conf())

    # -- servers ---------------------------------------------------------------------------------------------------

    def servers(self, spec: str | None) -> list[Any]:
        from tui.dns.probe import DnsServer
        from tui.dns.servers import parse_server, read_resolv_conf

        keyword = KEYWORDS.get((spec or "kube-dns").lower())
        if keyword == "resolv":
            rc = read_resolv_conf()
            if not rc.nameservers:
                raise DigError(f"{rc.source} lists no nameserver", EXIT_USAGE)
            return [parse_server(rc.nameservers[0], self.address_map, rc.source or "/etc/resolv.conf")]
        if keyword is not None:
            cd = self.cluster_dns()
            found: list[DnsServer] = cd.service_servers(self.address_map)[:1] if keyword == "kube-dns" \
                else cd.pod_servers(self.address_map)
            if not found:
                problems = "; ".join(cd.problems) or "nothing found"
                raise DigError(f"no {'kube-dns Service address' if keyword == 'kube-dns' else 'CoreDNS pod'} to "
                               f"ask: {problems}", EXIT_CLUSTER)
            return found
        try:
            return [parse_server(spec, self.address_map)]
        except ValueError as exc:
            raise DigError(str(exc), EXIT_USAGE) from None

    # -- the query -------------------------------------------------------------------------------------------------

    def dig(self, req: Request) -> int:
        from tui.dns import digfmt
        from tui.dns.probe import DigResult, ProbeError, probe
        from tui.dns.servers import pod_resolv_conf, read_resolv_conf, resolve_as_pod

        a = self.args
        opts = dict(timeout=a.timeout, tries=max(1, a.tries), tcp=a.tcp, bufsize=a.bufsize or None)
        servers = self.servers(req.server)
        zone = self.zone() if (a.pod_namespace or a.namespace or a.check) else None
        name = req.name
        lookup = None
        out: list[str] = []
        if a.pod_namespace:
            nameservers = [s.shown_name for s in servers]
            rc = pod_resolv_conf(a.pod_namespace, zone.zone, nameservers, read_resolv_conf())
            lookup = resolve_as_pod(name, req.qtype, rc, servers[0],
                                    ask=lambda n, t, s: probe(n, t, s, **opts))
            outcomes = [lookup.final]
            if not a.short and a.output == "dig":
                out.append(digfmt.render_pod_lookup(lookup))
        else:
            if a.namespace and "." not in name.rstrip(".") and not name.endswith(".") and req.qtype != "PTR":
                name = f"{name}.{a.namespace}.svc.{zone.zone}"
            with ThreadPoolExecutor(max_workers=min(8, len(servers))) as pool:
                outcomes = list(pool.map(lambda s: probe(name, req.qtype, s, **opts), servers))
        verdict = self.check(outcomes, zone) if a.check else None
        if a.output == "json":
            print(json.dumps(to_json(outcomes, verdict, lookup), indent=2))
        else:
            for o in outcomes:
                out.append(digfmt.render(o, short=a.short))
            if verdict is not None:
                out.append("".join(f";; {line}\n" for line in verdict.lines()))
            sys.stdout.write("".join(out))
        if verdict is not None:
            return EXIT_OK if verdict.ok is not False else EXIT_CHECK_FAILED
        errors = [o for o in outcomes if isinstance(o, ProbeError)]
        for e in errors:
            if a.output == "json" or a.short:
                print(f"svcscope dig: {e.message}", file=sys.stderr)
        return EXIT_NO_ANSWER if errors or not all(isinstance(o, DigResult) for o in outcomes) else EXIT_OK

    def check(self, outcomes: list[Any], zone: Any) -> Any:
        from tui.dns.expect import expect, parse_name
        from tui.dns.verdict import judge
        from tui.kube.models import ServiceView, SliceView

        qname = outcomes[0].qname
        qtype = outcomes[0].qtype
        cn = parse_name(qname, zone.zone)
        services: list[ServiceView] = []
        slices: list[SliceView] = []
        if cn.kind in ("service", "endpoint", "srv", "reverse"):
            from tui.dns.servers import list_objects

            api = self.client(True, "--check")
            ns = cn.namespace if cn.kind != "reverse" else None
            selector = f"kubernetes.io/service-name={cn.service}" if cn.kind != "reverse" else None
            svc_items = self.read("list", "services", ns, lambda: list_objects(api, "services", ns))
            slice_items = self.read("list", "endpointslices", ns,
                                    lambda: list_objects(api, "endpointslices", ns, selector))
            services = [ServiceView.from_api(o) for o in svc_items]
            slices = [SliceView.from_api(o) for o in slice_items]
        return judge(expect(qname, qtype, zone.zone, services, slices), outcomes, max_ttl=self.args.max_ttl)


def to_json(outcomes: list[Any], verdict: Any, lookup: Any) -> dict[str, Any]:
    def plain(obj: Any) -> Any:
        if isinstance(obj, datetime):
            return obj.isoformat()
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                    if f.name not in ("raw", "known")}
        if isinstance(obj, (list, tuple)):
            return [plain(x) for x in obj]
        return obj

    out: dict[str, Any] = {"answers": [dict(plain(o), type=type(o).__name__) for o in outcomes]}
    if lookup is not None:
        out["resolv_conf"] = lookup.resolv.to_text()
        out["tried"] = [{"name": at.name, "next": at.next_step, "why": at.why} for at in lookup.attempts]
    if verdict is not None:
        out["verdict"] = {"state": verdict.state, "rule": verdict.expectation.rule,
                          "differences": [plain(d) for d in verdict.differences],
                          "said": [list(x) for x in verdict.said]}
    return out
