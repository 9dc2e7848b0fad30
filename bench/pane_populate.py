"""From process start to a fully populated Services PANE (the real app, headless) vs kubectl listing the same.

Why: issue 3 asks that svcscope show a cluster of 10,000 Services and 50,000 endpoints no slower than `kubectl get
svc -A -o json` plus `kubectl get endpointslices -A -o json` on the same cluster (ratio <= 1.0), under 2 s, in under
300 MB resident. bench/start_to_populated.py measures the caches alone; this one measures what the user waits for:
the app built by the CLI's factory, started with all namespaces, until both caches' first lists are applied and
the Services pane holds every Service with its ENDPOINTS count and has painted a frame. "Populated" means issue 3's
columns: the DIAGNOSIS column (the trace feed, which watches every pod) starts only after that frame and shows
"..." per Service until its diagnosis arrives; the child then waits for every diagnosis and reports the time and
the resident memory at that point too ("diagnosed"): the memory budget holds with the column filled in.

The simulated cluster runs in this process; each round runs, as fresh processes, svcscope's side (this script with
--child: what `svcscope -A` does, through the CLI's own parser, prepare() and build_app(), with the app headless
at 160x48 until populated) and kubectl's two commands one after the other (with a warm discovery cache, as an
admin's). Prints the best and median of each, the ratio, svcscope's resident memory and CPU time once populated,
and where its time went (cli: parsing and the CLI's imports; prepare: connect, the probe, the lists started, Textual
imported while they run; app_start: the app mounted; lists: what was left of them; paint: the frame showing them).

Run: python bench/pane_populate.py [SERVICES] [PODS_PER_SERVICE] [ROUNDS]

Measured 2026-11-27 (10,002 Services, 50,003 endpoints, 50,503 pods; 3 rounds each):
                                      before (ddbd0bd, load 0.4)   7cdc73f (load ~2)   now (load 2.1-2.4)
    start -> populated, best/median   3.78 / 3.83 s                 2.56 / 2.81 s       2.41 / 2.47 s
    kubectl, median; ratio            11.94 s; 0.321                18.36 s; 0.153      13.15 s; 0.187
    CPU at populated (*)              3.91 s                        2.42 s              2.37 s
    RSS populated                     318 MB                        213 MB              213 MB
    every DIAGNOSIS in, best/median   16.6 s (one run)              14.0 / 14.1 s       10.3 / 12.3 s
    RSS diagnosed (peak)              785 MB                        311 MB              292 MB (299)
(*) read just after the first frame, so it includes the trace feed's start (~0.3 s: its engine and DNS imports).
Run again by the lead on main 82675a9 (load 3-4 from a test run beside it): best 1.77 s, median 1.97 s, kubectl
median 12.18 s, ratio 0.162, CPU 1.67 s, 211 MB populated, every DIAGNOSIS in 9.6 / 10.6 s, 291 MB diagnosed
(peak 298). So the 2 s target is met in that run's median but at the edge, not with a margin: on an idle machine the wall time cannot go below the CPU time, ~2.1 s. Where it goes
(py-spy, best round): interpreter 0.1-0.2 s, the kubernetes client's import 0.2-0.3 s (its package __init__ loads
config, requests_oauthlib, pydantic via api_client: unavoidable while we use its ApiClient), Textual's import
~0.4 s overlapping the lists, decoding the lists' 26 MB 0.6-0.75 s, the first frames and rows ~0.4 s.
What changed: bytecode (the benchmarks now write it first, scale.precompile: this environment sets
PYTHONDONTWRITEBYTECODE, and each child compiled half of tui/, ~0.3 s); the trace feed started at mount, competing with the first lists (its engine, a CoreV1Api import
~1 s CPU, and 50,000 pods decoded during the first frames); its pod cache kept every pod's JSON twice over
(cache + PodView.raw: ~350 MB). Now the feed starts after the first frame; its pods are PodView.lean views
(tui.kube.cache.LEAN_PODS: ~1 KB a pod instead of ~7 KB); the flush thread no longer holds its last batch;
repeated strings of the Services' and slices' JSON are shared (tui.kube.models.share_strings, in the feed's
thread); the engine builds SliceViews per trace instead of keeping 10,000 Services' worth (~14 MB).

Measured before the DIAGNOSIS column existed (three runs of 3 rounds; 2 cores shared with five other
developers' test suites, load average 5-8, so kubectl needed 20-40 s where it needs 10-12 s at load 1):
svcscope best 2.6-6.4 s, median 5.5-6.8 s; kubectl median 29.7-39.6 s; ratio 0.17-0.18; 208 MB resident (was
230). Wall time on this load says little; svcscope's CPU time says more: 2.0-2.25 s (was 3.8-4.7 s). At load ~1
single rounds took 3.0-3.8 s, and on an idle core the wall time cannot go below that CPU time: 2 s is at the edge.

Where the CPU time went before, and what changed:
- the cyclic GC rescanned the growing heap while ~1.5 million decoded objects arrived: 1.0-2.0 s. It now runs
  rarely until the first lists are in (tui/gcpolicy.py), then they are frozen: 0.05 s;
- the start-up probe and the namespace list imported the generated CoreV1Api (0.3-0.6 s): raw GETs now;
- the CLI imported every command (pyroute2, dnspython, the trace...): now only the chosen one (`--version`
  1.9 s -> 0.17 s; `services --once --demo` 4.4 s -> 2.3 s);
- the lists waited for Textual's import and the first frames: the caches now start right after the probe and the
  main screen adopts them (tui/kube/prefetch.py);
- each pane row computed sort keys and labels it never used: 0.23 s -> 0.07 s for 10,000 rows.
What remains (CPU, quiet machine): imports ~0.7 s (the kubernetes client with pydantic 0.2-0.3 s, Textual 0.25 s,
svcscope 0.15 s), decoding the two lists' 26 MB of JSON 0.4-0.5 s, 10,000 ServiceViews 0.2 s, Textual's first
frames ~0.3 s, rows, ClusterState and HTTP ~0.2 s.
"""

from __future__ import annotations

import json
import os
import sys
import time

from scale import big_cluster, rss_mb, run_child, run_kubectl  # it also puts this checkout first on sys.path


def child(kubeconfig: str, started: float) -> None:
    """svcscope's side, in its own process: `started` is the parent's wall clock just before it spawned us."""
    import asyncio
    from contextlib import ExitStack

    t_import = time.time()
    from tui.cli import build_parser
    from tui.commands.tui import build_app, prepare

    argv = ["-A", "--kubeconfig", kubeconfig]
    args = build_parser(argv).parse_args(argv)
    t_imported = time.time()
    from tui import gcpolicy

    gcpolicy.relax()  # as run_tui does
    stack = ExitStack()
    session = prepare(args, stack)  # what `svcscope -A` does: settings, connection, probe, the lists start
    t_probed = time.time()
    app = build_app(session)  # imports Textual and the app
    from tui.screens.main import MainScreen

    t_app = time.time()
    marks: dict[str, float] = {}

    async def run() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            marks["mounted"] = time.time()
            main = app.screen_stack[0]
            assert isinstance(main, MainScreen)
            while not main.is_synced():
                await asyncio.sleep(0.005)
            marks["synced"] = time.time()
            while main.shown_at is None:  # the frame showing them (the screen notes it after that refresh)
                await asyncio.sleep(0.005)
            marks["painted"] = main.shown_at
            marks["rows"] = main.services.total_count
            marks["endpoints"] = sum(main.state.endpoint_counts(k)[1] for k in main.state.services)
            marks["rss"], marks["peak"] = rss_mb()
            marks["cpu"] = sum(os.times()[:2])  # user + system: what the 2 cores gave svcscope
            if os.environ.get("DIAG_WAIT", "1") != "0":
                deadline = time.time() + 300
                while not main.is_settled() and time.time() < deadline:
                    await asyncio.sleep(0.02)
                marks["diagnosed"] = time.time() if main.is_settled() else float("nan")
                await pilot.pause()
                marks["rss_diag"], marks["peak_diag"] = rss_mb()
                marks["cpu_diag"] = sum(os.times()[:2])

    asyncio.run(run())
    stack.close()
    print(json.dumps({
        "elapsed": marks["painted"] - started, "services": marks["rows"], "endpoints": marks["endpoints"],
        "rss_mb": marks["rss"], "peak_mb": marks["peak"],
        "spawn": t_import - started, "cli": t_imported - t_import, "prepare": t_probed - t_imported,
        "app_import": t_app - t_probed, "app_start": marks["mounted"] - t_app,
        "lists": marks["synced"] - marks["mounted"], "paint": marks["painted"] - marks["synced"], "cpu": marks["cpu"],
        "diagnosed": marks.get("diagnosed", float("nan")) - started, "rss_diag": marks.get("rss_diag"),
        "peak_diag": marks.get("peak_diag"), "cpu_diag": marks.get("cpu_diag"),
    }))


def main(services: int, pods: int, rounds: int) -> None:
    import statistics  # here, not at the top: the child (svcscope's side) must not pay for it

    with big_cluster(services, pods) as (_, kubeconfig, tmp):
        cache_dir = tmp / "kubectl-cache"
        run_kubectl(kubeconfig, cache_dir)  # warm kubectl's discovery cache, as an admin's is
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(run_child(__file__, kubeconfig, TEXTUAL_ANIMATIONS="none"))
            elapsed, nsvc, nslices = run_kubectl(kubeconfig, cache_dir)
            theirs.append(elapsed)
    mine = [r["elapsed"] for r in ours]
    last = min(ours, key=lambda r: r["elapsed"])
    print(f"{last['services']} Services, {last['endpoints']} endpoints in {nslices} EndpointSlices "
          f"(kubectl saw {nsvc} Services), {rounds} rounds:")
    print(f"  svcscope start -> populated Services pane   best {min(mine):6.2f} s   median "
          f"{statistics.median(mine):6.2f} s")
    print(f"  kubectl get svc + endpointslices -A -o json best {min(theirs):6.2f} s   median "
          f"{statistics.median(theirs):6.2f} s")
    print(f"  ratio svcscope/kubectl (median)             {statistics.median(mine) / statistics.median(theirs):6.3f}")
    print(f"  svcscope resident memory populated          {last['rss_mb']:6.0f} MB (peak {last['peak_mb']:.0f} MB)")
    print(f"  svcscope CPU time (user+system), best round  {last['cpu']:6.2f} s")
    diag = [r["diagnosed"] for r in ours if r.get("rss_diag") is not None]
    if diag:
        print(f"  every DIAGNOSIS in (start -> last)           best {min(diag):6.2f} s   median "
              f"{statistics.median(diag):6.2f} s")
        print(f"  svcscope resident memory diagnosed          {max(r['rss_diag'] for r in ours):6.0f} MB (worst round; "
              f"peak {max(r['peak_diag'] for r in ours):.0f} MB); CPU by then {last['cpu_diag']:.2f} s (best round)")
    print(f"  load average at the end                      {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("  svcscope's best round: " + ", ".join(
        f"{k} {last[k]:.2f} s" for k in ("spawn", "cli", "prepare", "app_import", "app_start", "lists", "paint")))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], float(sys.argv[3]))
    else:
        args = [int(a) for a in sys.argv[1:4]]
        main(*(args + [10_000, 5, 3][len(args):]))
