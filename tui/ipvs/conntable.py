"""The IPVS connection table, /proc/net/ip_vs_conn: which real server took which client connection.

Netlink has no dump of IPVS connections, so this file is the only place the kernel says it. The kernel prints each
line with (net/netfilter/ipvs/ip_vs_conn.c, ip_vs_conn_seq_show)

    "%-3s %08X %04X %08X %04X %s %04X %-11s %7u%s\n"   (IPv4: protocol, client, virtual, destination, state,
                                                        seconds to expiry, then " PENAME PEDATA" when set)

IPv6 addresses in `%pI6` form (eight groups of four hex digits, no brackets); the destination's family may differ
from the client's (IPv6 services with IPv4 real servers), so each address is read by its own shape. Persistence
templates (sessionAffinity ClientIP) show client port 0. Anything not in that format raises ConnParseError naming
the line, never another exception: the caller shows it as one sentence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tui.ipvs.model import AF_INET
from tui.ipvs.proctext import ProcParseError, address, bad_line, hex_port, text_lines

CONN_PATH = "/proc/net/ip_vs_conn"

_PROTO = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
_STATE = re.compile(r"[A-Za-z_!][A-Za-z0-9_!]{0,15}")
_EXPIRES = re.compile(r"\d{1,10}")


class ConnParseError(ProcParseError):
    """/proc/net/ip_vs_conn text that is not in the kernel's format; the message says where and what."""


class ConnTableUnavailable(Exception):
    """The connection table cannot be read; str() is the sentence to show."""


@dataclass(frozen=True, slots=True)
class Conn:
    """One IPVS connection (or a persistence template, client port 0)."""

    protocol: str  # "TCP", "UDP", "SCTP", "IP" (firewall-mark templates), ...
    client: str
    client_port: int
    virtual: str
    virtual_port: int
    dest: str
    dest_port: int
    state: str  # ESTABLISHED, TIME_WAIT, ... (NONE/ASSURED for templates)
    expires: int  # seconds until the kernel drops it
    af: int = AF_INET  # the client side's family
    pe: str = ""  # persistence engine name and data (sip CALLID), as printed

    @property
    def template(self) -> bool:
        return self.client_port == 0

    @property
    def dest_endpoint(self) -> str:
        return f"[{self.dest}]:{self.dest_port}" if ":" in self.dest else f"{self.dest}:{self.dest_port}"


def parse_ip_vs_conn(text: str, name: str = CONN_PATH) -> tuple[Conn, ...]:
    """The text of /proc/net/ip_vs_conn (also ip_vs_conn_sync, whose Origin column is skipped) -> entries."""
    lines = text_lines(text, name, ConnParseError)
    if lines[0].split()[:2] != ["Pro", "FromIP"]:
        raise ConnParseError(f"{name} line 1 is not the kernel's header 'Pro FromIP FPrt ToIP ...': "
                             f"{lines[0][:120]!r}")
    sync = "Origin" in lines[0].split()
    out: list[Conn] = []
    for n, line in enumerate(lines[1:], start=2):
        tokens = line.split()

        def fail(why: str) -> ProcParseError:
            return bad_line(name, n, line, why, ConnParseError)

        if len(tokens) < 9 + sync:
            raise fail(f"a connection line has at least {9 + sync} fields")
        if sync:  # ip_vs_conn_sync: the origin (LOCAL or SYNC) stands between the state and the expiry
            if tokens[8] not in ("LOCAL", "SYNC"):
                raise fail("expected LOCAL or SYNC before the expiry")
            del tokens[8]
        proto, caddr, cport, vaddr, vport, daddr, dport, state, expires = tokens[:9]
        rest = tokens[9:]
        if not _PROTO.fullmatch(proto):
            raise fail("bad protocol name")
        c, v, d = (address(a, full_form=True) for a in (caddr, vaddr, daddr))
        if c is None or v is None or d is None:
            raise fail("an address is neither 8 hex digits nor an IPv6 address")
        if c[0] != v[0]:
            raise fail("client and virtual addresses of different families")
        cp, vp, dp = (hex_port(p) for p in (cport, vport, dport))
        if cp is None or vp is None or dp is None:
            raise fail("a port is not 4 hex digits")
        if not _STATE.fullmatch(state):
            raise fail("bad state name")
        if not _EXPIRES.fullmatch(expires):
            raise fail("the expiry is not a number of seconds")
        out.append(Conn(proto, c[1], cp, v[1], vp, d[1], dp, state, int(expires), c[0], " ".join(rest)))
    return tuple(out)


def read_conn_table(proc_root: str = "/proc") -> tuple[Conn, ...]:
    """Read and parse the connection table; ConnTableUnavailable with the words to show when it cannot be."""
    path = os.path.join(proc_root, "net", "ip_vs_conn")
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConnTableUnavailable(f"there is no IPVS connection table here ({path} is missing: ip_vs is not "
                                   "loaded), so which real server took each connection cannot be known") from None
    except OSError as e:
        raise ConnTableUnavailable(f"cannot read the IPVS connection table {path}: {e.strerror or e}") from None
    try:
        return parse_ip_vs_conn(text, path)
    except ConnParseError as e:
        raise ConnTableUnavailable(f"cannot read the IPVS connection table: {e}") from None


__all__ = ["CONN_PATH", "Conn", "ConnParseError", "ConnTableUnavailable", "parse_ip_vs_conn", "read_conn_table"]
