"""`svcscope check -A` on a 10,000-Service cluster with its node's IPVS table, vs kubectl listing the same objects.

Why: issue 8 asks `svcscope check -A` on the 10,000-Service sim with its emulated IPVS table to take under 5 s and
within 2x of just listing the objects (`kubectl get svc,endpointslices -A -o json`) plus reading the table.

The simulated cluster (10,000 Services, 5 pods each) and node1's kube-proxy emulator run in this process; the
emulated table is saved once, as a pickle for svcscope and as `ipvsadm -Ln` text for the reference side. Each
round runs, as fresh processes: svcscope's side (this script with --child: the real `svcscope check -A --node
node1 -o json` through tui.cli.main, its table unpickled in the check's table thread where on a node netlink
would be read; imports, the lists of Services, EndpointSlices, Nodes and the kube-proxy ConfigMap, the pods the
slices leave open, every trace, the JSON out) and the reference side (`kubectl get svc,endpointslices -A -o json`
with a warm discovery cache, then reading the ipvsadm text, as `ipvsadm -Ln` would print it). Prints the best and
median of each, the ratio, where svcscope's time went (lists include building the views, page by page), and the
CPU time of each side next to the load average: the sim and two other helpers share 2 cores, so wall times move.

Run: python bench/check_all.py [SERVICES] [PODS_PER_SERVICE] [ROUNDS]

Measured here (2 shared cores, shared with the sim and two other helpers' tests; 10,002 Services, 50,000 pods,
node1's table of 12,004 virtual servers and 60,007 real servers; best / median):

                          before (ddbd0bd), 3 rounds    after (checkspeed), 3 rounds   after, 5 rounds
    load average          0.9-1.7                       0.8-2.0                        0.8-2.9
    svcscope check -A     17.05 / 19.99 s, CPU 14.5 s   3.82 / 5.12 s, CPU 3.6 s       3.97 / 5.79 s, CPU 3.5 s
    kubectl + table        9.46 / 10.21 s, CPU  9.2 s   11.15 / 12.09 s, CPU 9.2 s     13.75 / 16.97 s, CPU 10.3 s
    ratio (medians)       1.96                          0.42                           0.34
    svcscope's phases     imports 0.73, lists 6.75      imports 0.55, lists + views 1.26, pods 0.07 (none
                          (with 50,000 pods), views +   needed here), join 1.35, output 0.11 (best round)
                          join + output 7.6

    2,002 Services: before 5.67 / 5.81 s (CPU 5.1 s, ratio 2.24); after 1.09 / 1.09 s (CPU 1.05 s, ratio 0.49).

Re-run by the lead on main 8d010fe (precompiled bytecode, load 3.5 from a test run beside it, 3 rounds): svcscope
3.27 / 4.05 s (CPU 3.12 s), kubectl + table 9.86 / 10.64 s (CPU 9.40 s), ratio 0.381; phases imports 0.51, lists
1.29, views 0.06, pods 0.09, join 0.89, output 0.10 s.

So: within 2x of the reference with room to spare; under 5 s on a quiet machine (~3.5 s of CPU), above it when the
other helpers load the 2 cores (load ~3: the medians). The rest of the CPU: imports ~0.5 s, the lists' JSON ~0.45 s,
the views ~0.7 s, unpickling the table 0.2 s (netlink on a node), the join ~1 s.

What it took: no cyclic GC during a check (it rescanned the big one-shot heap again and again to free nothing:
half the time); the pods read only where the EndpointSlices leave a pod verdict open (tui.trace.join.pods_needed;
here none: the pod list was ~110 MB of the ~136 MB listed); Nodes and the ConfigMap by raw GETs, not CoreV1Api
(whose import pulls in every model, >1 s); the expected virtual servers per Service without a whole table or
ipvsadm's real-server sort (expected.service_virtual_servers); views built as pages arrive; dnspython and asyncio
imported only when used. Tried and dropped: the second half of the traces in a forked child (copy-on-write page
faults ate the gain on a loaded machine). Left: SliceView.from_api and ServiceView.from_api (~0.4 and ~0.3 s for
10,000) and the join's ~0.1 ms a Service, spread over many small steps.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run the checkout this script is in
NODE = "node1"


def child(kubeconfig: str, table_path: str, started: float) -> None:
    """svcscope's side, in its own process: `started` is the parent's wall clock just before it spawned us."""
    import contextlib
    import io

    from tui import cli
    from tui.commands import check

    phases = {"imports": time.time() - started}
    with open(table_path, "rb") as f:
        table_bytes = f.read()
    # this node's table as netlink would return it, parsed in the check's own thread (beside the lists)
    check._read_table = lambda source: (pickle.loads(table_bytes), "")

    def timed(name, fn):
        def wrapper(*a, **kw):
            t = time.time()
            try:
                return fn(*a, **kw)
            finally:
                phases[name] = phases.get(name, 0.0) + time.time() - t
        return wrapper

    # the phases: lists (Services, EndpointSlices, Nodes, ConfigMap), pods (those needed), the views, the join
    # (every trace), the output
    for name, attr in (("lists", "_fetch"), ("pods", "_with_pods"), ("views", "service_states"),
                       ("join", "trace_service"), ("output", "_print")):
        if hasattr(check, attr):  # (an older checkout, measured for comparison, may lack some)
            setattr(check, attr, timed(name, getattr(check, attr)))
    out = io.StringIO()
    t = time.time()
    with contextlib.redirect_stdout(out):
        code = cli.main(["check", "-A", "--kubeconfig", kubeconfig, "--node", NODE, "-o", "json"])
    phases["check"] = time.time() - t
    elapsed = time.time() - started
    cpu = time.process_time()  # this process's CPU since it started: imports, parsing, the join, the JSON
    report = json.loads(out.getvalue())
    worst = {}
    for s in report["services"]:
        worst[s["worst"] or "ok"] = worst.get(s["worst"] or "ok", 0) + 1
    print(json.dumps({"elapsed": elapsed, "cpu": cpu, "exit": code, "services": len(report["services"]), "worst": worst,
                      "phases": phases}))


def run_svcscope(kubeconfig: Path, table: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server_cpu = time.process_time()  # the sim serving the lists runs in this process
    started = time.time()
    out = subprocess.run([sys.executable, __file__, "--child", str(kubeconfig), str(table), repr(started)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"svcscope's side failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["server_cpu"] = time.process_time() - server_cpu
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_reference(kubeconfig: Path, cache_dir: str, ipvsadm_text: Path) -> tuple[float, float, float, int, int]:
    """(wall s, kubectl's CPU s, the sim's CPU s serving it, objects listed, lines of the table)."""
    cpu, server_cpu = _children_cpu(), time.process_time()
    started = time.time()
    out = subprocess.run(["kubectl", "get", "svc,endpointslices", "-A", "-o", "json", "--kubeconfig",
                          str(kubeconfig), f"--cache-dir={cache_dir}"], capture_output=True, check=True).stdout
    lines = ipvsadm_text.read_text().count("\n")  # reading the table as `ipvsadm -Ln` prints it
    elapsed = time.time() - started
    cpu, server_cpu = _children_cpu() - cpu, time.process_time() - server_cpu
    items = json.loads(out)["items"]
    return elapsed, cpu, server_cpu, len(items), lines


def main(services: int, pods: int, rounds: int) -> None:
    from tui.ipvs.ipvsadm import render
    from tui.sim.cluster import SimCluster
    from tui.sim.kubeproxy import ensure_emulator

    t0 = time.time()
    sim = SimCluster(scenario="empty", services=services, pods_per_service=pods)
    emulator = ensure_emulator(sim, NODE)
    sim.start()
    print(f"sim with {services} Services x {pods} pods ready in {time.time() - t0:.1f} s", flush=True)
    try:
        deadline = time.monotonic() + 120  # the kube-proxy pods start, then the table follows
        while time.monotonic() < deadline and sim.call(emulator.proxy.running, NODE) is None:
            time.sleep(0.2)
        table = sim.call(emulator.resync)
        print(f"node1's emulated table: {len(table.virtual_servers)} virtual servers, "
              f"{table.real_server_count} real servers", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = sim.write_kubeconfig(Path(tmp) / "kubeconfig")
            cache_dir = str(Path(tmp) / "kubectl-cache")
            table_path = Path(tmp) / "table.pickle"
            table_path.write_bytes(pickle.dumps(table))
            text_path = Path(tmp) / "ipvsadm-Ln.txt"
            text_path.write_text(render(table))
            run_reference(kubeconfig, cache_dir, text_path)  # warm kubectl's discovery cache, as an admin's is
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(run_svcscope(kubeconfig, table_path))
                elapsed, cpu, server_cpu, items, lines = run_reference(kubeconfig, cache_dir, text_path)
                theirs.append((elapsed, cpu, server_cpu))
    finally:
        sim.stop()
    mine = [r["elapsed"] for r in ours]
    best = min(ours, key=lambda r: r["elapsed"])
    ref_best = min(theirs)
    theirs_wall = [t[0] for t in theirs]
    print(f"{best['services']} Services checked (exit {best['exit']}; verdicts {best['worst']}); kubectl listed "
          f"{items} objects; the table is {lines} lines of ipvsadm -Ln; {rounds} rounds:")
    print(f"  svcscope check -A -o json                    best {min(mine):6.2f} s   median "
          f"{statistics.median(mine):6.2f} s")
    print(f"  kubectl get svc,endpointslices -A + table    best {min(theirs_wall):6.2f} s   median "
          f"{statistics.median(theirs_wall):6.2f} s")
    print(f"  ratio svcscope/reference (median)            "
          f"{statistics.median(mine) / statistics.median(theirs_wall):6.3f}")
    print("  svcscope's best round: " + ", ".join(f"{k} {v:.2f} s" for k, v in best["phases"].items()))
    print(f"  CPU of the best rounds: svcscope {best['cpu']:.2f} s (+ the sim serving it {best['server_cpu']:.2f} s), "
          f"kubectl {ref_best[1]:.2f} s (+ the sim {ref_best[2]:.2f} s); load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        args = [int(a) for a in sys.argv[1:4]]
        main(*(args + [10_000, 5, 3][len(args):]))
