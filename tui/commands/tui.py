"""`svcscope` with no subcommand: connect (or start the demo cluster), then run the TUI.

Everything that can fail before the first frame fails here, as one sentence on stderr and exit status 1: no
half-drawn screen, no traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui import gcpolicy
from tui.config import ConfigError, Settings, StateStore, config_dir, state_dir
from tui.kube.client import Connection, KubeConnectionError, check_access, connect
from tui.kube.prefetch import Prefetch

if TYPE_CHECKING:
    from tui.app import AppOptions, SvcscopeApp

DEMO_CONTEXT = "svcscope-demo"
DEMO_NAMESPACE = "dev"
DEMO_SCENARIO = "tutorial"
DEMO_NODE = "node1"


class StartupError(Exception):
    """A start-up problem that is not about the cluster connection, as one sentence."""


@dataclass
class Session:
    """Everything the app needs, prepared before the first frame; resources to release sit on the ExitStack."""

    connection: Connection
    options: "AppOptions"
    state: StateStore
    dns_address_map: dict[str, tuple[str, int]] | None = None  # the demo's DNS (tui.sim.dns_server.SimDns)
    ipvs_reader: Any = None  # the demo's IPVS table (tui.ipvs.readers.EmulatorReader); None: this node's kernel
    proxy_site: Any = None  # the demo's "this node" for the kube-proxy screen (tui.kube.node_site.ProxySite)
    prefetch: Prefetch | None = None  # the scope's caches, listing while Textual loads (tui.kube.prefetch)


def prepare(args: argparse.Namespace, stack: ExitStack) -> Session:
    """Settings, the demo cluster if asked for, the connection and its start-up probe. Raises the one-sentence
    errors (KubeConnectionError, ConfigError, StartupError); whatever it started is undone by `stack`."""
    settings = Settings.load(config_dir() / "config.yaml")
    state = StateStore(state_dir())
    kubeconfig, context = args.kubeconfig, args.context
    dns_map: dict[str, tuple[str, int]] = {}
    demo_parts: dict[str, Any] = {}
    sites: list[Any] = []
    if args.demo:
        kubeconfig, context = start_demo(stack, args, dns_map, demo_parts, sites)
    conn = connect(kubeconfig, context, args.namespace, args.all_namespaces, fallback_context=state.last_context)
    stack.callback(conn.close)
    remembered = apply_remembered(conn, state, args)  # same client, another scope
    try:
        check_access(remembered)
        conn = remembered
    except KubeConnectionError as exc:
        # a remembered namespace that is now forbidden must not lock the user out: use the context's own
        if remembered is conn or exc.kind != "forbidden":
            raise
        check_access(conn)
    prefetch = Prefetch(conn).start()  # the lists need not wait for Textual's imports and the first frames
    stack.callback(prefetch.stop)  # the app adopts them; if it never does, they stop here
    from tui.app import AppOptions  # Textual only once there is something to show

    options = AppOptions(
        read_only=bool(args.read_only or settings.read_only),
        demo=bool(args.demo),
        no_color=settings.no_color,
        theme=settings.theme,
    )
    return Session(conn, options, state, dns_map or None, demo_parts.get("ipvs_reader"),
                   sites[0] if sites else None, prefetch)


def build_app(session: Session) -> "SvcscopeApp":
    """The app for a prepared session: the CLI's, and bench/pane_populate.py's the same way."""
    from tui.app import create_app

    return create_app(session.connection, options=session.options, state=session.state,
                      dns_address_map=session.dns_address_map, ipvs_reader=session.ipvs_reader,
                      proxy_site=session.proxy_site, prefetch=session.prefetch)


def run_tui(args: argparse.Namespace) -> int:
    gcpolicy.relax()  # until the main screen has its first lists (tui.gcpolicy)
    with ExitStack() as stack:
        try:
            session = prepare(args, stack)
        except (KubeConnectionError, ConfigError, StartupError) as exc:
            print(f"svcscope: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

        app = build_app(session)
        stack.callback(lambda: app.connection.close())  # after a `:ctx` the app holds another client
        app.run()
        return app.return_code or 0
    return 0  # pragma: no cover - ExitStack does not swallow exceptions


def apply_remembered(conn: Connection, state: StateStore, args: argparse.Namespace) -> Connection:
    """No -n/-A on the command line: the namespace last used with this context, as k9s does."""
    if args.namespace or args.all_namespaces:
        return conn
    remembered = state.namespace_for(conn.context)
    if remembered.all_namespaces:
        return conn.with_namespace(None, True)
    if remembered.namespace:
        return conn.with_namespace(remembered.namespace)
    return conn


def start_demo(stack: ExitStack, args: argparse.Namespace,
               dns_map: dict[str, tuple[str, int]] | None = None,
               parts: dict[str, Any] | None = None,
               proxy_sites: list[Any] | None = None) -> tuple[str, str]:
    """Start the simulated cluster in-process and write a kubeconfig for it; both undone when the stack closes.
    Its cluster DNS runs too; `dns_map` receives where its CoreDNS pod and kube-dns addresses answer on loopback.
    Its kube-proxy emulator keeps the first node's IPVS table; `parts["ipvs_reader"]` receives a reader of it.

    The app then connects through that kubeconfig exactly as it would to a real cluster.
    """
    if args.kubeconfig or args.context:
        raise StartupError("--demo runs its own simulated cluster: drop --kubeconfig and --context, or drop --demo.")
    try:
        from tui.sim.cluster import SimCluster
    except ImportError as exc:
        raise StartupError(f"The simulated cluster is not available in this build ({exc}).") from None
    from tui.sim.dns_server import SimDns

    from tui.sim.kubeproxy import ensure_emulator

    sim: Any = SimCluster(scenario=DEMO_SCENARIO)
    sim_dns = SimDns(sim.store)
    sim.add_component(sim_dns)
    from tui.ipvs.readers import EmulatorReader
    from tui.sim.kubeproxy import ensure_emulator

    emulator = ensure_emulator(sim)
    if proxy_sites is not None:  # kube-proxy's emulation: node1 is "this node" for the kube-proxy screen
        from tui.sim.demo_site import demo_proxy_site

        proxy_sites.append(demo_proxy_site(sim))
    try:
        sim.start()
    except Exception as exc:  # noqa: BLE001 - a failed start is one sentence, not a traceback
        raise StartupError(f"The simulated cluster did not start ({exc}): try again, or report a bug.") from None
    stack.callback(sim.stop)
    if dns_map is not None:
        dns_map.update(sim_dns.address_map)
    if parts is not None:
        parts["ipvs_reader"] = lambda: EmulatorReader(emulator)
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="svcscope-demo-")))
    path = directory / "kubeconfig"
    sim.write_kubeconfig(path, context=DEMO_CONTEXT, namespace=DEMO_NAMESPACE)
    return str(path), DEMO_CONTEXT
