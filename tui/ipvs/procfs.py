"""The /proc fallback: /proc/net/ip_vs (world-readable) and /proc/net/ip_vs_stats into the shared model.

Used when netlink is refused (no CAP_NET_ADMIN). The kernel prints (net/netfilter/ipvs/ip_vs_ctl.c,
ip_vs_info_seq_show) addresses and ports in hex, IPv6 in full form inside brackets, firewall marks as `FWM  %08X`,
and the persistence timeout in jiffies, i.e. seconds x HZ; so turning it into seconds needs the kernel's HZ, which
`detect_hz` finds (see there). Anything that does not look like the kernel's format raises ProcParseError naming
the line, never another exception: the caller shows it as one sentence.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable

from tui.ipvs.model import (
    AF_INET, AF_INET6, F_ONEPACKET, F_PERSISTENT, FORWARD_METHODS, IPVSTable, RealServer, Stats,
    VirtualServer, utc_now,
)
from tui.ipvs.proctext import ProcParseError, bad_line, hex_ipv4, hex_port, ipv6, text_lines

# What /proc/net/ip_vs cannot tell, shown next to a table read from it.
PROC_LACKS: tuple[str, ...] = (
    "per-service and per-server traffic statistics (only the totals of /proc/net/ip_vs_stats)",
    "persistent connection counts",
    "upper and lower connection thresholds",
    "scheduler flags (sh-port, mh-port, ...)",
    "persistence engines",
    "the one-packet flag of IPv6 services",
    "tunnel types of tunnelled real servers",
    "the address family of firewall-mark services (inferred from their mask or real servers)",
)

_HZ_CANDIDATES = (100, 250, 300, 1000)


_HEADER = re.compile(r"IP Virtual Server version (\d{1,3})\.(\d{1,3})\.(\d{1,3}) \(size=(\d{1,10})\)")
_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_INT = re.compile(r"-?\d{1,10}")
_PROTO = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_SCHED = re.compile(r"[A-Za-z0-9_-]{1,15}")


def _addr(token: str) -> tuple[int, str, int] | None:
    """`0A600001:01BB` or `[2001:0db8:...]:0050` -> (af, address text, port); None if neither."""
    host, sep, port_text = token.rpartition(":")
    port = hex_port(port_text) if sep else None
    if port is None:
        return None
    if host.startswith("[") and host.endswith("]"):
        v6 = ipv6(host[1:-1])
        return None if v6 is None else (AF_INET6, v6, port)
    v4 = hex_ipv4(host)
    return None if v4 is None else (AF_INET, v4, port)


def _ipv6_prefix(printed: int) -> int:
    """The kernel keeps an IPv6 service's prefix length as a host-order number in a __be32 field and prints ntohl()
    of it (so /64 shows as 40000000 on x86): undo that with this machine's byte order."""
    return int.from_bytes(printed.to_bytes(4, "big"), sys.byteorder)


def parse_ip_vs(text: str, hz: int, name: str = "/proc/net/ip_vs") -> tuple[str, int, tuple[VirtualServer, ...]]:
    """The text of /proc/net/ip_vs -> (IPVS version, connection table size, virtual servers in the kernel's order).

    `hz` turns the persistence timeout from jiffies into seconds (integer division, as the netlink side does)."""
    if hz <= 0:
        raise ValueError("hz must be positive")
    lines = text_lines(text, name)

    def fail(n: int, why: str) -> ProcParseError:
        return bad_line(name, n, lines[n - 1] if 0 < n <= len(lines) else "", why)

    m = _HEADER.fullmatch(lines[0].rstrip())
    if not m:
        raise fail(1, "expected 'IP Virtual Server version X.Y.Z (size=N)'")
    version = f"{int(m[1])}.{int(m[2])}.{int(m[3])}"
    size = int(m[4])
    if len(lines) < 3 or lines[1].split() != "Prot LocalAddress:Port Scheduler Flags".split():
        raise fail(2, "expected the column titles 'Prot LocalAddress:Port Scheduler Flags'")
    if lines[2].split() != "-> RemoteAddress:Port Forward Weight ActiveConn InActConn".split():
        raise fail(3, "expected the column titles '-> RemoteAddress:Port Forward Weight ActiveConn InActConn'")

    services: list[VirtualServer] = []
    current: dict | None = None
    dests: list[RealServer] = []

    def flush() -> None:
        if current is not None:
            services.append(VirtualServer(real_servers=tuple(dests), **current))

    for n, line in enumerate(lines[3:], start=4):
        tokens = line.split()
        if not tokens:
            raise fail(n, "empty line")
        if tokens[0] == "->":
            if current is None:
                raise fail(n, "a real server line before any virtual server")
            if len(tokens) != 6:
                raise fail(n, "a real server line has 6 fields")
            ap = _addr(tokens[1])
            if ap is None:
                raise fail(n, "bad real server address")
            if tokens[2] not in FORWARD_METHODS:
                raise fail(n, f"unknown forwarding method {tokens[2][:20]!r}")
            if not all(_INT.fullmatch(t) for t in tokens[3:]):
                raise fail(n, "weight and connection counts must be integers")
            dests.append(RealServer(
                address=ap[1], port=ap[2], af=ap[0], forward=tokens[2], weight=int(tokens[3]),
                active_conns=int(tokens[4]), inactive_conns=int(tokens[5]),
                persistent_conns=None, u_threshold=None, l_threshold=None, stats=None))
            continue
        # A virtual server line: "TCP  0A600001:01BB rr  [ops ][persistent T MASK]" or "FWM  0000002A rr ..."
        flush()
        dests = []
        if len(tokens) < 3:
            raise fail(n, "a virtual server line has at least protocol, address and scheduler")
        if tokens[0] == "FWM":
            if not _HEX8.fullmatch(tokens[1]):
                raise fail(n, "a firewall mark is 8 hex digits")
            fwmark = int(tokens[1], 16)
            if fwmark == 0:
                raise fail(n, "firewall mark 0 is not a firewall-mark service")
            af, address, port, protocol = AF_INET, "", 0, ""
        else:
            if not _PROTO.fullmatch(tokens[0]):
                raise fail(n, "expected a protocol name or FWM")
            ap = _addr(tokens[1])
            if ap is None:
                raise fail(n, "bad virtual server address")
            af, address, port = ap
            fwmark, protocol = 0, tokens[0]
        if not _SCHED.fullmatch(tokens[2]):
            raise fail(n, "bad scheduler name")
        rest = tokens[3:]
        flags = 0
        if rest[:1] == ["ops"]:
            flags |= F_ONEPACKET
            rest = rest[1:]
        timeout, netmask = 0, None
        if rest:
            if rest[0] != "persistent" or len(rest) != 3 or not rest[1].isdigit() or len(rest[1]) > 12 \
                    or not _HEX8.fullmatch(rest[2]):
                raise fail(n, "expected 'persistent TIMEOUT NETMASK' after the scheduler")
            flags |= F_PERSISTENT
            timeout = int(rest[1]) // hz
            netmask = int(rest[2], 16)
        current = {"protocol": protocol, "address": address, "port": port, "af": af, "fwmark": fwmark,
                   "scheduler": tokens[2], "flags": flags, "timeout": timeout, "stats": None, "pe_name": ""}
        if fwmark and netmask is not None and _looks_ipv6_prefix(netmask):
            current["af"] = af = AF_INET6
        current["netmask"] = (0xFFFFFFFF if af == AF_INET else 128) if netmask is None else \
            (netmask if af == AF_INET else _ipv6_prefix(netmask))
    flush()
    return version, size, tuple(_fwmark_family(vs) for vs in services)


def _looks_ipv6_prefix(printed: int) -> bool:
    """/proc does not say whether a firewall-mark service is IPv6; its persistence mask does: an IPv6 prefix length
    (1-128, byte-swapped) never looks like an IPv4 netmask of 8 bits or more."""
    contiguous_v4 = printed != 0 and (~printed & 0xFFFFFFFF) & ((~printed & 0xFFFFFFFF) + 1) == 0
    return 1 <= _ipv6_prefix(printed) <= 128 and not (contiguous_v4 and bin(printed).count("1") >= 8)


def _fwmark_family(vs: VirtualServer) -> VirtualServer:
    """A non-persistent firewall-mark service shows no family in /proc: take it from its real servers."""
    if vs.is_fwmark and not vs.persistent and vs.real_servers and all(rs.af == AF_INET6 for rs in vs.real_servers):
        return dataclasses.replace(vs, af=AF_INET6, netmask=128)
    return vs


def parse_ip_vs_stats(text: str, name: str = "/proc/net/ip_vs_stats") -> Stats:
    """/proc/net/ip_vs_stats: two rows of five hex numbers (totals, then rates) under two-line titles."""
    rows = [ln.split() for ln in text.split("\n")]
    numbers: list[list[int]] = []
    for n, tokens in enumerate(rows, start=1):
        if not tokens or not all(re.fullmatch(r"[0-9A-Fa-f]{1,16}", t) for t in tokens):
            continue
        if len(tokens) != 5:
            raise ProcParseError(f"{name} line {n} is not in the kernel's format (5 hex numbers expected)")
        numbers.append([int(t, 16) for t in tokens])
    if len(numbers) != 2:
        raise ProcParseError(f"{name} is not in the kernel's format (expected a totals row and a rates row)")
    (conns, inpkts, outpkts, inbytes, outbytes), (cps, inpps, outpps, inbps, outbps) = numbers
    return Stats(conns, inpkts, outpkts, inbytes, outbytes, cps, inpps, outpps, inbps, outbps)


# -- the kernel's HZ ----------------------------------------------------------------------------------------------

def _config_hz(text: str) -> int | None:
    m = re.search(r"^CONFIG_HZ=(\d+)$", text, re.M)
    return int(m[1]) if m else None


def _schedstat_jiffies(proc_root: str) -> int | None:
    try:
        with open(os.path.join(proc_root, "schedstat")) as f:
            for line in f:
                if line.startswith("timestamp "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.lru_cache(maxsize=8)
def detect_hz(proc_root: str = "/proc", boot_dir: str = "/boot", release: str | None = None,
              sample: float = 0.25) -> tuple[int, str]:
    """The kernel's HZ and how it was found, trying in order:

    1. CONFIG_HZ in /boot/config-$(uname -r) (Debian, Ubuntu, Fedora ship it world-readable);
    2. CONFIG_HZ in /proc/config.gz (kernels built with IKCONFIG_PROC);
    3. measuring: /proc/schedstat's `timestamp` is the jiffies counter (world-readable, CONFIG_SCHEDSTATS);
       two readings `sample` seconds apart give ticks per second, snapped to 100/250/300/1000 when within 10%;
    4. otherwise 250 (Debian's and Ubuntu's default), said so in the returned text.
    Blocks for `sample` seconds only in case 3; the result is cached per process.
    """
    release = release or os.uname().release
    try:
        hz = _config_hz(Path(boot_dir, f"config-{release}").read_text(errors="replace"))
        if hz:
            return hz, f"CONFIG_HZ in {boot_dir}/config-{release}"
    except OSError:
        pass
    try:
        with gzip.open(os.path.join(proc_root, "config.gz"), "rt", errors="replace") as f:
            hz = _config_hz(f.read())
        if hz:
            return hz, f"CONFIG_HZ in {proc_root}/config.gz"
    except (OSError, EOFError):
        pass
    j0, t0 = _schedstat_jiffies(proc_root), time.monotonic()
    if j0 is not None:
        time.sleep(sample)
        j1, t1 = _schedstat_jiffies(proc_root), time.monotonic()
        if j1 is not None and t1 > t0 and j1 > j0:
            rate = (j1 - j0) / (t1 - t0)
            best = min(_HZ_CANDIDATES, key=lambda c: abs(c - rate))
            if abs(best - rate) <= 0.1 * best:
                return best, f"measured from the jiffies in {proc_root}/schedstat ({rate:.0f}/s)"
    return 250, "assumed 250 (Debian's default): no kernel config to read and jiffies could not be measured"


def read_proc_table(proc_root: str = "/proc", hz: int | None = None, hz_source: str = "",
                    clock: Callable = utc_now, note: str = "") -> IPVSTable:
    """Read and parse /proc/net/ip_vs (+ ip_vs_stats when present). FileNotFoundError when the kernel has no IPVS
    (the caller words it); ProcParseError on text not in the kernel's format."""
    path = os.path.join(proc_root, "net", "ip_vs")
    with open(path, errors="replace") as f:
        text = f.read()
    if hz is None:
        hz, hz_source = detect_hz(proc_root)
    version, size, services = parse_ip_vs(text, hz, path)
    totals = None
    stats_path = os.path.join(proc_root, "net", "ip_vs_stats")
    try:
        with open(stats_path, errors="replace") as f:
            totals = parse_ip_vs_stats(f.read(), stats_path)
    except FileNotFoundError:
        pass
    return IPVSTable(virtual_servers=services, source="proc", read_at=clock(), lacks=PROC_LACKS, note=note,
                     version=version, conn_tab_size=size, totals=totals, hz=hz,
                     hz_source=hz_source or "given")


__all__ = ["PROC_LACKS", "ProcParseError", "detect_hz", "parse_ip_vs", "parse_ip_vs_stats", "read_proc_table"]
