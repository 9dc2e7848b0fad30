"""The IPVS screen's rows (tui.ipvs.tree), without a screen: the tree order, the Service and pod cells, levels, and
rates over two reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tui.ipvs.mapping import PodIndex, ServiceIndex, pod_index, service_index
from tui.ipvs.model import F_PERSISTENT, IPVSTable, RealServer, Stats, VirtualServer
from tui.ipvs.rates import RateTracker
from tui.ipvs.readers import lacks_line, source_line
from tui.ipvs.procfs import PROC_LACKS
from tui.ipvs.tree import human_rate, rates_key_of, tree_rows, vs_key_of
from tui.kube.models import ServiceView

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def table(seconds: float, conns: int, pkts: int, nbytes: int, stats: bool = True) -> IPVSTable:
    def st(k: int) -> Stats | None:
        return Stats(conns=conns * k, inpkts=pkts * k, outpkts=pkts * k, inbytes=nbytes * k) if stats else None

    web = VirtualServer("TCP", "10.96.0.10", 80, stats=st(2), flags=F_PERSISTENT, timeout=10800, real_servers=(
        RealServer("10.244.1.5", 8080, stats=st(1), active_conns=3, inactive_conns=1),
        RealServer("10.244.1.6", 8080, weight=0, stats=st(1), active_conns=2)))
    empty = VirtualServer("UDP", "10.96.0.9", 53, stats=st(0))
    return IPVSTable((web, empty), "netlink" if stats else "proc", read_at=T0 + timedelta(seconds=seconds))


def rows(t: IPVSTable, tracker: RateTracker | None, services: ServiceIndex = ServiceIndex(),
         pods: PodIndex = PodIndex()) -> list[tuple]:
    return list(tree_rows(t, services, pods, tracker, lambda key, cells, level: (key, cells, level)))


def test_virtual_servers_in_address_order_with_their_real_servers_beneath():
    out = rows(table(0, 0, 0, 0), None)
    assert [r[1][0] for r in out] == ["TCP 10.96.0.10:80", "  -> 10.244.1.5:8080", "  -> 10.244.1.6:8080",
                                      "UDP 10.96.0.9:53"]
    keys = [r[0] for r in out]
    # the keys sort into the tree by numeric address: 10.96.0.9 before 10.96.0.10, each group together
    assert [k[0] for k in sorted(keys)] == [keys[3][0], keys[0][0], keys[0][0], keys[0][0]]
    web, rs1, rs2, empty = out
    assert web[1][1:6] == ("rr", "10800s", "-", "5", "1") and web[2] == ""
    assert rs2[1][1:3] == ("Masq", "0") and rs2[2] == "warning"  # weight 0: draining or stuck
    assert empty[2] == "error"  # a virtual server with no real server
    assert vs_key_of(rs1[0]) == (2, "TCP", "10.96.0.10", 80, 0)
    assert rates_key_of(rs1[0]) == ((2, "TCP", "10.96.0.10", 80, 0), ("10.244.1.5", 8080))


def test_rates_over_two_reads_and_what_no_statistics_shows():
    tracker = RateTracker()
    tracker.update(table(0, 10, 100, 1000))
    first = rows(table(0, 10, 100, 1000), tracker)
    assert first[0][1][6:] == ("-", "-", "-")  # one read: no rate yet
    tracker.update(table(2, 30, 300, 5000))
    web, rs1, _, empty = rows(table(2, 30, 300, 5000), tracker)
    # VS counters are twice the real server's: (60-20) conns / 2 s, (600-200)*2 packets / 2 s, (10000-2000) / 2 s
    assert web[1][6:] == ("20", "400", "4.0K")
    assert rs1[1][6:] == ("10", "200", "2.0K")
    assert empty[1][6:] == ("0", "0", "0")
    proc = rows(table(4, 0, 0, 0, stats=False), tracker)
    assert proc[0][1][6:] == ("?", "?", "?")


def test_service_and_pod_cells_come_from_the_indexes():
    view = ServiceView.from_api({"metadata": {"name": "web", "namespace": "dev"},
                                 "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}]}})
    pods = pod_index([{"metadata": {"namespace": "dev"}, "ports": [{"port": 8080}], "endpoints": [
        {"addresses": ["10.244.1.5"], "targetRef": {"kind": "Pod", "name": "web-abc"}}]}])
    web, rs1, rs2, empty = rows(table(0, 0, 0, 0), None, service_index([view]), pods)
    assert (web[1][3], rs1[1][3], rs2[1][3], empty[1][3]) == ("dev/web:80", "web-abc", "-", "-")


def test_human_rates_and_the_source_lines():
    assert [human_rate(v) for v in (0, 0.25, 2.5, 12, 999, 1234, 56_000, 7.5e6, 3e9)] == \
        ["0", "0.2", "2.5", "12", "999", "1.2K", "56K", "7.5M", "3.0G"]
    proc = IPVSTable((), "proc", lacks=PROC_LACKS, note="netlink was refused")
    assert source_line(proc) == "source: /proc/net/ip_vs - netlink was refused"
    assert lacks_line(proc).startswith("lacks: per-service and per-server traffic statistics")
    assert source_line(IPVSTable((), "netlink")) == "source: netlink" and lacks_line(IPVSTable((), "netlink")) == ""
    sim = IPVSTable((), "emulated", note="simulated: the table kube-proxy's ipvs proxier would program on node n1")
    assert source_line(sim) == "source: simulated kube-proxy (demo), node n1"
    off = IPVSTable((), "emulated", note="simulated: kube-proxy on node n1 runs in nftables mode, which ...")
    assert source_line(off) == ("source: simulated kube-proxy (demo) - kube-proxy on node n1 runs in nftables "
                                "mode, which ...")
