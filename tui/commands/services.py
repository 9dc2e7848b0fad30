"""`svcscope services --once`: the Services pane's rows, printed once.

`-o wide` is `kubectl get svc -o wide` exactly (same columns, widths, order, AGE); the default adds what kubectl
does not show (ENDPOINTS ready/total from the EndpointSlices, AFFINITY); `-o json` prints those rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from kubernetes import client as k8s

from tui.commands import oneshot
from tui.kube.cache import ENDPOINTSLICES, SERVICES, Batch, Lister
from tui.kube.models import ServiceView
from tui.kube.rows import KUBECTL_SERVICE_COLUMNS, SERVICE_COLUMNS, columns, service_json, service_row, table
from tui.kube.state import ClusterState


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = oneshot.add_parser(
        subparsers, "services", run, aliases=("svc",), help="print the Services (with --once)",
        description="Print the Services as the Services pane shows them; -o wide matches `kubectl get svc -o wide`.",
    )
    parser.add_argument("-l", "--selector", help="only Services whose labels match (kubectl's label selector)")


def run(args: argparse.Namespace) -> int:
    return oneshot.execute(args, "services", lambda api, ns: _print(args, api, ns))


def _print(args: argparse.Namespace, api: k8s.ApiClient, namespace: str | None) -> int:
    items, _ = Lister(api, SERVICES, namespace, label_selector=args.selector).list()
    views = [ServiceView.from_api(obj) for obj in items.values()]  # the server's order, as kubectl prints
    now = oneshot.now()
    if args.output == "wide":
        if not views:
            oneshot.no_resources(namespace)
            return 0
        cols = columns(KUBECTL_SERVICE_COLUMNS, namespace is None, wide=True)
        sys.stdout.write(table(cols, (service_row(v, (0, 0), now) for v in views)))
        return 0
    state = ClusterState()
    slices, rv = Lister(api, ENDPOINTSLICES, namespace).list()
    state.apply(Batch("endpointslices", slices, {}, {}, reset=True, snapshot=slices, resource_version=rv))
    if args.output == "json":
        rows = [service_json(v, state.endpoint_counts(v.key), now) for v in views]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not views:
        oneshot.no_resources(namespace)
        return 0
    cols = columns(SERVICE_COLUMNS, namespace is None)
    sys.stdout.write(table(cols, (service_row(v, state.endpoint_counts(v.key), now) for v in views)))
    return 0
