"""`svcscope ipvs --once` outputs (default rows, wide, json) on the kernel's own table (fixtures)."""

from __future__ import annotations

import json

from tests.ipvs.test_netlink_parse import kernel_table
from tui.commands.ipvs import render
from tui.ipvs.procfs import parse_ip_vs
from tui.ipvs.model import IPVSTable


def test_default_rows_show_virtual_servers_with_their_real_servers_beneath(kernel_netlink):
    out = render(kernel_table(kernel_netlink, True), None).splitlines()
    assert out[0].split() == ["VIRTUAL", "/", "REAL", "SERVER", "SCHEDULER/FORWARD", "WEIGHT", "PERSISTENCE",
                              "ACTIVE", "INACTIVE"]
    assert out[1].split() == ["TCP", "192.168.99.1:30080", "sh", "(sh-fallback,sh-port)", "1", "real", "-", "0", "0"]
    assert out[2].split() == ["->", "10.244.9.9:80", "Masq", "1", "-", "0", "0"]
    udp = next(line for line in out if line.startswith("UDP 10.96.0.10:53"))
    assert udp.split()[2:] == ["wrr", "(ops)", "2", "real", "3600s", "mask", "255.255.255.0", "0", "0"]


def test_wide_adds_thresholds_persistent_connections_and_counters(kernel_netlink):
    out = render(kernel_table(kernel_netlink, True), "wide").splitlines()
    assert out[0].split()[-7:] == ["PERSISTENT", "THRESHOLDS", "CONNS", "INPKTS", "OUTPKTS", "INBYTES", "OUTBYTES"]
    web = next(i for i, line in enumerate(out) if line.startswith("TCP 10.0.0.100:80"))
    assert out[web].split()[-5:] == ["5", "25", "25", "1796", "4296"]
    assert out[web + 1].split()[-7:] == ["0", "0/0", "5", "25", "25", "1796", "4296"]


def test_wide_of_a_proc_table_marks_what_it_cannot_know(fixture_text):
    _, _, services = parse_ip_vs(fixture_text("proc_ip_vs.txt"), 250)
    out = render(IPVSTable(services, "proc"), "wide").splitlines()
    assert out[2].split()[-7:] == ["?"] * 7


def test_json_is_the_whole_model(kernel_netlink):
    data = json.loads(render(kernel_table(kernel_netlink, True), "json"))
    assert data["source"] == "netlink" and len(data["virtualServers"]) == 11
    dns = next(v for v in data["virtualServers"] if v["address"] == "10.96.0.10")
    assert (dns["protocol"], dns["port"], dns["timeout"], dns["netmask"], dns["onePacket"]) == \
        ("UDP", 53, 3600, "255.255.255.0", True)
    assert {rs["forward"] for rs in dns["realServers"]} == {"Tunnel", "Masq"}
    assert dns["realServers"][0]["stats"]["conns"] == 0
