"""`svcscope check`: every trace check for the chosen Services, printed; non-zero exit when any check fails.

For scripts and cron on nodes: exit 0 when nothing is wrong (warnings and notes are printed but pass), 1 when any
Service has an error, 2 when the check could not run (no cluster, no permission) — so a cron job can tell "broken"
from "could not look".
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tui.commands import oneshot
from tui.kube.cache import ENDPOINTSLICES, PODS, SERVICES, Lister, Resource
from tui.kube.client import explain_error, get
from tui.kube.models import PodView, ServiceView, SliceView
from tui.trace.gather import Objects, PodIndex, node_context, service_states, this_node_name, with_dns
from tui.trace.join import NodeContext, ServiceState, pods_needed, trace_service
from tui.trace.model import Trace

EXIT_OK, EXIT_FAILED, EXIT_CANNOT = 0, 1, 2
DEMO_NODE = "node1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = oneshot.add_parser(
        subparsers, "check", run, outputs=None,
        help="check Services across API, EndpointSlices, IPVS (and DNS); exit 1 when any check fails",
        description="Join each Service with its EndpointSlices, pods, this node's IPVS table and (with --dns) "
                    "DNS, and print every disagreement. Exit 0: all pass; 1: an error found; 2: could not check.",
    )
    parser.add_argument("services", nargs="*", metavar="SERVICE", help="only these Services (default: all)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument("--node", help="the Node this machine is (default: the Node named like this host)")
    parser.add_argument("--source", choices=("auto", "netlink", "proc"), default="auto",
                        help="where to read this node's IPVS table from (default: netlink, else /proc)")
    parser.add_argument("--dns", action="store_true",
                        help="also ask each CoreDNS pod for every Service's name and check the answers")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only Services with findings")
    parser.add_argument("--all-pods", action="store_true",
                        help="read every pod, not only those of Services whose EndpointSlices leave the pod checks "
                             "open: also checks numeric targetPorts against the containers of every Service")
    parser.add_argument("--scenario", default="tutorial", help="with --demo: the simulated cluster's scenario")


class _Cannot(Exception):
    """The check could not run; str() is the sentence."""


def run(args: argparse.Namespace) -> int:
    # A one-shot check builds hundreds of thousands of small dicts and views that all live until it exits; the
    # cyclic GC would rescan them again and again (half of `check -A`'s time on 10,000 Services) to free nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if collecting:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    sim = None
    table_read: Future | None = None
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        if args.demo:
            api, sim, table, table_error, node, address_map = _demo(args.scenario)
        else:
            conn = oneshot.connection(args)
            api, table, table_error, node, address_map = conn.api_client, None, "", args.node, {}
            table_read = pool.submit(_read_table, args.source)  # this node's table while the lists come
        namespace = None if args.all_namespaces else (args.namespace or ("dev" if args.demo else None))
        if not args.demo and not args.all_namespaces and namespace is None:
            namespace = conn.namespace
        objs = _fetch(api, namespace, args.all_pods)
        if not node:
            node = this_node_name(objs.nodes) or ""
        if table_read is not None:
            table, table_error = table_read.result() if node else (None, _not_a_node())
        states = service_states(objs, [namespace] if namespace else None, args.services)
        missing = sorted(set(args.services) - {s.service.name for s in states})
        if missing:
            where = f"namespace {namespace}" if namespace else "any namespace"
            raise _Cannot(f"no Service named {', '.join(missing)} in {where}")
        if objs.pods is None:
            states = _with_pods(api, states)
        ctx = node_context(objs, node, table, table_error)
        if args.dns:
            try:
                states = with_dns(api, states, address_map)
            except LookupError as exc:
                raise _Cannot(str(exc)) from None
        traces = [trace_service(s, ctx) for s in states]
    except oneshot.OneShotError as exc:
        print(f"svcscope: {exc}", file=sys.stderr)
        return EXIT_CANNOT
    except _Cannot as exc:
        print(f"svcscope check: {exc}", file=sys.stderr)
        return EXIT_CANNOT
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        print(f"svcscope: {explain_error(exc, None, ('list', 'services', None))}", file=sys.stderr)
        return EXIT_CANNOT
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if sim is not None:
            sim.stop()
    pods_error = next((s.pods_error for s in states if s.pods_error), "")
    _print(args, traces, ctx, pods_error, _numeric_unchecked(states))
    return EXIT_FAILED if any(t.worst == "error" for t in traces) else EXIT_OK


def _not_a_node() -> str:
    return "this machine is not a Node of the cluster (no Node is named like this host): pass --node NAME"


def _demo(scenario: str) -> tuple[Any, Any, Any, str, str, dict]:
    from tui.sim.cluster import SimCluster
    from tui.sim.dns_server import SimDns
    from tui.sim.kubeproxy import ensure_emulator

    sim = SimCluster(scenario=scenario)
    emulator = ensure_emulator(sim, DEMO_NODE)
    dns = SimDns(sim.store)
    sim.add_component(dns)
    try:
        sim.start()
    except (ValueError, OSError) as exc:
        raise _Cannot(f"the demo cluster did not start ({exc})") from None
    deadline = time.monotonic() + 15  # kube-proxy's pods start asynchronously; its table follows
    while time.monotonic() < deadline:
        if sim.call(emulator.proxy.running, DEMO_NODE) is not None:
            break
        time.sleep(0.05)
    table = sim.call(emulator.resync)
    return sim.api_client(), sim, table, "", DEMO_NODE, dns.address_map


def _fetch(api: ApiClient, namespace: str | None, all_pods: bool = False) -> Objects:
    """Services and EndpointSlices (paged, as raw JSON), Nodes and the kube-proxy ConfigMap, in parallel; every
    pod only with `all_pods` (else _with_pods reads those it needs: 50,000 pods are most of a big cluster's bytes).

    Raw GETs, not CoreV1Api: importing the generated API class (and with it every model) costs more than a second."""
    def views(resource: Resource, view: Callable[[Any], Any]) -> list:
        out: list = []
        Lister(api, resource, namespace).list(each=lambda key, obj: out.append(view(obj)))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        # the views are built as each page arrives, while the server sends the next
        lists = [pool.submit(views, SERVICES, ServiceView.from_api),
                 pool.submit(views, ENDPOINTSLICES, SliceView.from_api)]
        if all_pods:
            lists.append(pool.submit(lambda: list(Lister(api, PODS, namespace).list()[0].values())))
        nodes = pool.submit(_get_json, api, "/api/v1/nodes")
        try:
            cm = _get_json(api, "/api/v1/namespaces/kube-system/configmaps/kube-proxy")
        except ApiException as exc:
            if exc.status not in (403, 404):
                raise
            cm = None  # no kubeadm-style ConfigMap (or not allowed to read it): mode unknown
        services, slices = lists[0].result(), lists[1].result()
        pods: list | None = None
        if all_pods:
            try:
                pods = lists[2].result()
            except ApiException as exc:
                if exc.status != 403:
                    raise
                pods = None  # not cluster-wide: _with_pods reads the needed ones namespace by namespace
        return Objects(services, slices, pods, nodes.result().get("items") or [], cm)


PER_SERVICE_LISTS = 20  # up to this many Services of one namespace need pods: a label-selected list each


def _with_pods(api: ApiClient, states: list[ServiceState]) -> list[ServiceState]:
    """The states with the pods of the Services whose EndpointSlices leave a pod question open (join.pods_needed):
    a label-selected list per Service, or the namespace's pods when many of its Services need them, in parallel.
    A 403 leaves those Services' pods unknown (pods_error), and the join then claims no pod-based verdict."""
    needed = [s for s in states if pods_needed(s.service, s.slices)]
    by_ns: dict[str, list[ServiceState]] = {}
    for s in needed:
        by_ns.setdefault(s.service.namespace, []).append(s)
    requests: list[tuple[str, str | None, list[ServiceState]]] = []  # namespace, labelSelector, Services served
    for ns, group in sorted(by_ns.items()):
        if len(group) > PER_SERVICE_LISTS:
            requests.append((ns, None, group))
            continue
        by_selector: dict[str, list[ServiceState]] = {}
        for s in group:
            by_selector.setdefault(s.service.kubectl_selector(), []).append(s)
        requests += [(ns, selector, served) for selector, served in by_selector.items()]
    index, errors = PodIndex(), {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(lambda r=r: list(Lister(api, PODS, r[0], label_selector=r[1]).list()[0].values()))
                   for r in requests]
        for (ns, _, served), future in zip(requests, futures):
            try:
                pods = future.result()
            except ApiException as exc:
                if exc.status != 403:
                    raise
                sentence = explain_error(exc, None, ("list", "pods", ns))
                errors.update((s.service.key, sentence) for s in served)
                continue
            for obj in pods:
                index.put(PodView.from_api(obj))
    wanted = {s.service.key for s in needed}
    return [replace(s, pods_error=errors[s.service.key]) if s.service.key in errors else
            replace(s, pods=index.selected(s.service)) if s.service.key in wanted else s for s in states]


def _get_json(api: ApiClient, path: str) -> dict:
    resp = get(api, path, timeout=(5, 30))
    try:
        body = json.loads(resp.data)
    finally:
        resp.release_conn()
    return body if isinstance(body, dict) else {}


def _read_table(source: str) -> tuple[Any, str]:
    import asyncio  # here: only a read of this node's table runs an event loop

    from tui.ipvs.source import IPVSUnavailable, read_table

    try:
        return asyncio.run(read_table(source)), ""
    except IPVSUnavailable as exc:
        return None, str(exc)


def _numeric_unchecked(states: list[ServiceState]) -> int:
    """Services with a numeric targetPort whose pods were not read (their slices answered every other question):
    whether a container declares that port is then unknown, and the report says so rather than staying silent."""
    return sum(1 for s in states if s.pods is None and not s.pods_error and s.service.selector
               and s.service.type != "ExternalName" and any(isinstance(p.target_port, int) for p in s.service.ports))


def _print(args: argparse.Namespace, traces: list[Trace], ctx: NodeContext, pods_error: str = "",
           numeric_unchecked: int = 0) -> None:
    if args.output == "json":
        out = {
            "node": ctx.name, "proxyMode": ctx.proxy_mode, "ipvs": ctx.table.source if ctx.table else None,
            "ipvsError": ctx.table_error or None,
            "podsError": pods_error or None,
            "numericTargetPortsUnchecked": numeric_unchecked,
            "services": [{
                "namespace": t.service.namespace, "name": t.service.name, "worst": t.worst,
                "findings": [{"level": f.level, "code": f.code, "subject": f.subject, "message": f.message,
                              "cause": f.cause} for f in t.all_findings],
            } for t in traces],
        }
        print(json.dumps(out, indent=2))
        return
    where = f"node {ctx.name}" if ctx.name else "no node"
    ipvs = f"IPVS from {ctx.table.source}" if ctx.table is not None else f"IPVS not read: {ctx.table_error}"
    print(f"svcscope check: {where}, kube-proxy mode {ctx.proxy_mode or 'unknown'}, {ipvs}")
    if pods_error:
        print(f"pods not read: {pods_error}")
    errors = warnings = 0
    for t in traces:
        findings = sorted(t.all_findings, key=lambda f: ("error", "warning", "info").index(f.level))
        errors += sum(f.level == "error" for f in findings)
        warnings += sum(f.level == "warning" for f in findings)
        state = {"error": "FAIL", "warning": "WARN"}.get(t.worst or "", "OK")
        if args.quiet and state == "OK":
            continue
        print(f"{state:<5} {t.service.namespace}/{t.service.name}")
        for f in findings:
            print(f"      {f.line()}")
    print(f"{len(traces)} Service(s) checked: {errors} error(s), {warnings} warning(s)")
    if numeric_unchecked:
        print(f"numeric targetPorts of {numeric_unchecked} Service(s) not checked against their containers' "
              "declared ports (their EndpointSlices answered the rest; --all-pods checks them too)")
