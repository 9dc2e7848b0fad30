"""Can kube-proxy run in a given mode on this node? The checks an admin would do by hand, before the switch.

Since Kubernetes 1.26 kube-proxy exits when its mode cannot run (no fallback), so a wrong switch takes Services,
DNS included, down on that node. Each check says pass, warn or fail, why, and the command that fixes it; a failed
blocking check stops the switch unless the admin overrides it.

Node facts come from files and binaries whose locations are injectable (`NodeEnv`): tests point them at prepared
trees, `--demo` at the emulated node's tree, and by default they are this machine's /proc, /sys, /lib/modules and
PATH. Module state is read the ways kube-proxy and the kernel expose it: /proc/modules (loaded), modules.builtin and
the kernel config (built in), /sys/module (either), a module file under /lib/modules/<release> (loadable).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from tui.kube.guard import Guard, StepResult
from tui.kube.proxy_config import DEFAULT_SCHEDULER

MIN_IPSET_VERSION = (6, 0)  # kube-proxy's MinIPSetCheckVersion
NFTABLES_MIN_KERNEL = (5, 13)  # utilkernel.NFTablesKubeProxyKernelVersion (pkg/proxy/nftables/supported.go)
NFT_MIN_VERSION = (1, 0, 1)  # knftables refuses older nft (it parsed the whole ruleset)
IPVS_DEPRECATED_MINOR = 35  # KEP-5495
NFTABLES_ALPHA_MINOR, NFTABLES_GA_MINOR = 29, 33  # KEP-3866: alpha 1.29, beta 1.31, GA 1.33
ADDON_MANAGER_LABEL = "addonmanager.kubernetes.io/mode"
# kube-proxy's ipvs proxier creates sets of these types; the kernel loads their modules on first use.
IPSET_TYPE_MODULES = ("ip_set_hash_ip", "ip_set_hash_ipport", "ip_set_hash_ipportip", "ip_set_hash_ipportnet",
                      "ip_set_hash_net", "ip_set_bitmap_port")
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


class ModuleState(str, Enum):
    LOADED = "loaded"
    BUILTIN = "built in"
    LOADABLE = "not loaded"  # a module file exists: modprobe (or the kernel on first use) can load it
    MISSING = "missing"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # one sentence: what was found, and why it matters when it fails
    fix_command: str = ""
    blocking: bool = True  # a failed blocking check stops the switch (unless forced); others are warnings
    module: str = ""  # set when `modprobe <module>` would fix it: offered as its own step when root

    @property
    def status(self) -> str:
        return "pass" if self.ok else ("fail" if self.blocking else "warn")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str = ""


Runner = Callable[[Sequence[str]], CommandResult]


def run_command(argv: Sequence[str]) -> CommandResult:
    """Run a short command (a --version, modprobe); never raises: a missing binary is returncode 127."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    except FileNotFoundError as exc:
        return CommandResult(127, "", str(exc))
    except subprocess.TimeoutExpired:
        return CommandResult(124, "", f"{argv[0]} did not answer within 20 seconds")
    except OSError as exc:
        return CommandResult(126, "", str(exc))
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def default_path() -> str:
    parts = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(p for p in parts + [d for d in SBIN_DIRS if d not in parts] if p)


@dataclass(frozen=True)
class NodeEnv:
    """Where this node's facts are read from. Defaults are the real machine."""

    root_proc: Path = Path("/proc")
    root_sys: Path = Path("/sys")
    lib_modules: Path = Path("/lib/modules")
    boot: Path = Path("/boot")
    path: str = field(default_factory=default_path)  # where binaries are looked up, as $PATH
    run: Runner = run_command
    is_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    name: str = "this node"

    @classmethod
    def under(cls, root: Path, **kw: Any) -> "NodeEnv":
        """A node whose files live under `root` (proc/, sys/, lib/modules/, boot/, and binaries in usr/sbin)."""
        kw.setdefault("path", str(root / "usr" / "sbin"))
        return cls(root / "proc", root / "sys", root / "lib" / "modules", root / "boot", **kw)

    def which(self, binary: str) -> str | None:
        return shutil.which(binary, path=self.path)

    def kernel_release(self) -> str:
        try:
            return (self.root_proc / "sys" / "kernel" / "osrelease").read_text().strip()
        except OSError:
            return os.uname().release if self.root_proc == Path("/proc") else ""


def _norm(name: str) -> str:
    return name.replace("-", "_")


def parse_version(text: str, parts: int = 3) -> tuple[int, ...] | None:
    """The first dotted number in `text` ("6.18.44-fc", "ipset v7.17, protocol version: 7") as a tuple."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    nums = [int(g) if g is not None else 0 for g in m.groups()]
    return tuple(nums[:parts])


def _fmt(v: Sequence[int]) -> str:
    return ".".join(str(x) for x in v)


class ModuleTable:
    """What this node's kernel has, read once: loaded modules, built-in ones, module files on disk."""

    def __init__(self, env: NodeEnv) -> None:
        self.env = env
        self.release = env.kernel_release()
        self.proc_modules_readable = False
        self.loaded: set[str] = set()
        try:
            text = (env.root_proc / "modules").read_text()
            self.proc_modules_readable = True
            self.loaded = {_norm(line.split()[0]) for line in text.splitlines() if line.strip()}
        except OSError:
            pass
        self.sys_modules: set[str] = set()
        try:
            self.sys_modules = {_norm(p.name) for p in (env.root_sys / "module").iterdir()}
        except OSError:
            pass
        mod_dir = env.lib_modules / self.release if self.release else None
        self.builtin: set[str] = set()
        self.files: dict[str, str] = {}  # module name -> path relative to /lib/modules/<release>
        if mod_dir is not None:
            try:
                for line in (mod_dir / "modules.builtin").read_text().splitlines():
                    if line.strip():
                        self.builtin.add(_norm(_module_name(line.strip())))
            except OSError:
                pass
            self.files = _module_files(mod_dir)
        self.config = _kernel_config(env, self.release)

    @property
    def modules_supported(self) -> bool:
        """A kernel built without CONFIG_MODULES has no /proc/modules: only built-in code exists."""
        return self.proc_modules_readable or self.config.get("CONFIG_MODULES") == "y"

    def state(self, name: str) -> tuple[ModuleState, str]:
        """(state, how we know) for one module."""
        n = _norm(name)
        symbol = "CONFIG_" + n.upper()
        if n in self.loaded:
            return ModuleState.LOADED, "listed in /proc/modules"
        if n in self.builtin:
            return ModuleState.BUILTIN, f"listed in /lib/modules/{self.release}/modules.builtin"
        if self.config.get(symbol) == "y":
            return ModuleState.BUILTIN, f"{symbol}=y in the kernel config"
        if n in self.sys_modules:  # loaded modules were answered above, so this one is built in
            return ModuleState.BUILTIN, f"/sys/module/{n} exists but it is not a loaded module"
        if n in self.files and self.modules_supported:
            return ModuleState.LOADABLE, f"/lib/modules/{self.release}/{self.files[n]} exists"
        if not self.modules_supported:
            return ModuleState.MISSING, ("this kernel has no loadable module support (/proc/modules is absent) "
                                         "and does not have it built in")
        return ModuleState.MISSING, (f"not loaded, not built in, and no module file under "
                                     f"/lib/modules/{self.release or '<release>'}")


def _module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    for ext in (".ko.zst", ".ko.xz", ".ko.gz", ".ko"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


def _module_files(mod_dir: Path) -> dict[str, str]:
    """Module files known to depmod (modules.dep), or found by walking the tree when there is no index."""
    out: dict[str, str] = {}
    try:
        for line in (mod_dir / "modules.dep").read_text().splitlines():
            path = line.split(":", 1)[0].strip()
            if path:
                out[_norm(_module_name(path))] = path
        return out
    except OSError:
        pass
    kernel = mod_dir / "kernel"
    if kernel.is_dir():
        for dirpath, _, files in os.walk(kernel):
            for f in files:
                if ".ko" in f:
                    out[_norm(_module_name(f))] = str(Path(dirpath, f).relative_to(mod_dir))
    return out


def _kernel_config(env: NodeEnv, release: str) -> dict[str, str]:
    """CONFIG_* = y|m from /proc/config.gz or /boot/config-<release> (either may be absent)."""
    text = ""
    try:
        text = gzip.decompress((env.root_proc / "config.gz").read_bytes()).decode(errors="replace")
    except (OSError, EOFError, gzip.BadGzipFile):
        try:
            text = (env.boot / f"config-{release}").read_text(errors="replace")
        except OSError:
            return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v.strip()
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            out[line[2:-len(" is not set")]] = "n"
    return out


def module_check(table: ModuleTable, name: str, why: str, blocking: bool = True) -> Check:
    state, how = table.state(name)
    label = f"kernel module {name}"
    if state in (ModuleState.LOADED, ModuleState.BUILTIN):
        return Check(label, True, f"{state.value} ({how})")
    if state is ModuleState.LOADABLE:
        return Check(label, False, f"not loaded yet ({how}); the kernel can load it, load it now to be sure "
                                   f"and add it to /etc/modules-load.d so it survives a reboot",
                     f"modprobe {name}", blocking=False, module=name)
    if table.modules_supported:
        fix = f"install the kernel modules package for {table.release or 'this kernel'}, then modprobe {name}"
    else:
        fix = f"boot a kernel built with CONFIG_{_norm(name).upper()}=y (this one cannot load modules)"
    return Check(label, False, f"{how}; {why}", fix, blocking=blocking)


def _binary_version(env: NodeEnv, binary: str, args: Sequence[str] = ("--version",)) -> tuple[str | None, str]:
    """(path, first line of `binary --version`) or (None, "") when it is not installed."""
    path = env.which(binary)
    if path is None:
        return None, ""
    res = env.run([path, *args])
    out = (res.stdout or res.stderr).strip().splitlines()
    return path, out[0] if out else ""


def ipset_check(env: NodeEnv) -> Check:
    path, line = _binary_version(env, "ipset", ("--version",))
    if path is None:
        return Check("ipset binary", False, f"ipset is not installed (looked in {env.path}); kube-proxy's ipvs "
                                            "mode needs ipset >= 6.0", "apt-get install ipset  # or: dnf install ipset")
    version = parse_version(line, 2)
    if version is None:
        return Check("ipset binary", False, f"{path} --version printed {line!r}, which has no version number",
                     "apt-get install --reinstall ipset")
    if version < MIN_IPSET_VERSION:
        return Check("ipset binary", False, f"ipset {_fmt(version)} at {path} is older than 6.0, which kube-proxy "
                                            "requires for ipvs mode", "apt-get install ipset  # a version >= 6.0")
    return Check("ipset binary", True, f"ipset {_fmt(version)} at {path} (>= 6.0)")


def iptables_check(env: NodeEnv) -> Check:
    path, line = _binary_version(env, "iptables")
    if path is None:
        return Check("iptables binary", False, "iptables is not installed on the node; kube-proxy brings its own, "
                                               "but you need it to inspect its rules",
                     "apt-get install iptables", blocking=False)
    m = re.search(r"\((legacy|nf_tables)\)", line)
    backend = m.group(1) if m else "unknown backend"
    return Check("iptables binary", True, f"{line or path} at {path}: backend {backend}")


def iptables_backend(env: NodeEnv) -> str:
    """legacy, nf_tables, or "" when unknown (the backend decides which kernel support iptables mode uses)."""
    _, line = _binary_version(env, "iptables")
    m = re.search(r"\((legacy|nf_tables)\)", line)
    return m.group(1) if m else ""


def nft_check(env: NodeEnv) -> Check:
    path, line = _binary_version(env, "nft", ("--version",))
    if path is None:
        return Check("nft binary", False, "nft is not installed on the node; kube-proxy brings its own, but you "
                                          "need it to inspect and clean up its tables",
                     "apt-get install nftables", blocking=False)
    version = parse_version(line, 3)
    if version is not None and version < NFT_MIN_VERSION:
        return Check("nft binary", False, f"nft {_fmt(version)} at {path} is older than 1.0.1: it can crash on the "
                                          "rules kube-proxy writes", "apt-get install nftables  # >= 1.0.1",
                     blocking=False)
    shown = _fmt(version) if version else line
    return Check("nft binary", True, f"nft {shown} at {path}")


def kernel_check(env: NodeEnv) -> Check:
    release = env.kernel_release()
    version = parse_version(release, 2)
    if version is None:
        return Check("kernel version", False, f"cannot read the kernel version ({release!r}); kube-proxy's nftables "
                                              "mode needs 5.13 or later", "uname -r")
    if version < NFTABLES_MIN_KERNEL:
        return Check("kernel version", False, f"kernel {release} is older than 5.13, which kube-proxy's nftables mode "
                                              "requires (it exits otherwise)",
                     "upgrade the kernel, or set KUBE_PROXY_NFTABLES_SKIP_KERNEL_VERSION_CHECK=1 on kube-proxy")
    return Check("kernel version", True, f"kernel {release} (>= 5.13)")


def node_checks(mode: str, env: NodeEnv | None = None, scheduler: str = "") -> list[Check]:
    """The checks for running kube-proxy in `mode` on the node `env` describes."""
    env = env or NodeEnv()
    table = ModuleTable(env)
    checks: list[Check] = []
    if mode == "ipvs":
        sched = scheduler or DEFAULT_SCHEDULER
        checks.append(module_check(table, "ip_vs", "kube-proxy's ipvs mode cannot start without IPVS"))
        checks.append(module_check(table, f"ip_vs_{sched}",
                                   f"kube-proxy cannot create virtual servers with the {sched} scheduler"))
        conntrack = "nf_conntrack" if (parse_version(table.release, 2) or (0, 0)) >= (4, 19) else "nf_conntrack_ipv4"
        checks.append(module_check(table, conntrack, "kube-proxy needs connection tracking for NAT"))
        checks.append(module_check(table, "ip_set", "kube-proxy's ipvs mode keeps its address sets in ipset"))
        missing = [m for m in IPSET_TYPE_MODULES if table.state(m)[0] is ModuleState.MISSING]
        if missing:
            checks.append(Check("ipset set types", False, f"{', '.join(missing)} not available; kube-proxy creates "
                                "sets of these types", f"modprobe {missing[0]}", blocking=False))
        checks.append(ipset_check(env))
    elif mode == "nftables":
        checks.append(kernel_check(env))
        checks.append(module_check(table, "nf_tables", "kube-proxy's nftables mode programs nf_tables"))
        checks.append(module_check(table, "nf_conntrack", "kube-proxy needs connection tracking for NAT"))
        checks.append(nft_check(env))
    elif mode == "iptables":
        checks.append(iptables_check(env))
        backend = iptables_backend(env)
        if backend == "legacy":
            checks.append(module_check(table, "ip_tables", "iptables-legacy programs the ip_tables kernel tables"))
        elif backend == "nf_tables":
            checks.append(module_check(table, "nf_tables", "iptables-nft programs nf_tables"))
        checks.append(module_check(table, "nf_conntrack", "kube-proxy needs connection tracking for NAT"))
    else:
        checks.append(Check("mode", False, f"{mode!r} is not a kube-proxy mode on Linux (iptables, ipvs, nftables)"))
    return checks


# -- cluster-level warnings -----------------------------------------------------------------------------------------

_MANAGED_MARKERS: tuple[tuple[str, str], ...] = (
    ("eks.amazonaws.com", "Amazon EKS"),
    ("kubernetes.azure.com", "Azure AKS"),
    ("components.gke.io", "Google GKE"),
    ("cloud.google.com/gke", "Google GKE"),
)


def cluster_minor(version: Mapping[str, Any] | None) -> int | None:
    """The minor version from /version ("35", "35+") or gitVersion ("v1.35.2-eks-1")."""
    if not version:
        return None
    minor = str(version.get("minor", "")).rstrip("+")
    if minor.isdigit():
        return int(minor)
    v = parse_version(str(version.get("gitVersion", "")), 2)
    return v[1] if v else None


def _meta_keys(obj: Mapping[str, Any] | None) -> dict[str, str]:
    meta = (obj or {}).get("metadata") or {}
    out: dict[str, str] = {}
    for part in ("labels", "annotations"):
        for k, v in (meta.get(part) or {}).items():
            out[str(k)] = str(v)
    return out


def managed_by(configmap: Mapping[str, Any] | None, daemonset: Mapping[str, Any] | None,
               nodes: Sequence[Mapping[str, Any]] = (), version: Mapping[str, Any] | None = None) -> str:
    """The managed control plane that owns kube-proxy, or "" (from labels, annotations, the server version)."""
    git = str((version or {}).get("gitVersion", ""))
    if "-eks-" in git:
        return "Amazon EKS"
    if "-gke." in git:
        return "Google GKE"
    for obj in (configmap, daemonset, *nodes):
        for key in _meta_keys(obj):
            for marker, platform in _MANAGED_MARKERS:
                if marker in key:
                    return platform
    return ""


def cluster_checks(mode: str, version: Mapping[str, Any] | None, configmap: Mapping[str, Any] | None,
                   daemonset: Mapping[str, Any] | None = None, nodes: Sequence[Mapping[str, Any]] = ()) -> list[Check]:
    checks: list[Check] = []
    minor = cluster_minor(version)
    shown = (version or {}).get("gitVersion") or (f"1.{minor}" if minor is not None else "unknown")
    if mode == "ipvs" and minor is not None and minor >= IPVS_DEPRECATED_MINOR:
        checks.append(Check("ipvs deprecation", False, f"the cluster runs {shown}: ipvs mode is deprecated since "
                            "1.35 (KEP-5495) and planned to be off by default in 1.40; nftables is its successor",
                            "svcscope proxy-mode --set nftables", blocking=False))
    if mode == "nftables" and minor is not None:
        if minor < NFTABLES_ALPHA_MINOR:
            checks.append(Check("nftables support", False, f"the cluster runs {shown}: kube-proxy has nftables mode "
                                "only since 1.29", "upgrade the cluster to 1.29 or later"))
        elif minor < NFTABLES_GA_MINOR:
            gate = "alpha" if minor < 31 else "beta"
            checks.append(Check("nftables support", False, f"the cluster runs {shown}: nftables mode is {gate} there "
                                "(feature gate NFTablesProxyMode" + (", off by default)" if gate == "alpha" else ")"),
                                "add featureGates: {NFTablesProxyMode: true} to config.conf", blocking=False))
    labels = _meta_keys(configmap)
    if labels.get(ADDON_MANAGER_LABEL, "").lower() == "reconcile":
        checks.append(Check("add-on manager", False, f"the ConfigMap is labelled {ADDON_MANAGER_LABEL}=Reconcile: "
                            "the add-on manager will put the old configuration back",
                            "change kube-proxy's configuration in the add-on manager's manifests instead",
                            blocking=False))
    platform = managed_by(configmap, daemonset, nodes, version)
    if platform:
        checks.append(Check("managed control plane", False, f"kube-proxy is managed by {platform}, which can "
                            "overwrite this change on its next reconcile or upgrade",
                            f"change the kube-proxy mode through {platform}'s add-on configuration",
                            blocking=False))
    return checks


@dataclass(frozen=True)
class Preflight:
    mode: str
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and c.blocking)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and not c.blocking)

    @property
    def blocked(self) -> bool:
        return bool(self.failed)

    @property
    def loadable_modules(self) -> tuple[str, ...]:
        return tuple(c.module for c in self.checks if c.module and not c.ok)

    def summary(self) -> str:
        if self.blocked:
            names = ", ".join(c.name for c in self.failed)
            return (f"preflight for {self.mode} failed on {len(self.failed)} check(s) ({names}); fix them, or "
                    "override with --force if you know kube-proxy will start anyway")
        if self.warnings:
            return f"preflight for {self.mode} passed with {len(self.warnings)} warning(s)"
        return f"preflight for {self.mode} passed"


def run_preflight(mode: str, scheduler: str = "", env: NodeEnv | None = None,
                  version: Mapping[str, Any] | None = None, configmap: Mapping[str, Any] | None = None,
                  daemonset: Mapping[str, Any] | None = None,
                  nodes: Sequence[Mapping[str, Any]] = ()) -> Preflight:
    checks = node_checks(mode, env, scheduler) + cluster_checks(mode, version, configmap, daemonset, nodes)
    return Preflight(mode, tuple(checks))


def load_module(name: str, guard: Guard, env: NodeEnv | None = None) -> StepResult:
    """`modprobe NAME`: its own explicit step, a change to this node, so --read-only blocks it (ReadOnlyError)."""
    env = env or NodeEnv()
    guard.check(f"loading kernel module {name}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        return StepResult(False, f"{name!r} is not a kernel module name")
    if not env.is_root:
        return StepResult(False, f"loading {name} needs root: run `sudo modprobe {name}`, then check again")
    modprobe = env.which("modprobe")
    if modprobe is None:
        return StepResult(False, f"modprobe is not installed, so {name} cannot be loaded: install kmod")
    res = env.run([modprobe, "--", name])
    if res.returncode != 0:
        why = (res.stderr or res.stdout).strip().splitlines()
        return StepResult(False, f"modprobe {name} failed: {why[-1] if why else f'exit {res.returncode}'}",
                          (res.stderr or res.stdout))
    state, how = ModuleTable(env).state(name)
    if state in (ModuleState.LOADED, ModuleState.BUILTIN):
        return StepResult(True, f"loaded kernel module {name}")
    return StepResult(False, f"modprobe {name} succeeded but the module is still {state.value} ({how})")
