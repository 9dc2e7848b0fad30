"""The real-kernel tests: one qemu boot per session runs tests/kernel/guest_batch.py, the tests assert on its
results. These tests are never skipped: when the guest cannot boot or run, they fail and say why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KVM = ROOT / "tests" / "kernel" / "kvm"
KVM_DIR = Path(os.environ.get("KVM_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
               / "kvm-ipvs")


@dataclass
class GuestRun:
    out: Path
    results: dict

    def text(self, key: str) -> str:
        return (self.out / self.results[key]).read_text()

    def file(self, name: str) -> str:
        return (self.out / name).read_text()


def kernel_config_hz() -> int | None:
    for cfg in (KVM_DIR / "full" / "boot").glob("config-*"):
        for line in cfg.read_text().splitlines():
            if line.startswith("CONFIG_HZ="):
                return int(line.split("=")[1])
    return None


def write_scenario(path: Path) -> None:
    """The tutorial scenario's objects, settled by the simulated cluster's controllers here (starting the cluster
    under TCG would cost minutes), for the guest's check-breaks step."""
    from tests.conftest import wait_for
    from tui.sim.cluster import SimCluster
    from tui.sim.resources import BY_KIND

    sim = SimCluster(scenario="tutorial").start()
    try:
        def settled() -> dict | None:
            with sim.store.lock:
                objs = {k: sim.store.list(BY_KIND[kind])[0] for k, kind in (
                    ("services", "Service"), ("slices", "EndpointSlice"), ("pods", "Pod"), ("nodes", "Node"))}
                objs["kube_proxy_configmap"] = sim.store.get(BY_KIND["ConfigMap"], "kube-system", "kube-proxy")
            web = [s for s in objs["slices"] if s["metadata"].get("labels", {}).get(
                "kubernetes.io/service-name") == "service-clusterip"]
            ready = [e for s in web for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")]
            return objs if len(ready) == 3 else None

        objs = wait_for(settled, timeout=60, message="the tutorial scenario never settled")
    finally:
        sim.stop()
    path.write_text(json.dumps(objs))


@pytest.fixture(scope="session")
def guest(tmp_path_factory: pytest.TempPathFactory) -> GuestRun:
    if not (KVM_DIR / "initramfs.gz").exists():
        setup = subprocess.run(["bash", str(KVM / "setup.sh")], capture_output=True, text=True)
        if setup.returncode != 0:
            pytest.fail(f"tests/kernel/kvm/setup.sh failed, so no kernel can boot: {setup.stderr[-2000:]}")
    keep = os.environ.get("SVCSCOPE_KVM_OUT")  # a directory to keep the guest's files in, for a look afterwards
    out = Path(keep) if keep else tmp_path_factory.mktemp("kvmout")
    out.mkdir(parents=True, exist_ok=True)
    if keep and os.environ.get("SVCSCOPE_KVM_REUSE") == "1" and (out / "batch" / "results.json").exists():
        # developing the host-side assertions: look at the last boot's files again instead of booting
        return GuestRun(out / "batch", json.loads((out / "batch" / "results.json").read_text()))
    write_scenario(out / "scenario.json")
    purelib = sysconfig.get_paths()["purelib"]
    cmd = (f"cd {ROOT} && PYTHONPATH={ROOT}:{purelib} {sys.executable} -S tests/kernel/guest_batch.py /kvmout/batch")
    env = dict(os.environ, KVM_OUT=str(out), KVM_TIMEOUT=os.environ.get("KVM_TIMEOUT", "1800"))
    run = subprocess.run([str(KVM / "run.sh"), cmd], capture_output=True, text=True, env=env)
    results_file = out / "batch" / "results.json"
    if run.returncode != 0 or not results_file.exists():
        pytest.fail(f"the qemu guest did not complete the batch (exit {run.returncode}): "
                    f"{(run.stdout + run.stderr)[-3000:]}")
    results = json.loads(results_file.read_text())
    if results["errors"]:
        pytest.fail("the guest batch hit errors:\n" + "\n".join(results["errors"]))
    return GuestRun(out / "batch", results)
