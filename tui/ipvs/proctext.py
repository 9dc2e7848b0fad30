"""What the /proc/net/ip_vs* files have in common: the kernel's line layout, its hex and IPv6 address forms, and the
one error that names the file, the line and what is wrong (never another exception: callers show it as a sentence).

Read by tui.ipvs.procfs (the table, /proc/net/ip_vs) and tui.ipvs.conntable (the connections, /proc/net/ip_vs_conn).
"""

from __future__ import annotations

import re
import socket

from tui.ipvs.model import AF_INET, AF_INET6

_HEX_V4 = re.compile(r"[0-9A-Fa-f]{8}")
_HEX_PORT = re.compile(r"[0-9A-Fa-f]{4}")
_V6_TEXT = re.compile(r"[0-9A-Fa-f:]{2,39}")
_V6_FULL = re.compile(r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}")


class ProcParseError(ValueError):
    """/proc text that is not in the kernel's format; the message names the file, the line and what is wrong."""


def text_lines(text: str, name: str, error: type[ProcParseError] = ProcParseError) -> list[str]:
    """The file's lines without the final newline's empty one; `error` when there are none (the kernel always
    prints a header)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise error(f"{name} is empty: the kernel always prints a header there")
    return lines


def bad_line(name: str, n: int, line: str, why: str, error: type[ProcParseError] = ProcParseError) -> ProcParseError:
    """The error for line `n` (1-based), quoting its start."""
    return error(f"{name} line {n} is not in the kernel's format ({why}): {line[:120]!r}")


def hex_ipv4(token: str) -> str | None:
    """`0A600001` (the kernel's %08X of an IPv4 address) -> "10.96.0.1"; None if not 8 hex digits."""
    if not _HEX_V4.fullmatch(token):
        return None
    return socket.inet_ntop(AF_INET, int(token, 16).to_bytes(4, "big"))


def ipv6(token: str, full_form: bool = False) -> str | None:
    """An IPv6 address as the kernel prints it (%pI6, eight groups; any valid text form unless `full_form`) -> its
    short form; None if not an IPv6 address."""
    if not (_V6_FULL if full_form else _V6_TEXT).fullmatch(token):
        return None
    try:
        return socket.inet_ntop(AF_INET6, socket.inet_pton(AF_INET6, token))
    except OSError:
        return None


def hex_port(token: str) -> int | None:
    """`01BB` (the kernel's %04X of a port) -> 443; None if not 4 hex digits."""
    return int(token, 16) if _HEX_PORT.fullmatch(token) else None


def address(token: str, full_form: bool = False) -> tuple[int, str] | None:
    """An address in either family's form (8 hex digits, or IPv6 text) -> (af, text); None if neither."""
    v4 = hex_ipv4(token)
    if v4 is not None:
        return AF_INET, v4
    v6 = ipv6(token, full_form)
    return None if v6 is None else (AF_INET6, v6)


__all__ = ["ProcParseError", "address", "bad_line", "hex_ipv4", "hex_port", "ipv6", "text_lines"]
