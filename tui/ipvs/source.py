"""Which source to read this node's IPVS table from, and why the table cannot be read, in words.

Order: netlink (complete: statistics, thresholds, persistent connections) when permitted, else /proc/net/ip_vs
(world-readable, less complete, said so in the table). Before any netlink call, /sys/module/ip_vs is checked:
newer kernels autoload ip_vs when a program asks for the "IPVS" generic netlink family, and looking must not change
the node (a node whose kube-proxy runs iptables or nftables has no ip_vs, and should keep having none).
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from tui.ipvs.model import IPVSTable, utc_now
from tui.ipvs.netlink import IPVSNotInKernel, IPVSPermissionDenied, NetlinkReadError, NetlinkReader
from tui.ipvs.procfs import ProcParseError, read_proc_table

SOURCES = ("auto", "netlink", "proc")

NO_MODULE = ("IPVS is not loaded in this kernel (no ip_vs module), so this node has no IPVS table: kube-proxy in "
             "iptables or nftables mode does not use IPVS. svcscope does not load it; if kube-proxy should run in "
             "ipvs mode, check its mode and its logs.")
NOT_A_NODE = ("there is no /proc/net/ip_vs here, so this is not an IPVS node: run svcscope on a Kubernetes node "
              "whose kube-proxy runs in ipvs mode.")
NEED_CAP = ("reading IPVS over netlink needs CAP_NET_ADMIN: run svcscope as root (sudo) or grant it "
            "CAP_NET_ADMIN; `--source proc` shows /proc/net/ip_vs without it.")
FALLBACK_NOTE = ("netlink was refused (it needs CAP_NET_ADMIN), so this is /proc/net/ip_vs: run svcscope as root "
                 "or grant it CAP_NET_ADMIN to see statistics, rates, thresholds and persistent connections.")


class IPVSUnavailable(Exception):
    """The table cannot be shown; str() is the one sentence for the user; `reason` is for code:
    "no-module" | "not-a-node" | "permission" | "error"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class IPVSSource:
    """Reads the table again and again from the best permitted source, keeping one netlink socket open.

    Use inside a running event loop; `read()` raises IPVSUnavailable with the words to show."""

    def __init__(self, source: str = "auto", proc_root: str = "/proc", sys_root: str = "/sys",
                 clock: Callable = utc_now) -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}")
        self.source = source
        self._proc_root = proc_root
        self._sys_root = sys_root
        self._clock = clock
        self._reader: NetlinkReader | None = None
        self._netlink_refused = False  # once EPERM, stay on /proc without asking again

    def _check_present(self) -> None:
        module_dir = os.path.join(self._sys_root, "module")
        loaded = os.path.isdir(os.path.join(module_dir, "ip_vs"))
        proc = os.path.exists(os.path.join(self._proc_root, "net", "ip_vs"))
        if loaded or proc:
            return
        if os.path.isdir(module_dir):
            raise IPVSUnavailable("no-module", NO_MODULE)
        raise IPVSUnavailable("not-a-node", NOT_A_NODE)

    async def read(self) -> IPVSTable:
        self._check_present()
        if self.source == "proc" or (self.source == "auto" and self._netlink_refused):
            return await self._read_proc(FALLBACK_NOTE if self._netlink_refused else "")
        try:
            if self._reader is None:
                self._reader = NetlinkReader(self._clock)
            return await self._reader.read()
        except IPVSPermissionDenied:
            self.close()
            if self.source == "netlink":
                raise IPVSUnavailable("permission", NEED_CAP) from None
            self._netlink_refused = True
            return await self._read_proc(FALLBACK_NOTE)
        except IPVSNotInKernel:
            self.close()
            raise IPVSUnavailable("no-module", NO_MODULE) from None
        except NetlinkReadError as e:
            self.close()
            raise IPVSUnavailable("error", f"reading IPVS over netlink failed: {e}; try --source proc.") from None

    async def _read_proc(self, note: str) -> IPVSTable:
        try:
            return await asyncio.to_thread(read_proc_table, self._proc_root, None, "", self._clock, note)
        except FileNotFoundError:
            raise IPVSUnavailable("not-a-node", NOT_A_NODE) from None
        except ProcParseError as e:
            raise IPVSUnavailable("error", f"cannot read the IPVS table: {e}.") from None
        except OSError as e:
            raise IPVSUnavailable("error", f"cannot read {self._proc_root}/net/ip_vs: {e.strerror or e}.") from None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


async def read_table(source: str = "auto", proc_root: str = "/proc", sys_root: str = "/sys",
                     clock: Callable = utc_now) -> IPVSTable:
    """One read (one-shot use)."""
    src = IPVSSource(source, proc_root, sys_root, clock)
    try:
        return await src.read()
    finally:
        src.close()
