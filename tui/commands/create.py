"""`svcscope create service clusterip|nodeport|loadbalancer|externalname|headless NAME`: kubectl's flags, the
wizard's model (tui.kube.service_spec) and its guarded path (tui.kube.service_ops).

`--dry-run=client` prints the manifest without connecting (what `kubectl create service ... --dry-run=client`
prints, less its creationTimestamp and empty status); `--dry-run=server` asks the API server to validate, default
and allocate without creating; without --dry-run the Service is created. `--read-only` refuses everything that
would reach the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tui.cli import add_connection_args
from tui.commands import oneshot
from tui.kube.guard import Guard, ReadOnlyError
from tui.kube.service_spec import KUBECTL_WORDS, KubectlArgsError, ServiceSpec, from_kubectl_args, to_yaml


def register(subparsers: argparse._SubParsersAction) -> None:
    create = subparsers.add_parser("create", help="create a Service (kubectl's `create service` flags)",
                                   description="Create a resource; only Services for now.")
    kinds = create.add_subparsers(dest="create_kind", metavar="KIND", required=True)
    p = kinds.add_parser(
        "service", aliases=["svc"], help="create a Service of any type",
        description="Create a Service as `kubectl create service` does (label and selector app=NAME, ports named "
                    "PORT-TARGET), checked by the API server; `headless` is clusterip with --clusterip=None.")
    add_connection_args(p)
    p.add_argument("type", choices=tuple(KUBECTL_WORDS), metavar="TYPE",
                   help="clusterip, nodeport, loadbalancer, externalname or headless")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--tcp", action="append", default=[], metavar="PORT[:TARGET]",
                   help="a port and its target port (a number or a container port name); repeat or comma-separate")
    p.add_argument("--node-port", type=int, default=0, metavar="N",
                   help="the node port of every port (nodeport, loadbalancer; default: allocated by the server)")
    p.add_argument("--clusterip", default="", metavar="IP", help="the ClusterIP, or None for a headless Service")
    p.add_argument("--external-name", default="", metavar="HOST", help="the DNS name an externalname Service aliases")
    p.add_argument("--selector", default=None, metavar="K=V,...", help="the pod selector (default: app=NAME)")
    p.add_argument("--session-affinity", default="", choices=("None", "ClientIP"), help="sessionAffinity")
    p.add_argument("--timeout", type=int, default=None, metavar="S",
                   help="ClientIP affinity timeout in seconds (1-86400; default: the server's 10800)")
    p.add_argument("--dry-run", default="none", choices=("none", "client", "server"),
                   help="client: print what would be sent; server: the server's answer, nothing created")
    p.add_argument("-o", "--output", choices=("yaml", "json", "name"), help="print the object instead of a line")
    p.set_defaults(func=run)


def build(args: argparse.Namespace) -> ServiceSpec:
    return from_kubectl_args(args.type, args.name, args.tcp, node_port=args.node_port, cluster_ip=args.clusterip,
                             external_name=args.external_name, selector=args.selector,
                             session_affinity=args.session_affinity, timeout=args.timeout,
                             namespace=args.namespace or "")


def run(args: argparse.Namespace) -> int:
    try:
        spec = build(args)
    except KubectlArgsError as exc:
        print(f"svcscope create service: {exc}", file=sys.stderr)
        return 2
    if args.dry_run == "client":
        _print(args, spec.manifest(), f"service/{spec.name} created (dry run)")
        return 0
    guard = Guard(read_only=args.read_only)
    try:
        guard.check(f"creating Service {spec.name}")
    except ReadOnlyError as exc:
        print(f"svcscope: {exc}; --dry-run=client prints the manifest without sending it.", file=sys.stderr)
        return 1
    return oneshot.execute(args, "services", lambda api, ns: _send(args, spec, api, ns or "default", guard))


def _send(args: argparse.Namespace, spec: ServiceSpec, api: Any, namespace: str, guard: Guard) -> int:
    from tui.kube import service_ops

    dry = args.dry_run == "server"
    outcome = service_ops.create(api, spec, namespace, dry, guard)
    if not outcome.ok:
        print(f"svcscope: {outcome.message}", file=sys.stderr)
        return 1
    _print(args, outcome.obj or {}, f"service/{spec.name} created{' (server dry run)' if dry else ''}")
    return 0


def _print(args: argparse.Namespace, obj: dict[str, Any], line: str) -> None:
    if args.output == "yaml":
        sys.stdout.write(to_yaml(obj))
    elif args.output == "json":
        sys.stdout.write(json.dumps(obj, indent=4) + "\n")
    elif args.output == "name":
        print(f"service/{obj.get('metadata', {}).get('name', '')}")
    else:
        print(line)
