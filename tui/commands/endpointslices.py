"""`svcscope endpointslices --once [SERVICE]`: the EndpointSlices pane's rows (one per endpoint), printed once.

`-o wide` is `kubectl get endpointslices` exactly (kubectl's table has no wide-only column); the default prints
one row per endpoint with its conditions, node, zone and target; `-o json` prints those rows as JSON. With a
SERVICE that has no endpoint, stderr says why (no selector, no matching pod, slices not created yet).
"""

from __future__ import annotations

import argparse
import json
import sys

from kubernetes import client as k8s

from tui.commands import oneshot
from tui.kube.cache import PODS, SERVICES, ENDPOINTSLICES, Lister
from tui.kube.models import SERVICE_NAME_LABEL, PodView, ServiceView, SliceView
from tui.kube.rows import (ENDPOINT_COLUMNS, KUBECTL_SLICE_COLUMNS, Column, columns, endpoint_json, endpoint_rows,
                           kubectl_slice_row, table, why_empty)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = oneshot.add_parser(
        subparsers, "endpointslices", run, aliases=("eps",), help="print EndpointSlice endpoints (with --once)",
        description="Print EndpointSlices endpoint by endpoint; -o wide matches `kubectl get endpointslices`.",
    )
    parser.add_argument("service", nargs="?", help="only the slices of this Service")


def run(args: argparse.Namespace) -> int:
    return oneshot.execute(args, "endpointslices", lambda api, ns: _print(args, api, ns))


def _print(args: argparse.Namespace, api: k8s.ApiClient, namespace: str | None) -> int:
    selector = f"{SERVICE_NAME_LABEL}={args.service}" if args.service else None
    items, _ = Lister(api, ENDPOINTSLICES, namespace, label_selector=selector).list()
    slices = [SliceView.from_api(obj) for obj in items.values()]
    all_ns = namespace is None
    if args.output == "wide":
        if not slices:
            oneshot.no_resources(namespace)
            return 0
        now = oneshot.now()
        sys.stdout.write(table(columns(KUBECTL_SLICE_COLUMNS, all_ns), (kubectl_slice_row(s, now) for s in slices)))
        return 0
    rows = endpoint_rows(slices)
    if args.output == "json":
        by_key = {s.key: s for s in slices}
        out = []
        for row in rows:
            view = by_key[(row.key[0], row.key[1])]
            out.append(endpoint_json(row, view.endpoints[int(row.key[2])], view))
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif rows:
        cols = ENDPOINT_COLUMNS if args.service else (Column("service", "SERVICE"), *ENDPOINT_COLUMNS)
        sys.stdout.write(table(columns(cols, all_ns), rows))
    if not rows:
        reason = _why(api, namespace, args.service, slices) if args.service else None
        if reason:
            print(reason, file=sys.stderr)
        elif args.output != "json":
            oneshot.no_resources(namespace)
    return 0


def _why(api: k8s.ApiClient, namespace: str | None, service: str, slices: list[SliceView]) -> str | None:
    """Why SERVICE has no endpoint, from the Service and the pods its selector matches."""
    found, _ = Lister(api, SERVICES, namespace, field_selector=f"metadata.name={service}").list()
    if not found:
        where = f"namespace {namespace}" if namespace else "any namespace"
        return f"There is no Service {service} in {where}."
    view = ServiceView.from_api(next(iter(found.values())))
    pods: list[PodView] = []
    if view.selector:
        selector = ",".join(f"{k}={v}" for k, v in view.selector)
        matched, _ = Lister(api, PODS, view.namespace, label_selector=selector).list()
        pods = [PodView.from_api(p) for p in matched.values()]
    return why_empty(view, slices, pods)
