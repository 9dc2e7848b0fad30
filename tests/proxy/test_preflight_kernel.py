"""The preflight and the load-module step on a real Linux kernel with loadable IPVS modules (qemu, tests/kernel/kvm).

This machine's own kernel has no loadable modules at all, so only a booted Debian kernel shows the everyday case:
modules on disk but not loaded, `modprobe` loading them, /proc/modules listing them. One boot runs every check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "kernel" / "kvm" / "run.sh"

GUEST = textwrap.dedent("""
    import json, subprocess
    from pathlib import Path
    from tui.kube.guard import Guard, ReadOnlyError
    from tui.kube.preflight import ModuleTable, NodeEnv, load_module, run_preflight

    env = NodeEnv(root_sys=Path("/run/sysfs"))  # see the shell lines below: sysfs is mounted there
    def proc_modules():
        out = subprocess.run(["cat", "/proc/modules"], capture_output=True, text=True, check=True).stdout
        return sorted(line.split()[0] for line in out.splitlines() if line.strip())
    result = {"cat_before": proc_modules(), "loaded_before": sorted(ModuleTable(env).loaded)}
    table = ModuleTable(env)
    result["state_before"] = {m: table.state(m)[0].value for m in ("ip_vs", "ip_vs_wrr", "nf_tables", "overlay")}
    pre = run_preflight("ipvs", scheduler="wrr", env=env)
    result["pre_before"] = {c.name: [c.status, c.module, c.fix_command] for c in pre.checks}
    try:
        load_module("ip_vs_wrr", Guard(read_only=True), env)
        result["read_only"] = "not blocked"
    except ReadOnlyError as exc:
        result["read_only"] = str(exc)
    res = load_module("ip_vs_wrr", Guard(), env)
    result["load"] = [res.ok, res.message]
    result["cat_after"] = proc_modules()
    result["state_after"] = {m: ModuleTable(env).state(m)[0].value for m in ("ip_vs", "ip_vs_wrr")}
    pre = run_preflight("ipvs", scheduler="wrr", env=env)
    result["pre_after"] = {c.name: c.status for c in pre.checks}
    result["blocked_after"] = pre.blocked
    result["nft"] = {c.name: c.status for c in run_preflight("nftables", env=env).checks}
    bad = load_module("ip_vs_nosuch", Guard(), env)
    result["bad"] = [bad.ok, bad.message]
    print("RESULT " + json.dumps(result))
""")


@pytest.mark.kernel
def test_preflight_and_modprobe_on_a_real_kernel(tmp_path: Path) -> None:
    out = tmp_path / "kvmout"  # the guest's /kvmout (its /tmp is empty)
    out.mkdir()
    (out / "guest.py").write_text(GUEST)
    # The guest sees this machine's / read-only; its /proc and /sys arrive as one 9p inode, so proc is mounted again
    # on /proc and sysfs beside it (the preflight takes its paths as parameters for exactly this).
    commands = (f"mount -t proc proc /proc; mkdir -p /run/sysfs; mount -t sysfs sys /run/sysfs; "
                f"cd {REPO} && PYTHONPATH={REPO} {sys.executable} /kvmout/guest.py")
    proc = subprocess.run([str(RUN), commands], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "KVM_OUT": str(out)})
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, proc.stdout + proc.stderr
    r = json.loads(line[len("RESULT "):])

    # What the preflight calls loaded is exactly what `cat /proc/modules` shows, before and after.
    assert r["loaded_before"] == r["cat_before"] and "overlay" in r["cat_before"]
    assert r["state_before"]["overlay"] == "loaded"
    assert "ip_vs_wrr" not in r["cat_before"] and r["state_before"]["ip_vs_wrr"] == "not loaded"
    wrr = r["pre_before"]["kernel module ip_vs_wrr"]
    assert wrr == ["warn", "ip_vs_wrr", "modprobe ip_vs_wrr"]
    assert r["read_only"] == "loading kernel module ip_vs_wrr is blocked: svcscope was started with --read-only"
    assert r["load"] == [True, "loaded kernel module ip_vs_wrr"]
    assert "ip_vs_wrr" in r["cat_after"] and "ip_vs" in r["cat_after"]  # modprobe pulled in its dependency
    assert r["state_after"] == {"ip_vs": "loaded", "ip_vs_wrr": "loaded"}
    assert r["pre_after"]["kernel module ip_vs"] == "pass" and r["pre_after"]["kernel module ip_vs_wrr"] == "pass"
    assert r["blocked_after"] is False
    assert r["nft"]["kernel version"] == "pass"
    assert r["bad"][0] is False and r["bad"][1].startswith("modprobe ip_vs_nosuch failed: ")
