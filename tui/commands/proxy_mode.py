"""`svcscope proxy-mode`: kube-proxy's configured and running mode per node, or a guarded switch without a screen.

Without --set/--scheduler/--strict-arp/--rollback it prints the status; with them it runs the same flow as the
kube-proxy screen (tui.kube.proxy_switch), printing each step as it happens. Exit codes:

    0  done (or nothing to do; the status is consistent)      5  the switch failed and was rolled back
    1  an error (cluster unreachable, bad config, failed step)  6  blocked by --read-only
    2  a usage error                                           7  not confirmed
    3  the preflight failed (override with --force)             8  status: configured and running differ, or a
    4  a concurrent edit of the ConfigMap (nothing written)        kube-proxy pod is not Ready
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from tui.cli import add_connection_args

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BLOCKED, EXIT_CONFLICT = 0, 1, 2, 3, 4
EXIT_ROLLED_BACK, EXIT_READ_ONLY, EXIT_DECLINED, EXIT_DRIFT = 5, 6, 7, 8
DEMO_NODE = "node1"  # the demo's "this node"


def _bool(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def register(subparsers: argparse._SubParsersAction) -> None:
    from tui.kube.proxy_config import MODES, SCHEDULERS

    p = subparsers.add_parser(
        "proxy-mode", help="show kube-proxy's mode per node, or switch it safely (preflight, backup, verify)",
        description="Show kube-proxy's configured and running mode per node; with --set, --scheduler or "
                    "--strict-arp, change it through a guarded flow: preflight, diff, confirm, backup, patch with "
                    "a resourceVersion precondition, rollout restart, verify, and roll back on failure.")
    add_connection_args(p)
    p.add_argument("--set", dest="mode", choices=MODES, help="switch kube-proxy to this mode")
    p.add_argument("--scheduler", choices=SCHEDULERS, help="set the IPVS scheduler (ipvs.scheduler)")
    p.add_argument("--strict-arp", type=_bool, metavar="true|false", help="set ipvs.strictARP")
    p.add_argument("--rollback", action="store_true", help="restore the newest kube-proxy-backup-* ConfigMap")
    p.add_argument("--yes", "-y", action="store_true", help="confirm without asking")
    p.add_argument("--force", action="store_true", help="switch even when a blocking preflight check fails")
    p.add_argument("--load-modules", action="store_true",
                   help="when root, load missing but available kernel modules (modprobe) before switching")
    p.add_argument("--no-rollback", action="store_true", help="on failure, do not roll back automatically")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds the rollout may go without a node finishing before it counts as failed (default: 300)")
    p.add_argument("--node", help="the node svcscope runs on (default: this host's name; --demo: node1)")
    p.add_argument("--metrics-address", help="this node's kube-proxy metrics URL (default: from metricsBindAddress)")
    p.add_argument("-o", "--output", choices=("json",), help="status as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    changing = args.mode is not None or args.scheduler is not None or args.strict_arp is not None
    if args.rollback and changing:
        print("svcscope proxy-mode: --rollback restores the last backup; it cannot be combined with --set, "
              "--scheduler or --strict-arp.", file=sys.stderr)
        return EXIT_USAGE
    return _with_cluster(args, lambda sw, ctx: _rollback(args, sw, ctx) if args.rollback else
                         _switch(args, sw, ctx) if changing else _status(args, sw))


# -- connecting ---------------------------------------------------------------------------------------------------

class _Context:
    def __init__(self) -> None:
        self.demo: Any = None  # the KubeProxyPods component in --demo
        self.emulator: Any = None  # --demo: the emulated IPVS table of "this node"
        self.sim: Any = None


def _with_cluster(args: argparse.Namespace, body: Callable[[Any, _Context], int]) -> int:
    import urllib3
    from kubernetes.client.exceptions import ApiException

    from tui.commands.oneshot import OneShotError, connection
    from tui.kube.client import explain_error
    from tui.kube.guard import Guard, ReadOnlyError
    from tui.kube.proxy_switch import ProxySwitch, SwitchError

    sim = None
    try:
        ctx = _Context()
        kw: dict[str, Any] = {}
        if args.demo:
            from tui.sim.cluster import SimCluster
            from tui.sim.kubeproxy_pods import ensure_kube_proxy

            from tui.sim.kubeproxy import ensure_emulator

            node = args.node or DEMO_NODE
            sim = SimCluster(scenario="tutorial")
            kp = ensure_kube_proxy(sim)
            ctx.emulator = ensure_emulator(sim, node)
            sim.start()
            api = sim.api_client()
            ctx.demo, ctx.sim = kp, sim
            kw.update(node_env=kp.node_env(node), this_node=node, locator=kp.locator(), poll_interval=0.2)
        else:
            api = connection(args).api_client
            if args.node:
                kw["this_node"] = args.node
        if args.metrics_address:
            addr = args.metrics_address if "://" in args.metrics_address else f"http://{args.metrics_address}"
            this, fallback = kw.get("this_node"), kw.get("locator")

            def locate(node: str, obj: dict[str, Any]) -> str | None:
                if this is None or node == this:
                    return addr
                return fallback(node, obj) if fallback else None

            kw["locator"] = locate
        sw = ProxySwitch(api, guard=Guard(read_only=args.read_only), on_event=_Printer(args).event,
                         rollout_timeout=args.timeout, **kw)
        return body(sw, ctx)
    except ReadOnlyError as exc:
        print(f"svcscope proxy-mode: {exc}; nothing was changed.", file=sys.stderr)
        return EXIT_READ_ONLY
    except SwitchError as exc:
        print(f"svcscope proxy-mode: {exc}.", file=sys.stderr)
    except OneShotError as exc:
        print(f"svcscope proxy-mode: {exc}", file=sys.stderr)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        print(f"svcscope proxy-mode: {explain_error(exc)}", file=sys.stderr)
    finally:
        if sim is not None:
            sim.stop()
    return EXIT_ERROR


# -- printing the flow --------------------------------------------------------------------------------------------

class _Printer:
    """Turns the flow's events into lines: one per step, per node change, per preflight check."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = args.output == "json"
        self.last_progress = ""

    def event(self, e: Any) -> None:
        from tui.kube import proxy_switch as ps

        if self.quiet:
            return
        if isinstance(e, ps.StepFinished):
            mark = "ok" if e.result.ok else "FAILED"
            print(f"[{e.step}] {mark}: {e.result.message}", flush=True)
        elif isinstance(e, ps.PreflightDone):
            for c in e.preflight.checks:
                fix = f"  -> fix: {c.fix_command}" if c.fix_command and not c.ok else ""
                print(f"  {c.status:4}  {c.name}: {c.detail}{fix}", flush=True)
        elif isinstance(e, ps.DiffReady):
            print(e.diff, end="" if e.diff.endswith("\n") else "\n", flush=True)
        elif isinstance(e, ps.NodeProgress):
            print(f"  {e.describe()}", flush=True)
        elif isinstance(e, ps.RolloutProgress):
            line = f"  rollout {e.done}/{e.total} node(s) done"
            if line != self.last_progress:
                self.last_progress = line
                print(line, flush=True)
        elif isinstance(e, ps.Notice):
            print(f"  note: {e.message}", flush=True)


def _confirm(args: argparse.Namespace, question: str) -> Callable[[Any, Any], bool]:
    def confirm(mutation: Any, dry_run: Any) -> bool:
        if args.yes:
            return True
        if not sys.stdin.isatty():
            print(f"svcscope proxy-mode: {question} needs a confirmation: add --yes to confirm without a terminal.",
                  file=sys.stderr)
            return False
        answer = input(f"{question}? [y/N] ").strip().lower()
        return answer in ("y", "yes")
    return confirm


# -- the three actions --------------------------------------------------------------------------------------------

def _status(args: argparse.Namespace, sw: Any) -> int:
    state = sw.read()
    nodes = sw.node_status(state)
    cfg = state.config
    unhealthy = [n for n in nodes if n.pod is None or not n.pod.ready or n.pod.crash_looping]
    drift = [n for n in nodes if n.differs(cfg)]
    if args.output == "json":
        print(json.dumps({
            "configured": {"mode": cfg.mode, "modeRaw": cfg.mode_raw, "scheduler": cfg.scheduler,
                           "strictARP": cfg.strict_arp, "syncPeriod": cfg.sync_period,
                           "minSyncPeriod": cfg.min_sync_period, "tcpTimeout": cfg.tcp_timeout,
                           "tcpFinTimeout": cfg.tcp_fin_timeout, "udpTimeout": cfg.udp_timeout,
                           "excludeCIDRs": list(cfg.exclude_cidrs), "metricsBindAddress": cfg.metrics_bind_address,
                           "resourceVersion": state.resource_version},
            "nodes": [{"node": n.node, "pod": n.pod.name if n.pod else "",
                       "ready": bool(n.pod and n.pod.ready), "restarts": n.pod.restarts if n.pod else 0,
                       "status": _pod_status(n.pod), "runningMode": n.running_mode,
                       "runningScheduler": n.running.scheduler if n.running else None,
                       "readError": n.running.error if n.running else "", "differs": n.differs(cfg)}
                      for n in nodes],
        }, indent=2))
    else:
        shown = "" if cfg.mode_raw else ' (mode "" means iptables)'
        print(f"kube-proxy: ConfigMap kube-system/kube-proxy, resourceVersion {state.resource_version}")
        print(f"configured: mode {cfg.mode}{shown}; ipvs scheduler {cfg.scheduler}, strictARP "
              f"{str(cfg.strict_arp).lower()}, syncPeriod {cfg.sync_period or '-'}, minSyncPeriod "
              f"{cfg.min_sync_period or '-'}, tcpTimeout {cfg.tcp_timeout or '-'}, tcpFinTimeout "
              f"{cfg.tcp_fin_timeout or '-'}, udpTimeout {cfg.udp_timeout or '-'}, excludeCIDRs "
              f"{','.join(cfg.exclude_cidrs) or '-'}; metrics {cfg.metrics_bind_address}")
        rows = [("NODE", "POD", "STATUS", "RESTARTS", "RUNNING", "")]
        for n in nodes:
            running = n.running_mode or "?"
            if n.running_mode == "ipvs" and n.running and n.running.scheduler is not None:
                running += f"/{n.running.scheduler or 'rr'}"
            note = f"differs from configured {cfg.mode}" if n.differs(cfg) else (
                n.running.error if n.running and n.running.error else "")
            rows.append((n.node, n.pod.name if n.pod else "<none>", _pod_status(n.pod),
                         str(n.pod.restarts) if n.pod else "-", running, ("! " + note) if note else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + ("  " + r[5] if r[5] else ""))
        if not any(n.running_mode for n in nodes):
            print("running: unknown on every node (svcscope reads /proxyMode on this node's kube-proxy metrics "
                  "address; use --node or --metrics-address if this host is a node)")
    return EXIT_DRIFT if (drift or unhealthy) else EXIT_OK


def _pod_status(pod: Any) -> str:
    if pod is None:
        return "<none>"
    if pod.deleting:
        return "Terminating"
    return pod.waiting_reason or (pod.phase or "Pending")


def _switch(args: argparse.Namespace, sw: Any, ctx: _Context) -> int:
    from tui.kube.guard import Guard
    from tui.kube.leftovers import LeftoverEnv, find_leftovers
    from tui.kube.preflight import load_module
    from tui.kube.proxy_config import ConfigChange

    change = ConfigChange(mode=args.mode, scheduler=args.scheduler, strict_arp=args.strict_arp)

    def loader(pre: Any) -> None:
        """The explicit "load module" step: only with --load-modules, each through the guard."""
        for m in pre.loadable_modules:
            if not args.load_modules:
                print(f"  note: {m} is not loaded; --load-modules loads it now (modprobe {m})", flush=True)
                continue
            res = load_module(m, Guard(read_only=args.read_only), sw.node_env)
            print(f"[load-module] {'ok' if res.ok else 'FAILED'}: {res.message}", flush=True)

    out = sw.run(change, _confirm(args, f"Apply {change.describe()} to ConfigMap kube-system/kube-proxy and "
                                        "restart kube-proxy"),
                 force=args.force, auto_rollback=not args.no_rollback, load_modules=loader)
    old_mode = out.old_mode
    print(f"svcscope proxy-mode: {out.message}", file=sys.stdout if out.ok else sys.stderr, flush=True)
    if out.ok and old_mode and args.mode and args.mode != old_mode:
        if ctx.emulator is not None:  # --demo: "this node" is simulated; its IPVS table is the emulated one
            table = ctx.sim.call(ctx.emulator.resync)
            env = LeftoverEnv(ipvs=lambda: table, no_tools="the simulated node has no iptables, nft or ipset")
        else:
            env = LeftoverEnv()
        report = find_leftovers(args.mode, env)
        for lo in report.leftovers:
            print(f"[leftovers] {lo.describe()}\n  clean up with: {lo.cleanup[0]}\n  or by hand: "
                  + "; ".join(lo.cleanup[1:]))
        if env.no_tools:
            tools = [why.split(":", 1)[0] for why in report.unchecked if why.endswith(env.no_tools)]
            others = [why for why in report.unchecked if not why.endswith(env.no_tools)]
            if tools:
                print(f"[leftovers] not checked: {', '.join(tools)} ({env.no_tools})")
        else:
            others = list(report.unchecked)
        for why in others:
            print(f"[leftovers] not checked: {why}")
        if report.clean and not report.unchecked:
            print("[leftovers] none: nothing of another mode is left on this node")
    if out.ok:
        return EXIT_OK
    if out.blocked:
        return EXIT_BLOCKED
    if out.declined:
        return EXIT_DECLINED
    if out.conflict:
        return EXIT_CONFLICT
    if out.rolled_back:
        return EXIT_ROLLED_BACK
    return EXIT_ERROR


def _rollback(args: argparse.Namespace, sw: Any, ctx: _Context) -> int:
    out = sw.rollback(confirm=_confirm(args, "Restore the backup into ConfigMap kube-system/kube-proxy and restart "
                                             "kube-proxy"))
    print(f"svcscope proxy-mode: {out.message}", file=sys.stdout if out.ok else sys.stderr, flush=True)
    if out.ok:
        return EXIT_OK
    return EXIT_DECLINED if out.declined else EXIT_ERROR
