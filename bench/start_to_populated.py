"""From process start to a full ClusterState (every Service and EndpointSlice) vs kubectl listing the same, side by side.

Why: issue 3 asks svcscope to be populated no slower than `kubectl get svc -A -o json` plus `kubectl get
endpointslices -A -o json` on the same cluster (ratio <= 1.0), under 2 s, in under 300 MB resident.

The simulated cluster (10,000 Services, 5 pods each: 50,000 endpoints) runs in this process. Each round runs, as
fresh processes: svcscope's side (this script with --child: import, connect with the kubeconfig, start the services
and endpointslices caches, apply both reset batches to a ClusterState) and kubectl's two commands one after the
other (with a warm discovery cache, as an admin's). Prints the best and median of each, the ratio, and svcscope's
resident memory once populated.
Run: python bench/start_to_populated.py [SERVICES] [PODS_PER_SERVICE] [ROUNDS]

Measured here (2 shared cores at load average ~8 from other work, so absolute times are several times an idle
machine's): 10,002 Services / 50,003 endpoints, median of 3: svcscope 13.1 s, kubectl 60.5 s, ratio 0.22;
184 MB resident. Of svcscope's time, 1.75 s are imports and the rest is the sim serving the two lists.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

from scale import big_cluster, rss_mb, run_child, run_kubectl  # it also puts this checkout first on sys.path


def child(kubeconfig: str, started: float) -> None:
    """svcscope's side, in its own process: `started` is the parent's wall clock just before it spawned us."""
    from kubernetes import config

    from tui.kube.cache import ENDPOINTSLICES, SERVICES, Batch, ListWatchCache
    from tui.kube.state import ClusterState, slice_counts

    imported = time.time() - started
    api = config.new_client_from_config(config_file=kubeconfig)
    state = ClusterState()
    lock = threading.Lock()
    done = threading.Event()
    phases: dict[str, float] = {"imports": imported}

    def on_batch(batch: Batch) -> None:
        with lock:
            phases[f"{batch.resource} listed"] = time.time() - started
            state.apply(batch)
            phases[f"{batch.resource} applied"] = time.time() - started
            if state.synced >= {"services", "endpointslices"}:
                done.set()

    caches = [ListWatchCache(api, res, None, on_batch=on_batch).start() for res in (SERVICES, ENDPOINTSLICES)]
    if not done.wait(120):
        raise SystemExit("the caches did not sync in 120 s")
    elapsed = time.time() - started
    endpoints = sum(slice_counts(o)[2] for o in state.slice_objects.values())
    rss, hwm = rss_mb()
    for cache in caches:
        cache.stop(join=None)
    print(json.dumps({"elapsed": elapsed, "services": len(state.services), "endpoints": endpoints, "phases": phases,
                      "rss_mb": rss, "peak_mb": hwm}))


def main(services: int, pods: int, rounds: int) -> None:
    with big_cluster(services, pods) as (_, kubeconfig, tmp):
        cache_dir = tmp / "kubectl-cache"
        run_kubectl(kubeconfig, cache_dir)  # warm kubectl's discovery cache, as an admin's is
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(run_child(__file__, kubeconfig))
            elapsed, nsvc, nslices = run_kubectl(kubeconfig, cache_dir)
            theirs.append(elapsed)
    mine = [r["elapsed"] for r in ours]
    last = ours[-1]
    print(f"{last['services']} Services, {last['endpoints']} endpoints in {nslices} EndpointSlices "
          f"(kubectl saw {nsvc} Services), {rounds} rounds:")
    print(f"  svcscope start -> full ClusterState   best {min(mine):6.2f} s   median {statistics.median(mine):6.2f} s")
    print(f"  kubectl get svc + endpointslices -A   best {min(theirs):6.2f} s   median "
          f"{statistics.median(theirs):6.2f} s")
    print(f"  ratio svcscope/kubectl (median)       {statistics.median(mine) / statistics.median(theirs):6.3f}")
    print(f"  svcscope resident memory populated    {last['rss_mb']:6.0f} MB (peak {last['peak_mb']:.0f} MB)")
    print("  svcscope's last round, seconds from start: " +
          ", ".join(f"{k} {v:.2f}" for k, v in sorted(last["phases"].items(), key=lambda kv: kv[1])))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], float(sys.argv[3]))
    else:
        args = [int(a) for a in sys.argv[1:4]]
        main(*(args + [10_000, 5, 3][len(args):]))
