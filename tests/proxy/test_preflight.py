"""Preflight: the node checks against prepared node trees and against this real machine, and the cluster warnings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.proxy.node_tree import add_tool, make_node
from tui.kube.guard import Guard, ReadOnlyError
from tui.kube.preflight import (
    ModuleState,
    ModuleTable,
    NodeEnv,
    cluster_checks,
    load_module,
    node_checks,
    run_preflight,
)

IPVS_READY = dict(loaded=["ip_vs", "ip_vs_rr", "nf_conntrack", "ip_set", "ip_set_hash_ip", "ip_set_hash_ipport",
                          "ip_set_hash_ipportip", "ip_set_hash_ipportnet", "ip_set_hash_net", "ip_set_bitmap_port"],
                  tools={"ipset": "7.17"})


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def test_ipvs_ready_node_passes(tmp_path: Path) -> None:
    env = make_node(tmp_path, **IPVS_READY)
    pre = run_preflight("ipvs", env=env)
    assert not pre.blocked and not pre.warnings, [c for c in pre.checks if not c.ok]
    checks = by_name(pre.checks)
    assert checks["kernel module ip_vs"].detail == "loaded (listed in /proc/modules)"
    assert checks["ipset binary"].detail == f"ipset 7.17 at {tmp_path}/usr/sbin/ipset (>= 6.0)"
    assert pre.summary() == "preflight for ipvs passed"


def test_missing_ip_vs_blocks_with_the_fix(tmp_path: Path) -> None:
    env = make_node(tmp_path, loaded=["nf_conntrack", "ip_set"], tools={"ipset": "7.17"})
    pre = run_preflight("ipvs", env=env)
    assert pre.blocked
    assert [c.name for c in pre.failed] == ["kernel module ip_vs", "kernel module ip_vs_rr"]
    ip_vs = by_name(pre.checks)["kernel module ip_vs"]
    assert ip_vs.status == "fail"
    assert ip_vs.detail.startswith("not loaded, not built in, and no module file under /lib/modules/6.1.0-18-amd64")
    assert ip_vs.fix_command == "install the kernel modules package for 6.1.0-18-amd64, then modprobe ip_vs"
    assert "override with --force" in pre.summary()


def test_builtin_modules_pass(tmp_path: Path) -> None:
    env = make_node(tmp_path, builtin=["ip_vs", "ip_vs_rr", "nf_conntrack", "ip_set"], tools={"ipset": "7.1"})
    checks = by_name(node_checks("ipvs", env))
    assert checks["kernel module ip_vs"].ok
    assert checks["kernel module ip_vs"].detail == "built in (listed in /lib/modules/6.1.0-18-amd64/modules.builtin)"
    assert checks["kernel module ip_set"].ok


def test_module_file_on_disk_is_a_warning_with_a_load_step(tmp_path: Path) -> None:
    env = make_node(tmp_path, loaded=["nf_conntrack", "ip_set", "ip_vs"], files=["ip_vs_wrr", "ip_vs_rr"],
                    tools={"ipset": "7.17"})
    pre = run_preflight("ipvs", scheduler="wrr", env=env)
    wrr = by_name(pre.checks)["kernel module ip_vs_wrr"]
    assert (wrr.status, wrr.fix_command, wrr.module) == ("warn", "modprobe ip_vs_wrr", "ip_vs_wrr")
    assert "kernel/net/netfilter/ipvs/ip_vs_wrr.ko.xz exists" in wrr.detail
    assert "kernel module ip_vs_rr" not in by_name(pre.checks)  # only the configured scheduler matters
    assert not pre.blocked and pre.loadable_modules == ("ip_vs_wrr",)
    assert ModuleTable(env).state("ip-vs-wrr")[0] is ModuleState.LOADABLE  # dashes and underscores are one name


@pytest.mark.parametrize("version,ok", [("4.5", False), ("6.0", True), ("6.38", True), ("7.17", True)])
def test_ipset_version(tmp_path: Path, version: str, ok: bool) -> None:
    env = make_node(tmp_path, **{**IPVS_READY, "tools": {"ipset": version}})
    check = by_name(node_checks("ipvs", env))["ipset binary"]
    assert check.ok is ok
    if not ok:
        assert check.detail.startswith(f"ipset {version} at ") and "older than 6.0" in check.detail


def test_ipset_not_installed(tmp_path: Path) -> None:
    env = make_node(tmp_path, **{**IPVS_READY, "tools": {}})
    check = by_name(node_checks("ipvs", env))["ipset binary"]
    assert check.status == "fail" and check.fix_command.startswith("apt-get install ipset")


def test_old_kernel_checks_nf_conntrack_ipv4(tmp_path: Path) -> None:
    env = make_node(tmp_path, release="4.14.0-1", loaded=["ip_vs", "ip_vs_rr", "ip_set"], tools={"ipset": "6.38"})
    checks = by_name(node_checks("ipvs", env))
    assert "kernel module nf_conntrack_ipv4" in checks and not checks["kernel module nf_conntrack_ipv4"].ok


@pytest.mark.parametrize("release,ok", [("5.10.0-28-amd64", False), ("5.13.0", True), ("6.1.0-18-amd64", True)])
def test_nftables_needs_kernel_5_13(tmp_path: Path, release: str, ok: bool) -> None:
    env = make_node(tmp_path, release=release, loaded=["nf_tables", "nf_conntrack"], tools={"nft": "1.0.6"})
    pre = run_preflight("nftables", env=env)
    kernel = by_name(pre.checks)["kernel version"]
    assert kernel.ok is ok and pre.blocked is not ok
    if not ok:
        assert "older than 5.13" in kernel.detail
        assert "KUBE_PROXY_NFTABLES_SKIP_KERNEL_VERSION_CHECK" in kernel.fix_command


def test_nft_binary_missing_or_old_is_a_warning(tmp_path: Path) -> None:
    env = make_node(tmp_path, loaded=["nf_tables", "nf_conntrack"])
    assert by_name(node_checks("nftables", env))["nft binary"].status == "warn"
    add_tool(tmp_path, "nft", "nftables v0.9.8 (E.D.S.)")
    nft = by_name(node_checks("nftables", env))["nft binary"]
    assert nft.status == "warn" and "older than 1.0.1" in nft.detail


@pytest.mark.parametrize("backend,module", [("legacy", "ip_tables"), ("nf_tables", "nf_tables")])
def test_iptables_backend_decides_the_kernel_module(tmp_path: Path, backend: str, module: str) -> None:
    env = make_node(tmp_path, loaded=["nf_conntrack", module], tools={"iptables": f"1.8.9 ({backend})"})
    checks = by_name(node_checks("iptables", env))
    assert checks["iptables binary"].detail.endswith(f"backend {backend}")
    assert checks[f"kernel module {module}"].ok


def test_kernel_without_module_support(tmp_path: Path) -> None:
    env = make_node(tmp_path, proc_modules=False, builtin=[], tools={"ipset": "7.17"},
                    config={"CONFIG_MODULES": "n", "CONFIG_IP_VS": "n", "CONFIG_NF_CONNTRACK": "y",
                            "CONFIG_IP_SET": "y"})
    checks = by_name(node_checks("ipvs", env))
    ip_vs = checks["kernel module ip_vs"]
    assert not ip_vs.ok and "no loadable module support" in ip_vs.detail
    assert ip_vs.fix_command == "boot a kernel built with CONFIG_IP_VS=y (this one cannot load modules)"
    assert checks["kernel module nf_conntrack"].detail == "built in (CONFIG_NF_CONNTRACK=y in the kernel config)"


# -- this real machine ---------------------------------------------------------------------------------------------

def test_real_machine_matches_proc_modules() -> None:
    """The preflight on this machine reports what `cat /proc/modules` (or, without it, /sys/module) shows."""
    env = NodeEnv()
    table = ModuleTable(env)
    cat = subprocess.run(["cat", "/proc/modules"], capture_output=True, text=True)
    interesting = ["ip_vs", "ip_vs_rr", "nf_conntrack", "ip_set", "nf_tables", "ip_tables"]
    if cat.returncode == 0:
        loaded = {line.split()[0] for line in cat.stdout.splitlines() if line.strip()}
        assert table.proc_modules_readable and table.loaded == loaded
        for m in interesting:
            assert (table.state(m)[0] is ModuleState.LOADED) == (m in loaded), m
    else:
        # No /proc/modules: a kernel without loadable modules; only built-in code exists.
        assert "No such file" in cat.stderr
        assert not table.proc_modules_readable
        sys_modules = set(os.listdir("/sys/module"))
        for m in interesting:
            state = table.state(m)[0]
            if m in sys_modules:
                assert state is ModuleState.BUILTIN, m
            if state is ModuleState.MISSING:
                assert m not in sys_modules
        ip_vs = by_name(node_checks("ipvs"))["kernel module ip_vs"]
        assert ip_vs.ok == (table.state("ip_vs")[0] is not ModuleState.MISSING)
    uname = subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert table.release == uname
    kernel = by_name(node_checks("nftables"))["kernel version"]
    assert uname in kernel.detail


def test_real_ipset_and_iptables_binaries() -> None:
    ipset = subprocess.run(["ipset", "--version"], capture_output=True, text=True).stdout.split(",")[0]
    check = by_name(node_checks("ipvs"))["ipset binary"]
    assert check.ok and ipset.replace("ipset v", "ipset ") in check.detail
    iptables = subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout.strip()
    assert by_name(node_checks("iptables"))["iptables binary"].detail.startswith(iptables)


# -- loading a module: its own guarded step --------------------------------------------------------------------------

def test_load_module_is_blocked_by_read_only(tmp_path: Path) -> None:
    env = make_node(tmp_path)
    with pytest.raises(ReadOnlyError,
                       match="loading kernel module ip_vs is blocked: svcscope was started with --read-only"):
        load_module("ip_vs", Guard(read_only=True), env)


def test_load_module_needs_root(tmp_path: Path) -> None:
    env = make_node(tmp_path, is_root=False)
    res = load_module("ip_vs", Guard(), env)
    assert not res.ok and res.message == "loading ip_vs needs root: run `sudo modprobe ip_vs`, then check again"


def test_load_module_runs_modprobe_and_rechecks(tmp_path: Path) -> None:
    env = make_node(tmp_path, files=["ip_vs_wrr"])
    # This node's modprobe loads the module the way the kernel would show it: a line in /proc/modules.
    add_tool(tmp_path, "modprobe", "", script=f'echo "$2 1 0 - Live 0x0" >> {tmp_path}/proc/modules; exit 0')
    assert ModuleTable(env).state("ip_vs_wrr")[0] is ModuleState.LOADABLE
    res = load_module("ip_vs_wrr", Guard(), env)
    assert res.ok and res.message == "loaded kernel module ip_vs_wrr"
    assert ModuleTable(env).state("ip_vs_wrr")[0] is ModuleState.LOADED


def test_load_module_reports_real_modprobe_failure() -> None:
    res = load_module("svcscope_no_such_module", Guard(), NodeEnv(is_root=True))
    assert not res.ok
    assert res.message.startswith("modprobe svcscope_no_such_module failed: ")
    assert "svcscope_no_such_module" in res.message.split("failed: ", 1)[1]


# -- cluster-level warnings ------------------------------------------------------------------------------------------

def v(minor: int, git: str = "") -> dict:
    return {"major": "1", "minor": str(minor), "gitVersion": git or f"v1.{minor}.0"}


def test_ipvs_deprecated_since_1_35() -> None:
    warn = by_name(cluster_checks("ipvs", v(35), None))["ipvs deprecation"]
    assert warn.status == "warn" and "deprecated since 1.35" in warn.detail
    assert cluster_checks("ipvs", v(34), None) == []
    later = {"major": "1", "minor": "36+", "gitVersion": "v1.36.1"}
    assert cluster_checks("ipvs", later, None)[0].name == "ipvs deprecation"


def test_nftables_needs_1_29() -> None:
    assert by_name(cluster_checks("nftables", v(28), None))["nftables support"].status == "fail"
    alpha = by_name(cluster_checks("nftables", v(30), None))["nftables support"]
    assert alpha.status == "warn" and "alpha" in alpha.detail
    assert cluster_checks("nftables", v(33), None) == []


def test_addon_manager_and_managed_control_planes() -> None:
    cm = {"metadata": {"labels": {"addonmanager.kubernetes.io/mode": "Reconcile"}}}
    checks = by_name(cluster_checks("iptables", v(32), cm))
    addon = checks["add-on manager"]
    assert addon.status == "warn" and "put the old configuration back" in addon.detail
    eks = by_name(cluster_checks("iptables", v(32, "v1.32.3-eks-4096722"), {"metadata": {}}))
    assert "Amazon EKS" in eks["managed control plane"].detail
    aks_node = {"metadata": {"labels": {"kubernetes.azure.com/cluster": "MC_rg_aks_westeurope"}}}
    aks = by_name(cluster_checks("iptables", v(32), {"metadata": {}}, nodes=[aks_node]))
    assert "Azure AKS" in aks["managed control plane"].detail
    assert cluster_checks("iptables", v(32), {"metadata": {"labels": {"app": "kube-proxy"}}}) == []
