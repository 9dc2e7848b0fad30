"""The rows the IPVS pane and `svcscope ipvs --once` show: each virtual server, its real servers beneath it.

A value the source cannot know (a /proc table has no statistics, thresholds or persistent connection counts) shows
as `?`; one that does not apply as `-`.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from tui.ipvs.ipvsadm import sort_dests, sort_services
from tui.ipvs.model import IPVSTable, RealServer, Stats, VirtualServer

COLUMNS: tuple[str, ...] = ("VIRTUAL / REAL SERVER", "SCHEDULER/FORWARD", "WEIGHT", "PERSISTENCE", "ACTIVE",
                            "INACTIVE")
WIDE_COLUMNS: tuple[str, ...] = COLUMNS + ("PERSISTENT", "THRESHOLDS", "CONNS", "INPKTS", "OUTPKTS", "INBYTES",
                                           "OUTBYTES")


def _opt(v: int | None) -> str:
    return "?" if v is None else str(v)


def _stats(s: Stats | None) -> list[str]:
    if s is None:
        return ["?"] * 5
    return [str(s.conns), str(s.inpkts), str(s.outpkts), str(s.inbytes), str(s.outbytes)]


def scheduler_text(vs: VirtualServer) -> str:
    extra = list(vs.sched_flag_names) + (["ops"] if vs.one_packet else [])
    return vs.scheduler + (f" ({','.join(extra)})" if extra else "")


def persistence_text(vs: VirtualServer) -> str:
    if not vs.persistent:
        return "-"
    text = f"{vs.timeout}s"
    if not vs.default_netmask:
        text += f" mask {vs.netmask_text}"
    if vs.pe_name:
        text += f" pe {vs.pe_name}"
    return text


def vs_row(vs: VirtualServer, wide: bool) -> list[str]:
    active = sum(rs.active_conns for rs in vs.real_servers)
    inactive = sum(rs.inactive_conns for rs in vs.real_servers)
    row = [vs.endpoint, scheduler_text(vs), str(len(vs.real_servers)) + " real", persistence_text(vs),
           str(active), str(inactive)]
    if wide:
        persist = [rs.persistent_conns for rs in vs.real_servers]
        row += ["?" if None in persist else str(sum(p for p in persist if p is not None)), "-"] + _stats(vs.stats)
    return row


def rs_row(rs: RealServer, wide: bool) -> list[str]:
    row = [f"  -> {rs.endpoint}", rs.forward, str(rs.weight), "-", str(rs.active_conns), str(rs.inactive_conns)]
    if wide:
        thresholds = "?" if rs.u_threshold is None or rs.l_threshold is None else f"{rs.u_threshold}/{rs.l_threshold}"
        row += [_opt(rs.persistent_conns), thresholds] + _stats(rs.stats)
    return row


def rows(table: IPVSTable, wide: bool = False) -> Iterator[list[str]]:
    """Virtual servers in ipvsadm's order, each followed by its real servers in ipvsadm's order."""
    for vs in sort_services(table.virtual_servers):
        yield vs_row(vs, wide)
        for rs in sort_dests(vs.real_servers):
            yield rs_row(rs, wide)


def header(wide: bool) -> Sequence[str]:
    return WIDE_COLUMNS if wide else COLUMNS
