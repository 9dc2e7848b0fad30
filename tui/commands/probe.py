"""`svcscope probe SERVICE|ADDR:PORT`: the tutorial's curl-again-and-again, from this node, judged.

Opens N TCP connections (or HTTP GETs, reading the first line of the body) to a Service's ClusterIP (or NodePort on
this node with --to nodeport, or any ADDR:PORT), says which real server took each one from the IPVS connection
table and how long it took, counts per real server, and judges the spread: round robin spreads them, ClientIP
affinity pins them to one pod. Exit 0: the spread is as promised (or could only be partly seen); 1: the verdict is
an error (nothing answered, affinity broken); 2: the probe could not start.

With --demo there is nothing real to probe (the simulated cluster's addresses lead nowhere and its IPVS table is
emulated): a Service name says so and exits 2, rather than pretending with simulated scheduling; ADDR:PORT still
probes that address for real.
"""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli import add_connection_args
from tui.trace.probe import DEFAULT_COUNT, DEFAULT_TIMEOUT, ProbeResult

EXIT_OK, EXIT_FAILED, EXIT_CANNOT = 0, 1, 2
MAX_COUNT = 10000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe", help="open N connections to a Service from this node and show which pod took each (IPVS)",
        description="Connect to a Service's ClusterIP (or NodePort, or ADDR:PORT) again and again from this node; "
                    "show which real server took each connection (IPVS connection table), how long it took, the "
                    "share per real server, and whether round robin spreads them or ClientIP affinity pins them. "
                    "Exit 0: as promised; 1: the verdict is an error; 2: could not probe.",
    )
    add_connection_args(parser)
    parser.add_argument("target", metavar="SERVICE", help="a Service (NAME or NAMESPACE/NAME) or ADDR:PORT")
    parser.add_argument("--port", help="the Service port, by number or name (default: its first TCP port)")
    parser.add_argument("--count", "-c", type=int, default=DEFAULT_COUNT, help="connections to open (default 10)")
    parser.add_argument("--http", action="store_true",
                        help="send GET / on each connection and show the status and the first line of the body")
    parser.add_argument("--to", choices=("clusterip", "nodeport"), default="clusterip",
                        help="probe the ClusterIP (default) or the NodePort on this node's IP")
    parser.add_argument("--node", help="the Node this machine is, for --to nodeport (default: named like this host)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per connection (default 2)")
    parser.add_argument("--source", choices=("auto", "netlink", "proc"), default="auto",
                        help="where to read this node's IPVS virtual server from (default: netlink, else /proc)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.trace.probe import run_probe
    from tui.trace.probe_setup import DEMO_SENTENCE, ProbeSetupError, parse_address, prepare

    if not 1 <= args.count <= MAX_COUNT:
        print(f"svcscope probe: --count must be between 1 and {MAX_COUNT}", file=sys.stderr)
        return EXIT_CANNOT
    if not args.timeout > 0:
        print("svcscope probe: --timeout must be above 0 seconds", file=sys.stderr)
        return EXIT_CANNOT
    by_address = parse_address(args.target) is not None
    if args.demo and not by_address:
        print(f"svcscope probe: {DEMO_SENTENCE}.", file=sys.stderr)
        return EXIT_CANNOT
    try:
        api, namespace = None, "default"
        if not by_address:
            from tui.commands import oneshot

            conn = oneshot.connection(args)
            api, namespace = conn.api_client, conn.namespace or "default"
        prepared = prepare(api, namespace, args.target, args.port, args.to, args.node, args.source)
    except ProbeSetupError as exc:
        print(f"svcscope probe: {exc}.", file=sys.stderr)
        return EXIT_CANNOT
    except Exception as exc:  # noqa: BLE001 - API and connection failures: one sentence, never a traceback
        return _cannot(exc, args)
    try:
        result = run_probe(prepared.target, args.count, http=args.http, timeout=args.timeout,
                           virtual_server=prepared.virtual_server, pods=prepared.pods)
    except KeyboardInterrupt:
        return 130
    if args.output == "json":
        out = result.to_dict()
        out["ipvsNote"] = prepared.ipvs_note or None
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(text_lines(result, prepared.ipvs_note)))
    return EXIT_FAILED if result.verdict.level == "error" else EXIT_OK


def _cannot(exc: Exception, args: argparse.Namespace) -> int:
    import urllib3
    from kubernetes.client.exceptions import ApiException

    from tui.commands.oneshot import OneShotError
    from tui.kube.client import explain_error

    if isinstance(exc, OneShotError):
        print(f"svcscope: {exc}", file=sys.stderr)
    elif isinstance(exc, (ApiException, urllib3.exceptions.HTTPError, OSError)):
        print(f"svcscope: {explain_error(exc, None, ('get', 'services', args.namespace))}", file=sys.stderr)
    else:
        raise exc
    return EXIT_CANNOT


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def text_lines(result: ProbeResult, ipvs_note: str = "") -> list[str]:
    """The text form: what was probed, one line per attempt, one per real server, the verdict."""
    t = result.target
    how = "HTTP GET /" if result.http else "TCP connect"
    lines = [f"probe {t.title}: {len(result.attempts)} x {how}"]
    vs = result.virtual_server
    if vs is not None:
        weighted = sum(rs.weight > 0 for rs in vs.real_servers)
        persist = f", persistent {vs.timeout} s" if vs.persistent else ""
        lines.append(f"IPVS: {vs.endpoint} {vs.scheduler}{persist}, {len(vs.real_servers)} real server(s), "
                     f"{weighted} with weight above 0")
    elif ipvs_note:
        lines.append(f"IPVS: not read: {ipvs_note}")
    if t.affinity:
        lines.append(f"Service: sessionAffinity {t.affinity}")
    if result.table_note:
        lines.append(f"Connections: {result.table_note}")
    lines.append("")
    lines.append(f"{'#':>4}  {'REAL SERVER':<22} {'POD':<30} {'TIME':>10}  {'SRC PORT':>8}  ANSWER")
    for a in result.attempts:
        answer = (f"{a.status}  {a.body}".strip() if a.status else "connected") if a.ok else f"FAILED: {a.error}"
        lines.append(f"{a.index:>4}  {a.real_server or '?':<22} {a.pod or '':<30} {ms(a.seconds):>10}  "
                     f"{a.local_port or '':>8}  {answer}")
    if result.shares:
        lines.append("")
        lines.append(f"{'REAL SERVER':<22} {'POD':<30} {'COUNT':>5} {'SHARE':>6} {'MEAN':>10}  ANSWERS")
        for s in result.shares:
            lines.append(f"{s.real_server:<22} {s.pod:<30} {s.count:>5} {s.share:>6.0%} {ms(s.mean_seconds):>10}  "
                         f"{' | '.join(s.bodies)}")
    lines.append("")
    label = {"ok": "OK", "info": "NOTE", "warning": "WARN", "error": "FAIL"}[result.verdict.level]
    lines.append(f"{label:<5} {result.verdict.text}")
    return lines
