"""Rates from successive reads (pure: the tables' read_at is the clock)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tui.ipvs.model import IPVSTable, RealServer, Stats, VirtualServer
from tui.ipvs.rates import TOTAL_KEY, RateTracker, Rates, rates_between

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def snapshot(seconds: float, conns: int, inbytes: int, with_rs: bool = True) -> IPVSTable:
    rs = (RealServer("10.0.0.1", 80, stats=Stats(conns=conns, inbytes=inbytes)),) if with_rs else ()
    vs = VirtualServer("TCP", "10.96.0.1", 80, stats=Stats(conns=conns, inbytes=inbytes), real_servers=rs)
    return IPVSTable((vs,), "netlink", read_at=T0 + timedelta(seconds=seconds), totals=Stats(conns=conns))


def test_rates_between_two_reads():
    assert rates_between(Stats(conns=10, inbytes=1000), Stats(conns=30, inbytes=5000), 2.0) == \
        Rates(cps=10.0, inbps=2000.0)
    assert rates_between(Stats(conns=10), Stats(conns=5), 2.0) is None  # zeroed counters
    assert rates_between(Stats(), Stats(), 0) is None


def test_tracker_keeps_rates_and_a_bounded_history():
    tr = RateTracker(history=3)
    vs_key = snapshot(0, 0, 0).virtual_servers[0].key
    rs_key = (vs_key, ("10.0.0.1", 80))
    assert tr.update(snapshot(0, 0, 0)) == {}
    for i in range(1, 6):
        tr.update(snapshot(i, i * i, 100 * i))
    assert tr.rates(vs_key) == Rates(cps=9.0, inbps=100.0)  # 25 - 16 connections in one second
    assert tr.history(vs_key) == [5.0, 7.0, 9.0]
    assert tr.history(rs_key, "inbps") == [100.0, 100.0, 100.0]
    assert tr.rates(TOTAL_KEY) == Rates(cps=9.0)


def test_reset_counters_restart_the_history_and_gone_entries_are_dropped():
    tr = RateTracker()
    tr.update(snapshot(0, 10, 0))
    tr.update(snapshot(1, 20, 0))
    vs_key = snapshot(0, 0, 0).virtual_servers[0].key
    assert tr.history(vs_key) == [10.0]
    tr.update(snapshot(2, 5, 0))  # recreated: counters restarted
    assert tr.rates(vs_key) is None and tr.history(vs_key) == []
    tr.update(snapshot(3, 6, 0, with_rs=False))
    assert tr.history((vs_key, ("10.0.0.1", 80))) == [] and tr.history(vs_key) == [1.0]
