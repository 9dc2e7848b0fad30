"""What an old kube-proxy mode left behind on this node after a switch, and how kube-proxy says to clean it up.

kube-proxy (1.29+) cleans up after itself only across the nftables boundary: starting in nftables mode it removes
iptables and ipvs rules, starting in iptables or ipvs mode it removes its nftables table. Between iptables and ipvs
nothing is cleaned (kubernetes#109286, #96034): KUBE-SVC-*/KUBE-SEP-* chains stay after iptables -> ipvs, virtual
servers, the kube-ipvs0 device and KUBE-* ipsets stay after ipvs -> iptables, and traffic can still hit them.

So the report lists everything on the node that the new mode does not own, whichever mode made it. Each source is
read with the node's own tools (iptables-save, ip6tables-save, nft, ipset, ip) through an injectable runner, and
IPVS through an injectable reader; a source that cannot be read is reported as unchecked, with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tui.ipvs.model import IPVSTable
from tui.ipvs.procfs import ProcParseError, read_proc_table
from tui.kube.preflight import Runner, default_path, run_command

CLEANUP = "kube-proxy --cleanup --proxy-mode={mode}"  # kube-proxy's documented cleanup, run where kube-proxy runs

# Chains the kubelet owns: never kube-proxy's leftovers.
KUBELET_CHAINS = {"KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "KUBE-MARK-DROP"}
IPTABLES_ONLY = {"KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS"}
IPTABLES_ONLY_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SVL-")
IPVS_ONLY = {"KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-LOOP-BACK", "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER",
             "KUBE-SOURCE-RANGES-FIREWALL"}
IPVS_DEVICE = "kube-ipvs0"
NFT_TABLE = "kube-proxy"

IpvsSource = Callable[[], IPVSTable]  # this node's IPVS table (tui.ipvs); the sim passes its emulated one


@dataclass(frozen=True)
class Leftover:
    what: str  # "IPVS virtual servers", "kube-ipvs0 device", "iptables chains", "ipsets", "nftables tables"
    items: tuple[str, ...]
    cleanup: tuple[str, ...]  # kube-proxy's own command first, then the by-hand equivalents
    owner: str  # the mode that made them

    def describe(self) -> str:
        shown = ", ".join(self.items[:5]) + (f" and {len(self.items) - 5} more" if len(self.items) > 5 else "")
        return f"{len(self.items)} {self.what} left by {self.owner} mode: {shown}"


@dataclass(frozen=True)
class LeftoverReport:
    new_mode: str
    leftovers: tuple[Leftover, ...]
    unchecked: tuple[str, ...] = ()  # "iptables chains: iptables-save is not installed"

    @property
    def clean(self) -> bool:
        return not self.leftovers


@dataclass(frozen=True)
class LeftoverEnv:
    run: Runner = run_command
    path: str = field(default_factory=default_path)
    ipvs: IpvsSource | None = None  # default: /proc/net/ip_vs under `proc` (world-readable; counting is enough)
    proc: Path = Path("/proc")
    # Why the node's tools cannot be asked (a simulated node has no iptables, nft or ipset); "" = ask them.
    no_tools: str = ""

    def ipvs_lines(self) -> list[str]:
        """`PROTO ADDR:PORT SCHED` per virtual server; OSError when the kernel has no IPVS table."""
        table = self.ipvs() if self.ipvs is not None else read_proc_table(str(self.proc))
        return [f"{vs.endpoint} {vs.scheduler}" for vs in table.virtual_servers]


def parse_iptables_save(text: str) -> dict[str, list[str]]:
    """table -> KUBE-* chains declared in `iptables-save` output."""
    out: dict[str, list[str]] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":KUBE-"):
            out.setdefault(table, []).append(line[1:].split()[0])
    return out


def parse_nft_tables(text: str) -> list[tuple[str, str]]:
    """(family, name) from `nft list tables`."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            out.append((parts[1], parts[2]))
    return out


def chain_owner(table: str, chain: str) -> str:
    """iptables, ipvs, shared (both iptables-based modes), or kubelet."""
    if chain in KUBELET_CHAINS or (chain == "KUBE-FIREWALL" and table == "filter"):
        return "kubelet"
    if chain in IPTABLES_ONLY or chain.startswith(IPTABLES_ONLY_PREFIXES):
        return "iptables"
    if chain in IPVS_ONLY or chain == "KUBE-FIREWALL":
        return "ipvs"
    return "shared"


def _unused_chain(table: str, chain: str, new_mode: str) -> bool:
    owner = chain_owner(table, chain)
    if owner == "kubelet":
        return False
    if new_mode == "nftables":
        return True
    if new_mode == "iptables":
        return owner == "ipvs"
    if new_mode == "ipvs":
        return owner == "iptables"
    return False


def _tool(env: LeftoverEnv, argv: Sequence[str], unchecked: list[str], what: str) -> str | None:
    if env.no_tools:
        unchecked.append(f"{what}: {env.no_tools}")
        return None
    path = shutil.which(argv[0], path=env.path)
    if path is None:
        unchecked.append(f"{what}: {argv[0]} is not installed")
        return None
    res = env.run([path, *argv[1:]])
    if res.returncode != 0:
        why = (res.stderr or res.stdout).strip().splitlines()
        unchecked.append(f"{what}: {' '.join(argv)} failed ({why[-1] if why else f'exit {res.returncode}'})")
        return None
    return res.stdout


def find_leftovers(new_mode: str, env: LeftoverEnv | None = None) -> LeftoverReport:
    env = env or LeftoverEnv()
    found: list[Leftover] = []
    unchecked: list[str] = []

    if new_mode != "ipvs":
        try:
            servers = tuple(env.ipvs_lines())
        except FileNotFoundError:
            servers = ()  # no /proc/net/ip_vs: no IPVS in this kernel, so nothing of it is left
        except (OSError, ProcParseError) as exc:
            servers = ()
            unchecked.append(f"IPVS virtual servers: {exc}")
        if servers:
            found.append(Leftover("IPVS virtual servers", servers,
                                  (CLEANUP.format(mode="ipvs"), "ipvsadm --clear"), "ipvs"))
        out = _tool(env, ["ip", "-o", "link", "show"], unchecked, f"{IPVS_DEVICE} device")
        if out is not None and re.search(rf"^\d+: {IPVS_DEVICE}[:@]", out, re.M):
            found.append(Leftover(f"{IPVS_DEVICE} device", (IPVS_DEVICE,),
                                  (CLEANUP.format(mode="ipvs"), f"ip link delete {IPVS_DEVICE}"), "ipvs"))
        out = _tool(env, ["ipset", "list", "-n"], unchecked, "ipsets")
        sets = tuple(s for s in (out or "").split() if s.startswith("KUBE-"))
        if sets:
            found.append(Leftover("ipsets", sets, (CLEANUP.format(mode="ipvs"),
                                                   "; ".join(f"ipset destroy {s}" for s in sets)), "ipvs"))

    chains: list[str] = []
    owners: set[str] = set()
    for save in ("iptables-save", "ip6tables-save"):
        out = _tool(env, [save], unchecked, "iptables chains")
        family = "ip6" if save.startswith("ip6") else "ip"
        for table, names in parse_iptables_save(out or "").items():
            for chain in names:
                if _unused_chain(table, chain, new_mode):
                    owner = chain_owner(table, chain)
                    owners.add(owner)
                    chains.append(f"{family} {table} {chain}")
    if chains:
        owner = "iptables" if owners <= {"iptables"} else "ipvs" if owners <= {"ipvs"} else "iptables/ipvs"
        modes = ["iptables", "ipvs"] if owner == "iptables/ipvs" else [owner]
        found.append(Leftover("iptables chains", tuple(chains),
                              tuple(CLEANUP.format(mode=m) for m in modes) +
                              ("iptables-save | grep -v KUBE- | iptables-restore  # drops every KUBE- rule",),
                              owner))

    if new_mode != "nftables":
        out = _tool(env, ["nft", "list", "tables"], unchecked, "nftables tables")
        tables = tuple(f"{fam} {name}" for fam, name in parse_nft_tables(out or "") if name == NFT_TABLE)
        if tables:
            found.append(Leftover("nftables tables", tables,
                                  (CLEANUP.format(mode="nftables"),) +
                                  tuple(f"nft delete table {t}" for t in tables), "nftables"))
    return LeftoverReport(new_mode, tuple(found), tuple(dict.fromkeys(unchecked)))


def report_json(report: LeftoverReport) -> str:
    return json.dumps({
        "newMode": report.new_mode,
        "leftovers": [{"what": lo.what, "owner": lo.owner, "items": list(lo.items), "cleanup": list(lo.cleanup)}
                      for lo in report.leftovers],
        "unchecked": list(report.unchecked),
    })
