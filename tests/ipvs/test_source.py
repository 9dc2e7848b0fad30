"""Choosing the source, and the words when there is no table: against fake /proc and /sys trees, and this
machine's real netlink (whose kernel has no ip_vs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.ipvs.source import NO_MODULE, NOT_A_NODE, IPVSUnavailable, read_table

ROOT = Path(__file__).resolve().parents[2]


def fake_roots(tmp_path: Path, module: bool, proc_text: str | None, sysfs: bool = True) -> tuple[str, str]:
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    (proc / "net").mkdir(parents=True)
    if proc_text is not None:
        (proc / "net" / "ip_vs").write_text(proc_text)
    if sysfs:
        (sys_ / "module" / "kernel").mkdir(parents=True)
        if module:
            (sys_ / "module" / "ip_vs").mkdir()
    return str(proc), str(sys_)


async def test_no_ip_vs_module_says_kube_proxy_is_not_in_ipvs_mode(tmp_path):
    proc, sys_ = fake_roots(tmp_path, module=False, proc_text=None)
    with pytest.raises(IPVSUnavailable) as e:
        await read_table("auto", proc, sys_)
    assert e.value.reason == "no-module" and str(e.value) == NO_MODULE
    assert "kube-proxy in iptables or nftables mode does not use IPVS" in str(e.value)


async def test_no_proc_and_no_sysfs_is_not_a_node(tmp_path):
    proc, sys_ = fake_roots(tmp_path, module=False, proc_text=None, sysfs=False)
    with pytest.raises(IPVSUnavailable) as e:
        await read_table("proc", proc, sys_)
    assert e.value.reason == "not-a-node" and str(e.value) == NOT_A_NODE


async def test_proc_source_reads_the_fake_proc(tmp_path, fixture_text):
    proc, sys_ = fake_roots(tmp_path, module=True, proc_text=fixture_text("proc_ip_vs.txt"))
    table = await read_table("proc", proc, sys_)
    assert table.source == "proc" and len(table.virtual_servers) == 11 and table.lacks


async def test_unparsable_proc_is_one_sentence(tmp_path):
    proc, sys_ = fake_roots(tmp_path, module=True, proc_text="IP Virtual Server version one\n")
    with pytest.raises(IPVSUnavailable) as e:
        await read_table("proc", proc, sys_)
    assert e.value.reason == "error" and "line 1" in str(e.value)


HAS_IPVS = os.path.isdir("/sys/module/ip_vs")  # the machines this runs on have none; the kernel tests load it


async def test_real_netlink_family_lookup(tmp_path, fixture_text):
    """Pretend the module is there: the real family lookup on this machine's kernel fails in words (no ip_vs),
    or, on a kernel that has it, reads."""
    proc, sys_ = fake_roots(tmp_path, module=True, proc_text=fixture_text("proc_ip_vs.txt"))
    if HAS_IPVS:
        try:
            assert (await read_table("netlink", proc, sys_)).source == "netlink"
        except IPVSUnavailable as e:
            assert e.reason == "permission"
        return
    with pytest.raises(IPVSUnavailable) as exc:
        await read_table("netlink", proc, sys_)
    assert exc.value.reason == "no-module"


def test_cli_without_ipvs_prints_one_sentence_and_exits_1():
    r = subprocess.run([sys.executable, "-m", "tui", "ipvs", "--once"], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    if HAS_IPVS:
        assert r.returncode == 0 or "CAP_NET_ADMIN" in r.stderr
        return
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == f"svcscope: {NO_MODULE}"
    assert not os.path.isdir("/sys/module/ip_vs")  # looking did not load it
