"""svcscope's IPVS readers against a real Linux kernel (Debian's, under qemu) and ipvsadm, byte for byte."""

from __future__ import annotations

import pytest

from tests.kernel.conftest import GuestRun, kernel_config_hz
from tui.ipvs.source import NEED_CAP, NO_MODULE

pytestmark = pytest.mark.kernel


def test_the_table_has_every_kind_of_virtual_server(guest: GuestRun):
    r = guest.results
    assert r["modules"]["sctp"] and r["modules"]["ip_vs_mh"]
    assert r["netlink_services"] == 331 and r["netlink_real_servers"] >= 800  # every rule of rules.txt took
    assert set(r["netlink_kinds"]) >= {"TCP", "UDP", "SCTP", "FWM", "TCP6", "UDP6", "SCTP6", "FWM6"}
    assert set(r["netlink_schedulers"]) == {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo",
                                            "ovf", "mh"}
    assert 0 in r["netlink_weights"] and 65535 in r["netlink_weights"] and len(r["netlink_weights"]) > 50


def test_netlink_reader_prints_exactly_what_ipvsadm_prints(guest: GuestRun):
    assert guest.text("reader_Ln") == guest.text("ipvsadm_Ln")


def test_a_reader_kept_across_refreshes_reuses_unchanged_entries(guest: GuestRun):
    assert guest.results["reuse_same_objects"] and guest.results["reuse_same_table"]


def test_netlink_reader_statistics_print_exactly_what_ipvsadm_prints(guest: GuestRun):
    assert guest.text("reader_stats") == guest.text("ipvsadm_stats")
    held = guest.results["held_connections"]
    assert held["active"] == 3 and held["conns"] == 3 and held["inbytes"] > 0  # the counters are not all zero


def test_cli_ipvsadm_output_is_ipvsadms(guest: GuestRun):
    r = guest.results
    assert r["cli_ipvsadm"]["rc"] == 0 and r["cli_ipvsadm_stats"]["rc"] == 0
    assert guest.text("ipvsadm_Ln_after") == guest.text("ipvsadm_Ln")  # the CLIs all read this same table
    assert guest.file(r["cli_ipvsadm"]["stdout"]) == guest.text("ipvsadm_Ln")
    assert guest.file(r["cli_ipvsadm_stats"]["stdout"]) == guest.text("ipvsadm_stats")
    assert guest.file(r["cli_ipvsadm"]["stderr"]) == ""  # a complete netlink read needs no explanation


def test_proc_reader_is_the_netlink_table_minus_what_proc_lacks(guest: GuestRun):
    r = guest.results
    assert r["proc_equals_netlink_minus_lacks"], r.get("proc_first_difference")
    expected = guest.text("ipvsadm_Ln")
    for lacking in (" (sh-fallback,sh-port)", " (mh-port)", " pe sip"):
        assert lacking in expected
        expected = expected.replace(lacking, "")
    # /proc prints "ops" for IPv4 services only
    v6_ops = [line for line in expected.splitlines() if line.startswith(("TCP  [", "UDP  [", "SCTP [")) and
              line.endswith(" ops")]
    assert v6_ops
    for line in v6_ops:
        expected = expected.replace(line + "\n", line[:-len(" ops")] + "\n")
    assert guest.text("proc_Ln") == expected  # byte for byte wherever /proc carries the information


def test_proc_reader_found_the_kernels_hz(guest: GuestRun):
    r = guest.results
    assert r["proc_hz"] == kernel_config_hz() == 250
    assert "schedstat" in r["proc_hz_source"]  # the guest has no /boot/config: it was measured


def test_without_cap_net_admin_the_cli_shows_proc_and_says_how_to_get_the_rest(guest: GuestRun):
    r = guest.results["cli_no_cap_auto"]
    assert r["rc"] == 0
    assert guest.file(r["stdout"]) == guest.text("proc_Ln")
    err = guest.file(r["stderr"])
    assert "source: /proc/net/ip_vs" in err and "CAP_NET_ADMIN" in err and "root" in err


def test_without_cap_net_admin_netlink_is_refused_in_words(guest: GuestRun):
    r = guest.results["cli_no_cap_netlink"]
    assert r["rc"] == 1 and guest.file(r["stdout"]) == ""
    assert guest.file(r["stderr"]).strip() == f"svcscope: {NEED_CAP}"


def test_no_ip_vs_says_so_and_does_not_load_it(guest: GuestRun):
    r = guest.results
    assert not r["ip_vs_loaded_at_boot"] and not r["ip_vs_loaded_after_cli"]
    assert r["cli_no_module"]["rc"] == 1
    assert guest.file(r["cli_no_module"]["stderr"]).strip() == f"svcscope: {NO_MODULE}"


@pytest.mark.parametrize("scheduler", ["rr", "mh", "wrr"])
def test_emulator_programs_the_kernel_with_exactly_its_table(guest: GuestRun, scheduler: str):
    e = guest.results["emulator"][scheduler]
    assert e["services"] >= 12 and e["real_servers"] >= 15
    assert e["same_model"], e.get("first_difference")
    assert guest.file(e["emulated_Ln"]) == guest.file(e["ipvsadm_Ln"])
