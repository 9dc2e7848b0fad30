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

from tui.kube.cache import connection_message, status_message

Body = Callable[[k8s.ApiClient, "str | None"], int]


class OneShotError(Exception):
    """A failure already put in words for the user."""


def add_once_args(parser: argparse.ArgumentParser, outputs: tuple[str, ...] = ("wide", "json")) -> None:
    parser.add_argument("--once", action="store_true", help="print the rows once and exit (required for now)")
    parser.add_argument("-o", "--output", choices=outputs,
                        help="wide: exactly kubectl's `-o wide` table; json: the rows as JSON "
                             "(default: svcscope's own columns)")


def require_once(args: argparse.Namespace, command: str) -> bool:
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


def execute(args: argparse.Namespace, body: Body) -> int:
    sim = None
    api: k8s.ApiClient | None = None
    try:
        if getattr(args, "demo", False):
            from tui.sim.cluster import SimCluster

            sim = SimCluster(scenario="tutorial").start()
            api = sim.api_client()
            namespace = None if args.all_namespaces else (args.namespace or "default")
        else:
            api, namespace = connect(args)
        return body(api, namespace)
    except OneShotError as exc:
        print(f"svcscope: {exc}", file=sys.stderr)
    except ApiException as exc:
        if exc.status in (401, 403):
            print(f"svcscope: the API server refused: {status_message(exc)}; check the kubeconfig's user and "
                  f"its RBAC permissions.", file=sys.stderr)
        else:
            print(f"svcscope: the API server answered {exc.status}: {status_message(exc)}.", file=sys.stderr)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        host = api.configuration.host if api is not None else "the API server"
        print(f"svcscope: cannot reach {host}: {connection_message(exc)}; check that the cluster is up and the "
              f"kubeconfig's server address, or try --demo.", file=sys.stderr)
    finally:
        if sim is not None:
            sim.stop()
    return 1


def connect(args: argparse.Namespace) -> tuple[k8s.ApiClient, str | None]:
    """The kubeconfig's client and namespace: -n, else the context's namespace, else `default` (as kubectl)."""
    from kubernetes import config

    try:
        contexts, current = config.list_kube_config_contexts(config_file=args.kubeconfig)
        name = args.context or (current or {}).get("name")
        ctx = next((c for c in contexts if c.get("name") == name), None)
        if ctx is None:
            raise OneShotError(f"the kubeconfig has no context {name!r}; see `kubectl config get-contexts`.")
        namespace = args.namespace or (ctx.get("context") or {}).get("namespace") or "default"
        api = config.new_client_from_config(config_file=args.kubeconfig, context=name)
    except config.ConfigException as exc:
        raise OneShotError(f"cannot use the kubeconfig: {exc}; pass --kubeconfig or try --demo.") from None
    return api, None if args.all_namespaces else namespace
