"""`svcscope sim`: run the simulated cluster alone, in the foreground, with a kubeconfig for kubectl and svcscope."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

DEFAULT_KUBECONFIG = "~/.kube/svcscope-sim.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sim", help="run the simulated cluster in the foreground (for kubectl and svcscope)",
        description="Run the embedded simulated Kubernetes cluster until Ctrl-C, and write a kubeconfig for it.")
    p.add_argument("--scenario", default="tutorial",
                   help="a bundled scenario name (tutorial, empty, ...) or a YAML file (default: tutorial)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--kubeconfig-out", default=DEFAULT_KUBECONFIG,
                   help=f"where to write the kubeconfig (default: {DEFAULT_KUBECONFIG})")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a throwaway CA written into the kubeconfig (kubectl then sends the token)")
    p.add_argument("--services", type=int, help="generate a large cluster with this many Services")
    p.add_argument("--pods-per-service", type=int, default=3, help="pods behind each generated Service (default: 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.sim.cluster import SimCluster  # imported late: `svcscope --help` must stay fast

    scenario = args.scenario
    if args.services is not None and args.scenario == "tutorial":
        scenario = "empty"  # a generated cluster replaces the tutorial unless a scenario is named explicitly
    cluster = SimCluster(scenario=scenario, port=args.port, host=args.host, services=args.services,
                         pods_per_service=args.pods_per_service if args.services is not None else None,
                         tls=args.tls)
    try:
        cluster.start()
    except ValueError as exc:
        print(f"svcscope sim: cannot load the scenario: {exc}.", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"svcscope sim: {exc}.", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"svcscope sim: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
              "try another --port, or --port 0 for any free one.", file=sys.stderr)
        return 1
    try:
        path = cluster.write_kubeconfig(Path(args.kubeconfig_out).expanduser())
    except OSError as exc:
        cluster.stop()
        print(f"svcscope sim: cannot write the kubeconfig {args.kubeconfig_out} ({exc.strerror or exc}); "
              "choose another path with --kubeconfig-out.", file=sys.stderr)
        return 1
    print(f"svcscope sim: scenario {scenario} serving at {cluster.url}; kubeconfig written to {path}", flush=True)
    print(f"Use it with: KUBECONFIG={path} kubectl get svc -A   or   svcscope --kubeconfig {path}"
          "   (Ctrl-C stops it)", flush=True)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    old = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        cluster.stop()
    print("svcscope sim: stopped.", flush=True)
    return 0
