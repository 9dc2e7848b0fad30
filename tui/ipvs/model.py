"""One model of an IPVS table, produced alike by the netlink reader, the /proc reader and the kube-proxy emulator.

Values mean what the kernel means (include/uapi/linux/ip_vs.h), in the units an admin reads: persistence timeouts
in seconds (never jiffies), addresses as the C library's inet_ntop prints them (so ipvsadm's output can be
reproduced byte for byte). A field a source cannot know is None, and the table says in words what its source lacks.

Stats, RealServer and VirtualServer are plain (not frozen) slotted dataclasses on purpose: a frozen dataclass sets
each field through object.__setattr__, which made building 60,000 real servers cost more than reading them from
the kernel. They are never changed after construction: treat every instance, and every table, as an immutable
snapshot (build a new one with dataclasses.replace).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

# Plain ints, not socket.AddressFamily members: an enum member is an object the cyclic GC tracks, so every key
# tuple holding one (VirtualServer.key, 60,000 of them a read) stayed tracked and made full collections walk them.
AF_INET = int(socket.AF_INET)
AF_INET6 = int(socket.AF_INET6)

PROTOCOL_NUMBERS: dict[str, int] = {"TCP": 6, "UDP": 17, "SCTP": 132, "AH": 51, "ESP": 50}
PROTOCOL_NAMES: dict[int, str] = {v: k for k, v in PROTOCOL_NUMBERS.items()}

# IPVS_DEST_ATTR_FWD_METHOD / IP_VS_CONN_F_FWD_MASK values, in the kernel's order.
FORWARD_METHODS: tuple[str, ...] = ("Masq", "Local", "Tunnel", "Route")

# Service flags (IP_VS_SVC_F_*).
F_PERSISTENT = 0x1
F_HASHED = 0x2  # set by the kernel itself while the service is in its hash table
F_ONEPACKET = 0x4
F_SCHED1 = 0x8  # sh-fallback / mh-fallback
F_SCHED2 = 0x10  # sh-port / mh-port (kube-proxy's "FlagSourceHash" for mh is this bit)
F_SCHED3 = 0x20
SCHED_FLAGS = F_SCHED1 | F_SCHED2 | F_SCHED3

# Scheduler flags as ipvsadm names them.
_SCHED_FLAG_NAMES: dict[str, tuple[tuple[int, str], ...]] = {
    "sh": ((F_SCHED1, "sh-fallback"), (F_SCHED2, "sh-port")),
    "mh": ((F_SCHED1, "mh-fallback"), (F_SCHED2, "mh-port")),
}
_GENERIC_SCHED_FLAGS = ((F_SCHED1, "flag-1"), (F_SCHED2, "flag-2"), (F_SCHED3, "flag-3"))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def protocol_name(number: int) -> str:
    return PROTOCOL_NAMES.get(number, f"IP_{number}")


def forward_name(method: int) -> str:
    return FORWARD_METHODS[method] if 0 <= method < len(FORWARD_METHODS) else f"method-{method}"


def address_text(af: int, packed: bytes) -> str:
    """The C library's inet_ntop, as ipvsadm and kube-proxy print addresses (IPv6 compressed)."""
    return socket.inet_ntop(af, packed[:4] if af == AF_INET else packed[:16])


def endpoint_text(af: int, address: str, port: int) -> str:
    return f"[{address}]:{port}" if af == AF_INET6 else f"{address}:{port}"


@dataclass(slots=True)
class Stats:
    """The kernel's counters (64-bit) and its estimated rates (per second), for a service, a server or the total."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


ZERO_STATS = Stats()


@dataclass(slots=True)
class RealServer:
    address: str
    port: int
    af: int = AF_INET
    forward: str = "Masq"  # one of FORWARD_METHODS
    weight: int = 1
    active_conns: int = 0
    inactive_conns: int = 0
    persistent_conns: int | None = 0  # None: the source does not show it (/proc)
    u_threshold: int | None = 0
    l_threshold: int | None = 0
    stats: Stats | None = None
    tun_type: int | None = None  # tunnel encapsulation (ipip 0, gue 1, gre 2) when the kernel reports it
    tun_port: int | None = None
    tun_flags: int | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    @property
    def endpoint(self) -> str:
        return endpoint_text(self.af, self.address, self.port)


@dataclass(slots=True)
class VirtualServer:
    protocol: str  # "TCP" | "UDP" | "SCTP" (also "AH"/"ESP"); "" for a firewall-mark service
    address: str  # "" for a firewall-mark service
    port: int
    af: int = AF_INET
    fwmark: int = 0
    scheduler: str = "rr"
    flags: int = 0
    timeout: int = 0  # persistence timeout, seconds
    # IPv4: the persistence netmask as a 32-bit number (0xFFFFFFFF = /32); IPv6: the prefix length (128).
    netmask: int = 0xFFFFFFFF
    pe_name: str = ""  # persistence engine (e.g. "sip"), "" if none
    stats: Stats | None = None
    real_servers: tuple[RealServer, ...] = ()

    @property
    def is_fwmark(self) -> bool:
        return self.fwmark != 0

    @property
    def persistent(self) -> bool:
        return bool(self.flags & F_PERSISTENT)

    @property
    def hashed(self) -> bool:
        return bool(self.flags & F_HASHED)

    @property
    def one_packet(self) -> bool:
        return bool(self.flags & F_ONEPACKET)

    @property
    def sched_flag_names(self) -> tuple[str, ...]:
        table = _SCHED_FLAG_NAMES.get(self.scheduler, _GENERIC_SCHED_FLAGS)
        return tuple(name for bit, name in table if self.flags & bit)

    @property
    def key(self) -> tuple[int, str, str, int, int]:
        """What identifies a virtual server in the kernel: (af, protocol, address, port, fwmark)."""
        return (self.af, self.protocol, self.address, self.port, self.fwmark)

    @property
    def endpoint(self) -> str:
        """`TCP 10.96.0.1:443`, `UDP [fd00::a]:53`, `FWM 42` (`FWM 42 IPv6`)."""
        if self.is_fwmark:
            return f"FWM {self.fwmark}" + (" IPv6" if self.af == AF_INET6 else "")
        return f"{self.protocol} {endpoint_text(self.af, self.address, self.port)}"

    @property
    def netmask_text(self) -> str:
        if self.af == AF_INET6:
            return str(self.netmask)
        return socket.inet_ntop(AF_INET, (self.netmask & 0xFFFFFFFF).to_bytes(4, "big"))

    @property
    def default_netmask(self) -> bool:
        return self.netmask == (128 if self.af == AF_INET6 else 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class IPVSTable:
    virtual_servers: tuple[VirtualServer, ...]  # in the kernel's own order (hash buckets), unsorted
    source: str  # "netlink" | "proc" | "emulated"
    read_at: datetime = field(default_factory=utc_now)
    lacks: tuple[str, ...] = ()  # what this source cannot show, in words
    note: str = ""  # why this source was used (e.g. the netlink error that made it fall back)
    version: str = "1.2.1"  # the kernel's IPVS version
    conn_tab_size: int = 4096
    totals: Stats | None = None  # /proc/net/ip_vs_stats
    hz: int | None = None  # the kernel HZ used to turn /proc's jiffies into seconds
    hz_source: str = ""  # how that HZ was found

    @property
    def real_server_count(self) -> int:
        return sum(len(vs.real_servers) for vs in self.virtual_servers)

    def find(self, protocol: str, address: str, port: int) -> VirtualServer | None:
        for vs in self.virtual_servers:
            if vs.protocol == protocol and vs.address == address and vs.port == port:
                return vs
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `-o json`: every field, stats as objects, the time as ISO 8601."""
        return {
            "source": self.source,
            "readAt": self.read_at.isoformat(),
            "lacks": list(self.lacks),
            "note": self.note,
            "version": self.version,
            "connTabSize": self.conn_tab_size,
            "totals": _stats_dict(self.totals),
            "hz": self.hz,
            "hzSource": self.hz_source,
            "virtualServers": [_vs_dict(vs) for vs in self.virtual_servers],
        }


def _stats_dict(s: Stats | None) -> dict[str, int] | None:
    return None if s is None else {f.name: getattr(s, f.name) for f in fields(Stats)}


def _rs_dict(rs: RealServer) -> dict[str, Any]:
    return {
        "address": rs.address, "port": rs.port, "af": "inet6" if rs.af == AF_INET6 else "inet",
        "forward": rs.forward, "weight": rs.weight, "activeConns": rs.active_conns,
        "inactiveConns": rs.inactive_conns, "persistentConns": rs.persistent_conns,
        "upperThreshold": rs.u_threshold, "lowerThreshold": rs.l_threshold, "stats": _stats_dict(rs.stats),
        "tunType": rs.tun_type, "tunPort": rs.tun_port, "tunFlags": rs.tun_flags,
    }


def _vs_dict(vs: VirtualServer) -> dict[str, Any]:
    return {
        "protocol": vs.protocol, "address": vs.address, "port": vs.port, "fwmark": vs.fwmark,
        "af": "inet6" if vs.af == AF_INET6 else "inet", "scheduler": vs.scheduler, "flags": vs.flags,
        "schedFlags": list(vs.sched_flag_names), "persistent": vs.persistent, "onePacket": vs.one_packet,
        "timeout": vs.timeout, "netmask": vs.netmask_text, "peName": vs.pe_name, "stats": _stats_dict(vs.stats),
        "realServers": [_rs_dict(rs) for rs in vs.real_servers],
    }
