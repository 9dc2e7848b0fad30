"""`svcscope check` as a cron job runs it: output and exit codes, against the demo cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tui", "check", "--demo", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def test_healthy_demo_passes_and_names_what_it_compared() -> None:
    res = check("-A", "-o", "json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["node"] == "node1" and out["proxyMode"] == "ipvs" and out["ipvs"] == "emulated"
    by_name = {s["name"]: s for s in out["services"]}
    assert {"service-clusterip", "service-headliness", "service-nodeport", "kube-dns", "kubernetes"} <= set(by_name)
    assert by_name["service-headliness"]["findings"][0]["code"] == "not-proxied"
    assert all(s["worst"] in (None, "info") for s in out["services"])


def test_unknown_service_cannot_be_checked_exit_2() -> None:
    res = check("no-such-service")
    assert res.returncode == 2
    assert res.stderr.strip() == "svcscope check: no Service named no-such-service in namespace dev"


def test_broken_services_fail_the_check_with_exit_1() -> None:
    res = check("--scenario", "broken", "-n", "broken")
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert "FAIL  broken/no-pods" in lines
    assert any("selector app=ghost matches no pod in namespace broken" in line for line in lines)
    assert "OK    broken/selectorless" in lines
    assert lines[-1].endswith("error(s), 1 warning(s)") or "error(s)" in lines[-1]
