"""What the scale benchmarks share: a simulated cluster of N Services in this process, kubectl's side of the
comparison, svcscope's side as a fresh process, and resident memory. Imported by the scripts beside it (their folder
is on sys.path when run as `python bench/NAME.py`); it puts this checkout first on sys.path."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if sys.path[:1] != [str(ROOT)]:
    sys.path.insert(0, str(ROOT))  # run the checkout these scripts are in


def rss_mb() -> tuple[float, float]:
    """This process's resident memory and its peak, in MB."""
    rss = hwm = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss / 1024, hwm / 1024


@contextlib.contextmanager
def big_cluster(services: int, pods: int) -> Iterator[tuple[Any, Path, Path]]:
    """The sim with `services` Services of `pods` pods each, running in this process: (sim, kubeconfig, a scratch
    folder), all gone on exit."""
    from tui.sim.cluster import SimCluster

    # a child that exits with its watches open is normal here, not an error worth a traceback per watch
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    t0 = time.time()
    sim = SimCluster(scenario="empty", services=services, pods_per_service=pods).start()
    print(f"sim with {services} Services x {pods} pods ready in {time.time() - t0:.1f} s", flush=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            yield sim, sim.write_kubeconfig(Path(tmp) / "kubeconfig"), Path(tmp)
    finally:
        sim.stop()


def run_kubectl(kubeconfig: Path, cache_dir: Path) -> tuple[float, int, int]:
    """`kubectl get svc -A -o json` then `kubectl get endpointslices -A -o json`: seconds, and the counts."""
    started = time.time()
    counts = []
    for resource in ("svc", "endpointslices"):
        out = subprocess.run(["kubectl", "get", resource, "-A", "-o", "json", "--kubeconfig", str(kubeconfig),
                              f"--cache-dir={cache_dir}"], capture_output=True, check=True).stdout
        counts.append(len(json.loads(out)["items"]))
    return time.time() - started, counts[0], counts[1]


def precompile() -> None:
    """Write the checkout's bytecode (__pycache__), as an installed svcscope has it (pip compiles on install). This
    environment sets PYTHONDONTWRITEBYTECODE, so a child would otherwise compile half of tui/ from source on every
    run: ~0.3 s of CPU measured as start-up that no user pays."""
    import compileall

    compileall.compile_dir(str(ROOT / "tui"), quiet=1)


def run_child(script: str, kubeconfig: Path, **env: str) -> dict:
    """`script --child KUBECONFIG STARTED` as a fresh process; its last line of output, as JSON. STARTED is the wall
    clock just before the spawn, so the child's times include the interpreter's start (not compiling: precompile)."""
    precompile()
    home = tempfile.mkdtemp(prefix="svcscope-bench-")  # no settings or remembered namespaces of this machine
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": home, "XDG_CONFIG_HOME": f"{home}/config",
           "XDG_STATE_HOME": f"{home}/state", **env}
    started = time.time()
    out = subprocess.run([sys.executable, script, "--child", str(kubeconfig), repr(started)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])
