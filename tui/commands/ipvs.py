"""`svcscope ipvs --once`: this node's IPVS table, printed once.

`-o ipvsadm` is `ipvsadm -Ln --exact` byte for byte (`--stats`: `ipvsadm -Ln --stats --exact`); the default shows
svcscope's rows (a virtual server, its real servers beneath); `-o wide` adds persistent connections, thresholds and
the traffic counters; `-o json` prints the whole model. Which source was read, and what it lacks, goes to stderr so
stdout stays exactly the table. `--demo` prints the table the kube-proxy emulator keeps for a node of the simulated
cluster instead of reading this machine's kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from tui.commands import oneshot
from tui.ipvs import ipvsadm, rows
from tui.ipvs.model import IPVSTable
from tui.ipvs.source import SOURCES, IPVSUnavailable, read_table
from tui.kube.rows import format_table

SOURCE_NAMES = {"netlink": "netlink", "proc": "/proc/net/ip_vs", "emulated": "the kube-proxy emulator (simulated)"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = oneshot.add_parser(
        subparsers, "ipvs", run, outputs=("wide", "json", "ipvsadm"), help="print this node's IPVS table (with --once)",
        description="Print this node's IPVS table as the IPVS pane shows it; -o ipvsadm matches "
                    "`ipvsadm -Ln --exact` byte for byte.",
    )
    parser.add_argument("--stats", action="store_true",
                        help="with -o ipvsadm: `ipvsadm -Ln --stats --exact`; otherwise the same as -o wide")
    parser.add_argument("--source", choices=SOURCES, default="auto",
                        help="netlink (needs CAP_NET_ADMIN), proc (/proc/net/ip_vs), or auto: netlink, else proc")
    parser.add_argument("--node", help="with --demo: the simulated node whose table to show (default: the first)")


def run(args: argparse.Namespace) -> int:
    try:
        table = _demo_table(args) if args.demo else asyncio.run(read_table(args.source))
    except IPVSUnavailable as exc:
        print(f"svcscope: {exc}", file=sys.stderr)
        return 1
    except oneshot.OneShotError as exc:
        print(f"svcscope: {exc}", file=sys.stderr)
        return 1
    try:
        sys.stdout.write(render(table, args.output, args.stats))
    except ipvsadm.NoStatistics as exc:
        print(f"svcscope: {exc}.", file=sys.stderr)
        return 1
    _explain(table)
    return 0


def render(table: IPVSTable, output: str | None, stats: bool = False) -> str:
    if output == "ipvsadm":
        return ipvsadm.render(table, stats=stats, exact=True)
    if output == "json":
        return json.dumps(table.to_dict(), indent=2) + "\n"
    wide = output == "wide" or stats
    return format_table(rows.header(wide), rows.rows(table, wide))


def _explain(table: IPVSTable) -> None:
    """Where the table came from and what it cannot show, on stderr (stdout stays the table)."""
    lines = [f"source: {SOURCE_NAMES.get(table.source, table.source)}"]
    if table.note:
        lines.append(table.note)
    if table.lacks:
        lines.append("this source lacks: " + "; ".join(table.lacks))
    if table.source == "proc" and table.hz:
        lines.append(f"persistence timeouts converted from jiffies with HZ={table.hz} ({table.hz_source})")
    if table.source != "netlink":
        print("svcscope: " + "\n  ".join(lines), file=sys.stderr)


def _demo_table(args: argparse.Namespace) -> IPVSTable:
    from tui.sim.kubeproxy import demo_table

    try:
        return demo_table(args.node)
    except ValueError as exc:  # the bundled scenario is missing or broken
        raise oneshot.OneShotError(f"the simulated cluster could not start: {exc}") from None
