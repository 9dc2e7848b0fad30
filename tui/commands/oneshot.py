"""What the one-shot listing commands share: connecting (or running the demo cluster), and failing in one sentence.

`execute(args, body)` gives `body` an ApiClient and the namespace to show (None for all namespaces), and turns
every failure into one line on stderr and exit code 1; a command never prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Callable

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tui import gcpolicy
from tui.kube import client as kube_client
from tui.kube.client import Connection, KubeConnectionError, explain_error

Body = Callable[[k8s.ApiClient, "str | None"], int]


class OneShotError(Exception):
    """A failure already put in words for the user."""


def add_parser(subparsers: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int], *,
               help: str, description: str, aliases: tuple[str, ...] = (),
               outputs: tuple[str, ...] | None = ("wide", "json")) -> argparse.ArgumentParser:
    """A one-shot command's parser: the connection flags and, with `outputs`, `--once` and `-o` (`run` then only
    runs with --once). Without `outputs` the command prints without --once and adds its own -o."""
    from tui.cli import add_connection_args

    parser = subparsers.add_parser(name, aliases=list(aliases), help=help, description=description)
    add_connection_args(parser)
    if outputs is None:
        parser.set_defaults(func=run)
        return parser
    parser.add_argument("--once", action="store_true", help="print the rows once and exit (required for now)")
    parser.add_argument("-o", "--output", choices=outputs,
                        help="wide: exactly kubectl's `-o wide` table; json: the rows as JSON "
                             "(default: svcscope's own columns)")
    parser.set_defaults(func=lambda args: run(args) if _require_once(args, name) else 2)
    return parser


def _require_once(args: argparse.Namespace, command: str) -> bool:
    if args.once:
        return True
    print(f"svcscope {command}: add --once to print the rows and exit; the live view is `svcscope` "
          f"without a subcommand.", file=sys.stderr)
    return False


def now() -> datetime:
    return datetime.now(timezone.utc)


def no_resources(namespace: str | None) -> None:
    """kubectl's words, on stderr, when a list is empty."""
    print(f"No resources found in {namespace} namespace." if namespace else "No resources found", file=sys.stderr)


def execute(args: argparse.Namespace, resource: str, body: Body) -> int:
    """Run `body`; `resource` (the plural listed) names what failed in the error sentence."""
    gcpolicy.relax()  # a short-lived process that keeps nearly all it lists (tui.gcpolicy)
    sim = None
    conn: Connection | None = None
    namespace: str | None = None if args.all_namespaces else args.namespace
    try:
        if getattr(args, "demo", False):
            from tui.sim.cluster import SimCluster

            try:
                sim = SimCluster(scenario="tutorial").start()
            except Exception as exc:  # noqa: BLE001 - whatever stops the demo, the user gets one sentence
                raise OneShotError(f"the demo cluster did not start ({exc}); try `svcscope sim` to see why.") from None
            api = sim.api_client()
            namespace = None if args.all_namespaces else (args.namespace or "default")
        else:
            conn = connection(args)
            api = conn.api_client
            namespace = None if conn.all_namespaces else conn.namespace
        return body(api, namespace)
    except OneShotError as exc:
        print(f"svcscope: {exc}", file=sys.stderr)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        print(f"svcscope: {explain_error(exc, conn, ('list', resource, namespace))}", file=sys.stderr)
    finally:
        if sim is not None:
            sim.stop()
    return 1


def connection(args: argparse.Namespace) -> Connection:
    """tui.kube.client's connection for the command's flags; its failures as OneShotError (one sentence)."""
    try:
        return kube_client.connect(args.kubeconfig, args.context, args.namespace, args.all_namespaces)
    except KubeConnectionError as exc:
        raise OneShotError(str(exc)) from None


def connect(args: argparse.Namespace) -> tuple[k8s.ApiClient, str | None]:
    """The client and the namespace to show (-n, else the context's, else `default`; None with -A)."""
    conn = connection(args)
    return conn.api_client, None if conn.all_namespaces else conn.namespace
