"""Prepared node trees for the preflight: proc/, sys/, lib/modules/<release>/, and tool binaries in usr/sbin/.

Each tree is laid out exactly like a node's own files, so the preflight reads it with the same code it uses on a
real machine; the tool binaries are small scripts that print what the real tool prints for `--version`.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Iterable

from tui.kube.preflight import NodeEnv

TOOL_LINES = {
    "ipset": "ipset v{v}, protocol version: 7",
    "nft": "nftables v{v} (Old Doc Yak #3)",
    "iptables": "iptables v{v}",
}


def make_node(root: Path, *, release: str = "6.1.0-18-amd64", loaded: Iterable[str] = (),
              builtin: Iterable[str] = (), files: Iterable[str] = (), config: dict[str, str] | None = None,
              proc_modules: bool = True, tools: dict[str, str] | None = None, is_root: bool = True) -> NodeEnv:
    """A node: `loaded` in /proc/modules (and /sys/module), `builtin` in modules.builtin, `files` as module files
    on disk (indexed in modules.dep), `tools` name -> version (iptables versions may carry "(legacy)")."""
    (root / "proc" / "sys" / "kernel").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "sys" / "kernel" / "osrelease").write_text(release + "\n")
    sysmod = root / "sys" / "module"
    sysmod.mkdir(parents=True, exist_ok=True)
    if proc_modules:
        lines = [f"{m} 188416 0 - Live 0x0000000000000000" for m in loaded]
        (root / "proc" / "modules").write_text("".join(line + "\n" for line in lines))
    for m in list(loaded) + list(builtin):
        (sysmod / m).mkdir(exist_ok=True)
    mod_dir = root / "lib" / "modules" / release
    mod_dir.mkdir(parents=True, exist_ok=True)
    (mod_dir / "modules.builtin").write_text("".join(f"kernel/net/{m}.ko\n" for m in builtin))
    dep = []
    for m in files:
        rel = f"kernel/net/netfilter/ipvs/{m}.ko.xz"
        (mod_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (mod_dir / rel).write_bytes(b"\x7fELF")
        dep.append(f"{rel}:\n")
    (mod_dir / "modules.dep").write_text("".join(dep))
    if config is not None:
        text = "".join(f"{k}={v}\n" if v != "n" else f"# {k} is not set\n" for k, v in config.items())
        (root / "proc" / "config.gz").write_bytes(gzip.compress(text.encode()))
    sbin = root / "usr" / "sbin"
    sbin.mkdir(parents=True, exist_ok=True)
    for name, version in (tools or {}).items():
        add_tool(root, name, TOOL_LINES[name].format(v=version))
    return NodeEnv.under(root, is_root=is_root)


def add_tool(root: Path, name: str, version_line: str, script: str = "") -> Path:
    path = root / "usr" / "sbin" / name
    path.write_text(f"#!/bin/sh\n{script}\necho '{version_line}'\n")
    os.chmod(path, 0o755)
    return path
