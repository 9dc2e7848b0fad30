"""This node's IPVS table over generic netlink, read with pyroute2's AsyncIPVS.

How a read goes: pyroute2's AsyncIPVS, inside the caller's running event loop, resolves the "IPVS" generic netlink
family and asks GET_INFO (version, connection table size). The table itself is then dumped in a worker thread on a
private netlink socket of that family: one service dump, then one real-server dump per service (the kernel has no
"all real servers" dump; ipvsadm does the same). Ten thousand round trips through pyroute2's request machinery cost
more per request than the kernel does, and decoding a large table in the loop would stall it; in the thread, a
tight send/recv loop with the struct-per-layout decoders of nlattrs keeps within reach of ipvsadm and leaves the
caller's loop free (bench/ipvs_read.py measures both). A reader kept across refreshes reuses the objects of entries
whose bytes did not change (Reuse), so a refresh of a quiet table allocates almost nothing.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
from typing import Callable, Iterator

from pyroute2 import AsyncIPVS
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.exceptions import NetlinkError

from tui.ipvs.model import IPVSTable, RealServer, VirtualServer, utc_now
from tui.ipvs.nlattrs import (
    CMD_GET_DEST, CMD_GET_INFO, CMD_GET_SERVICE, GENL_VERSION, I32, INFO_CONN_TAB_SIZE, INFO_VERSION, MSG_HDR_LEN,
    NETLINK_GENERIC, NLATTR, NLMSGHDR, NetlinkParseError, ServiceReply, attr_map, decode_dest, decode_service,
    dest_decoder, genl_body, service_decoder, uint_attr,
)

class NetlinkReadError(Exception):
    """The kernel refused or failed a netlink request; `code` is the errno."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class IPVSNotInKernel(NetlinkReadError):
    """The generic netlink family "IPVS" does not exist: ip_vs is not loaded (or not built)."""


class IPVSPermissionDenied(NetlinkReadError):
    """Every IPVS netlink command needs CAP_NET_ADMIN (GENL_ADMIN_PERM)."""


# -- pyroute2 glue: raw messages through AsyncIPVS's request machinery ----------------------------------------------

class RawReply(dict):
    """What pyroute2's Marshal builds for each IPVS reply: the header decoded, the body left as raw bytes for the
    decoders above (pyroute2's own ipvsmsg decoding is both slow and, for addresses, wrong)."""

    def __init__(self, data: bytes | None = None, offset: int = 0, **_: object) -> None:
        super().__init__()
        self.data = data or b""
        self.offset = offset
        self.raw = b""

    def decode(self) -> None:
        length, mtype, flags, seq, pid = NLMSGHDR.unpack_from(self.data, self.offset)
        self["header"] = {"length": length, "type": mtype, "flags": flags, "sequence_number": seq, "pid": pid,
                          "error": None}
        self.raw = bytes(self.data[self.offset:self.offset + length])


class RawRequest(dict):
    """A request pyroute2's NetlinkRequest can send: it fills the header, we supply the genl body."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self["header"] = {}
        self.body = body
        self.data = b""

    def reset(self) -> None:
        pass

    def encode(self) -> None:
        h = self["header"]
        self.data = NLMSGHDR.pack(NLMSGHDR.size + len(self.body), h["type"], h["flags"], h["sequence_number"],
                              h["pid"]) + self.body


def _netlink_error(e: BaseException, what: str) -> NetlinkReadError:
    code = getattr(e, "code", None) or getattr(e, "errno", None) or 0
    if code in (errno.EPERM, errno.EACCES):
        return IPVSPermissionDenied(code, f"{what}: operation not permitted (needs CAP_NET_ADMIN)")
    if code in (errno.ENOENT, errno.ENOTSUP):
        return IPVSNotInKernel(code, f"{what}: the kernel has no IPVS netlink family (ip_vs is not loaded)")
    return NetlinkReadError(code, f"{what}: {os.strerror(code) if code else e}")


# -- the dumps: a private socket, a tight loop, a worker thread -----------------------------------------------------

_DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP


class _Dumper:
    """Blocking generic-netlink dumps on a private socket (used from one worker thread at a time)."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_GENERIC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.buf = bytearray(1 << 18)
        self.view = memoryview(self.buf)
        self.seq = 0

    def dump(self, body: bytes, what: str) -> Iterator[tuple[int, int]]:
        """Send one dump request; yield (start, end) in self.buf of the nest in each reply. A position is valid only
        until the next one is asked for (the buffer is reused)."""
        self.seq += 1
        seq, buf, recv_into = self.seq, self.buf, self.sock.recv_into
        self.sock.send(NLMSGHDR.pack(NLMSGHDR.size + len(body), self.family, _DUMP_FLAGS, seq, 0) + body)
        unpack_hdr, unpack_nla = NLMSGHDR.unpack_from, NLATTR.unpack_from
        while True:
            n = recv_into(buf)
            off = 0
            while off + 16 <= n:
                length, mtype, _flags, mseq, _pid = unpack_hdr(buf, off)
                if length < 16 or off + length > n:
                    raise NetlinkParseError(f"a truncated netlink message ({length} bytes)")
                if mseq == seq:
                    if mtype == NLMSG_DONE:
                        return
                    if mtype == NLMSG_ERROR:
                        code = -I32.unpack_from(buf, off + 16)[0]
                        if code:
                            raise _netlink_error(OSError(code, os.strerror(code)), what)
                        return
                    if mtype == self.family and length >= MSG_HDR_LEN + 4:
                        nla_len, _t = unpack_nla(buf, off + MSG_HDR_LEN)
                        if nla_len >= 4 and MSG_HDR_LEN + nla_len <= length:
                            yield off + MSG_HDR_LEN + 4, off + MSG_HDR_LEN + nla_len
                off += (length + 3) & ~3

    def close(self) -> None:
        self.sock.close()


class Reuse:
    """The previous read's objects, by the raw bytes they were decoded from. On a table that mostly stays the same
    between refreshes, an unchanged entry then costs a copy and a dict lookup: no decoding, and no new objects for
    the garbage collector, whose full passes over a large table are what stalls a running event loop."""

    def __init__(self) -> None:
        self.templates: dict[bytes, ServiceReply] = {}  # service nest -> its decoded service (never published)
        self.dests: dict[int, dict[bytes, RealServer]] = {}  # service family -> real-server nest -> real server
        self.services: dict[bytes, VirtualServer] = {}  # service nest -> the published virtual server


def read_services(family: int, cancel: threading.Event | None = None,
                  reuse: Reuse | None = None) -> list[VirtualServer]:
    """The whole table, blocking: one service dump, then one real-server dump per service."""
    old = reuse or Reuse()
    new = Reuse()
    dumper = _Dumper(family)
    try:
        cache: dict = {}
        addrs: dict = {}
        sdec, ddec = service_decoder(), dest_decoder()
        view = dumper.view
        replies: list[tuple[bytes, ServiceReply]] = []
        for s, e in dumper.dump(genl_body(CMD_GET_SERVICE), "listing IPVS services"):
            raw = bytes(view[s:e])
            tpl = old.templates.get(raw) or decode_service(sdec, raw, 0, len(raw), cache, addrs)
            new.templates[raw] = tpl
            replies.append((raw, tpl))
        head = bytes((CMD_GET_DEST, GENL_VERSION, 0, 0))
        services: list[VirtualServer] = []
        for raw, tpl in replies:
            if cancel is not None and cancel.is_set():
                raise asyncio.CancelledError()
            af = tpl.service.af
            seen, known = new.dests.setdefault(af, {}), old.dests.get(af, {})
            dests = []
            for s, e in dumper.dump(head + tpl.key_attrs, "listing real servers"):
                draw = bytes(view[s:e])
                rs = known.get(draw) or seen.get(draw) or decode_dest(ddec, draw, 0, len(draw), af, cache, addrs)
                seen[draw] = rs
                dests.append(rs)
            prev = old.services.get(raw)
            if prev is not None and len(prev.real_servers) == len(dests) and \
                    all(a is b for a, b in zip(prev.real_servers, dests)):
                vs = prev
            else:
                t = tpl.service  # (not dataclasses.replace: that costs six times as much, 10,000 times a read)
                vs = VirtualServer(t.protocol, t.address, t.port, t.af, t.fwmark, t.scheduler, t.flags, t.timeout,
                                   t.netmask, t.pe_name, t.stats, tuple(dests))
            new.services[raw] = vs
            services.append(vs)
        if reuse is not None:
            reuse.templates, reuse.dests, reuse.services = new.templates, new.dests, new.services
        return services
    finally:
        dumper.close()


class NetlinkReader:
    """Reads the IPVS table of this network namespace. Create and use it inside a running event loop; `read()` may
    be called again and again (one AsyncIPVS socket is kept); `close()` when done."""

    def __init__(self, clock: Callable = utc_now) -> None:
        self._clock = clock
        self._ipvs: AsyncIPVS | None = None
        self._family = 0
        self._reuse = Reuse()

    async def _open(self) -> AsyncIPVS:
        if self._ipvs is None:
            ipvs = AsyncIPVS()
            try:
                await ipvs.setup_endpoint()  # binds and resolves the "IPVS" generic netlink family
            except (NetlinkError, OSError) as e:
                ipvs.close()
                raise _netlink_error(e, "looking up the IPVS netlink family") from e
            ipvs.marshal.msg_map[ipvs.prid] = RawReply
            self._ipvs, self._family = ipvs, ipvs.prid
        return self._ipvs

    async def _request(self, body: bytes, flags: int, what: str) -> list[bytes]:
        ipvs = await self._open()
        try:
            replies = await ipvs.nlm_request(RawRequest(body), msg_type=self._family, msg_flags=flags)
            return [m.raw async for m in replies if isinstance(m, RawReply) and m.raw]
        except (NetlinkError, OSError) as e:
            raise _netlink_error(e, what) from e

    async def read(self) -> IPVSTable:
        info = await self._request(genl_body(CMD_GET_INFO), NLM_F_REQUEST, "asking IPVS for its version")
        version, size = "1.2.1", 4096
        for raw in info:
            a = attr_map(raw, MSG_HDR_LEN, len(raw))
            if INFO_VERSION in a:
                v = uint_attr(raw, a[INFO_VERSION])
                version = f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
            if INFO_CONN_TAB_SIZE in a:
                size = uint_attr(raw, a[INFO_CONN_TAB_SIZE])
        read_at = self._clock()
        cancel = threading.Event()
        try:
            services = await asyncio.to_thread(read_services, self._family, cancel, self._reuse)
        except BaseException:
            cancel.set()
            raise
        return IPVSTable(virtual_servers=tuple(services), source="netlink", read_at=read_at,
                         version=version, conn_tab_size=size)

    def close(self) -> None:
        if self._ipvs is not None:
            self._ipvs.close()
            self._ipvs = None


async def read_netlink(clock: Callable = utc_now) -> IPVSTable:
    """One read with a fresh socket (for one-shot use)."""
    reader = NetlinkReader(clock)
    try:
        return await reader.read()
    finally:
        reader.close()
