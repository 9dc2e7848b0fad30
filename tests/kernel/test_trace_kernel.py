"""svcscope check's engine and the reachability probe against a real kernel (same single boot as the readers):

- the emulator programs the tutorial scenario into the kernel; one rule is then broken with ipvsadm, and the trace
  (what `svcscope check` runs) against the table read back over netlink names exactly that finding, nothing else;
- the probe through real IPVS to pods in network namespaces (Masq over veth pairs, each pod serving its own
  index.html): round robin spreads the connections over every pod, ClientIP persistence pins them to one, and
  the real server the connection table names for each connection is the pod whose page came back on it.
"""

from __future__ import annotations

import pytest

from tests.kernel.conftest import GuestRun

pytestmark = pytest.mark.kernel

WEB = "dev/service-clusterip"


def findings(guest: GuestRun, case: str) -> dict[str, list[list[str]]]:
    return guest.results["check_breaks"][case]["findings"]


def new_findings(guest: GuestRun, case: str) -> dict[str, list[tuple[str, str, str]]]:
    """What the broken table adds to the clean one, per Service: (level, code, subject)."""
    clean, broken = findings(guest, "clean"), findings(guest, case)
    out = {}
    for svc, found in broken.items():
        extra = [tuple(f[:3]) for f in found if f not in clean.get(svc, [])]
        if extra:
            out[svc] = extra
    return out


def test_the_programmed_scenario_checks_clean(guest: GuestRun):
    clean = findings(guest, "clean")
    assert {WEB, "dev/service-nodeport", "kube-system/kube-dns", "default/kubernetes"} <= set(clean)
    assert all(found == [] for found in clean.values()), clean
    target = guest.results["check_target"]
    assert target["real_servers"] == 3
    assert guest.results["check_breaks"]["clean"]["virtual_servers"] >= 5


def test_a_deleted_real_server_is_named_exactly(guest: GuestRun):
    t = guest.results["check_target"]
    assert new_findings(guest, "delete-real-server") == {
        WEB: [("error", "missing-real-server", f"TCP {t['vip']} -> {t['rip']}")]}
    assert real_servers_of(guest, "delete-real-server", t["vip"]) == real_servers_of(guest, "clean", t["vip"]) - {
        t["rip"]}


def real_servers_of(guest: GuestRun, case: str, vip: str) -> set[str]:
    """The real servers ipvsadm -Ln listed under one virtual server after the case's break."""
    out, inside = set(), False
    for line in guest.file(guest.results["check_breaks"][case]["ipvsadm"]).splitlines():
        if not line.startswith("  ->"):
            inside = line.split()[1:2] == [vip] if line.startswith(("TCP", "UDP", "SCTP")) else False
        elif inside:
            out.add(line.split()[1])
    return out


def test_a_zeroed_weight_is_named_exactly(guest: GuestRun):
    t = guest.results["check_target"]
    assert new_findings(guest, "zero-weight") == {WEB: [("error", "ready-weight-0", f"TCP {t['vip']} -> {t['rip']}")]}
    assert len(real_servers_of(guest, "zero-weight", t["vip"])) == 3  # still there, at weight 0


def test_a_changed_scheduler_is_named_exactly(guest: GuestRun):
    t = guest.results["check_target"]
    assert new_findings(guest, "scheduler") == {WEB: [("warning", "scheduler", f"TCP {t['vip']}")]}
    (finding,) = findings(guest, "scheduler")[WEB]
    assert finding[3] == "scheduler is wrr, kube-proxy's ipvs.scheduler implies rr"


# -- the probe ----------------------------------------------------------------------------------------------------

def probe(guest: GuestRun, name: str) -> dict:
    return guest.results["probe"][name]


def served(run: dict) -> dict[str, int]:
    return {s["realServer"]: s["count"] for s in run["realServers"]}


def assert_bodies_match_real_servers(run: dict) -> None:
    """Each connection's page names the pod the connection table says took it: the table was matched right."""
    for a in run["attempts"]:
        if a["ok"]:
            assert a["pod"] == f"dev/{a['body']}", a


def test_round_robin_spreads_http_over_every_pod(guest: GuestRun):
    run = probe(guest, "rr_http")
    assert run["virtualServer"]["scheduler"] == "rr" and not run["virtualServer"]["persistent"]
    assert all(a["ok"] and a["status"] == "200 OK" for a in run["attempts"])
    assert served(run) == {"10.244.1.10:80": 4, "10.244.2.10:80": 4, "10.244.3.10:80": 4}
    assert_bodies_match_real_servers(run)
    assert {a["body"] for a in run["attempts"]} == {"pod1", "pod2", "pod3"}
    assert run["verdict"] == {"level": "ok",
                              "text": "round robin spreads them: 12 connections over 3 of 3 real servers"}
    assert run["tableNote"] is None and run["ipvsNote"] == ""


def test_round_robin_spreads_plain_tcp_connections(guest: GuestRun):
    run = probe(guest, "rr_tcp")
    assert sorted(served(run).values()) == [2, 2, 2]
    assert all(a["state"] for a in run["attempts"])  # each found in the table while its connection was open


def test_client_ip_persistence_pins_them_to_one_pod(guest: GuestRun):
    run = probe(guest, "sticky_http")
    assert run["virtualServer"]["persistent"] and run["virtualServer"]["timeout"] == 600
    (only,) = served(run).items()
    assert only[1] == 12
    assert_bodies_match_real_servers(run)
    pod = run["attempts"][0]["pod"]
    assert run["verdict"] == {"level": "ok",
                              "text": f"ClientIP affinity pins them to one pod: all 12 connections went to {pod}"}


def test_affinity_the_kernel_does_not_apply_is_an_error(guest: GuestRun):
    run = probe(guest, "affinity_not_applied")
    assert len(served(run)) == 3
    assert run["verdict"]["level"] == "error"
    assert run["verdict"]["text"].startswith("the Service's sessionAffinity is ClientIP but the virtual server is "
                                             "not persistent: 3 real server(s) took the 6 connections")


def test_a_crashed_pod_is_named_by_the_connections_it_refused(guest: GuestRun):
    run = probe(guest, "one_down")
    failed = [a for a in run["attempts"] if not a["ok"]]
    assert len(failed) == 3 and all(a["error"].startswith("connection refused") for a in failed)
    assert {a["realServer"] for a in failed} == {"10.244.3.10:81"}  # the table knows who refused
    assert_bodies_match_real_servers(run)
    assert run["verdict"]["level"] == "warning"
    assert run["verdict"]["text"] == ("round robin spreads them: 9 connections over 3 of 3 real servers; 3 of 9 "
                                      "connections failed (at 10.244.3.10:81: 3)")


def test_ipv6_virtual_server(guest: GuestRun):
    run = probe(guest, "rr_ipv6")
    assert served(run) == {"[fd00:244:1::10]:8080": 2, "[fd00:244:2::10]:8080": 2, "[fd00:244:3::10]:8080": 2}
    assert_bodies_match_real_servers(run)
    assert all(a["local"] == "fd00:96::1" for a in run["attempts"])  # the node talks to a local VIP from the VIP


def test_the_conn_table_the_probe_read_parses(guest: GuestRun):
    from tui.ipvs.conntable import parse_ip_vs_conn

    conns = parse_ip_vs_conn(guest.text("probe_conn_table"))
    ports = {a["localPort"] for run in guest.results["probe"].values() for a in run["attempts"]}
    assert len(ports & {c.client_port for c in conns}) > 30
