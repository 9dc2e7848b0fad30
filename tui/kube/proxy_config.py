"""kube-proxy's configuration as kubeadm stores it: the ConfigMap `kube-system/kube-proxy`, key `config.conf`.

The file belongs to the admin: it may carry comments, a chosen key order, quoting habits. A switch therefore changes
it with a minimal textual edit (the value's characters, or one inserted line) instead of load-modify-dump, and then
proves the edit by parsing the result and comparing it with the intended configuration: any difference outside the
changed keys is refused, so a bug here can never write a surprise into the cluster.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "kube-proxy"
CONFIG_KEY = "config.conf"
KIND = "KubeProxyConfiguration"

# kube-proxy's modes on Linux; "" means the platform default (iptables on Linux).
MODES: tuple[str, ...] = ("iptables", "ipvs", "nftables")
DEFAULT_MODE = "iptables"
# IPVS schedulers the kernel ships (ip_vs_<name> modules); "" means rr.
SCHEDULERS: tuple[str, ...] = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf",
                               "mh", "twos")
DEFAULT_SCHEDULER = "rr"
# What kube-proxy does with an IPVS duration left unset (absent, empty, or zero as kubeadm writes it: "0s"): its
# defaulting sets syncPeriod to 30s; a zero timeout leaves the kernel's own (ipvsadm --set 0 keeps the value).
DEFAULT_IPVS_SYNC_PERIOD = "30s"
_ZERO_DURATION = re.compile(r"0|(?:0+(?:\.0*)?(?:ns|us|µs|ms|s|m|h))+")
DEFAULT_METRICS_BIND_ADDRESS = "127.0.0.1:10249"


class ProxyConfigError(ValueError):
    """config.conf cannot be read or edited safely; the message says what and where, for the admin."""


@dataclass(frozen=True)
class ProxyConfig:
    """The parts of a KubeProxyConfiguration that svcscope shows and changes (raw keeps the rest)."""

    mode_raw: str  # as written: "" when empty or absent
    scheduler_raw: str  # as written: "" means rr
    strict_arp: bool
    sync_period: str
    min_sync_period: str
    tcp_timeout: str
    tcp_fin_timeout: str
    udp_timeout: str
    exclude_cidrs: tuple[str, ...]
    metrics_bind_address_raw: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def mode(self) -> str:
        """The mode kube-proxy runs with this file on Linux: an empty mode is iptables."""
        return self.mode_raw or DEFAULT_MODE

    @property
    def scheduler(self) -> str:
        return self.scheduler_raw or DEFAULT_SCHEDULER

    @property
    def metrics_bind_address(self) -> str:
        return self.metrics_bind_address_raw or DEFAULT_METRICS_BIND_ADDRESS

    @property
    def ipvs_settings(self) -> str:
        """The ipvs durations as kube-proxy uses them: unset ones say "default" (with the value where it is fixed)."""
        sync = self.sync_period if not duration_unset(self.sync_period) else f"default {DEFAULT_IPVS_SYNC_PERIOD}"
        timeouts = (self.tcp_timeout, self.tcp_fin_timeout, self.udp_timeout)
        if all(duration_unset(t) for t in timeouts):
            kept = "default (the kernel's)"
        else:
            kept = " ".join(f"{name} {t if not duration_unset(t) else 'default'}"
                            for name, t in zip(("tcp", "tcpFin", "udp"), timeouts))
        return f"sync {sync} (min {_or_default(self.min_sync_period)}) · timeouts {kept}"

    @property
    def metrics_url(self) -> str:
        """Where this node's kube-proxy answers /proxyMode: a wildcard bind is reached on loopback."""
        addr = self.metrics_bind_address
        host, _, port = addr.rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port or '10249'}"


@dataclass(frozen=True)
class ConfigChange:
    """What a switch changes; None leaves a setting as it is."""

    mode: str | None = None
    scheduler: str | None = None
    strict_arp: bool | None = None

    def describe(self) -> str:
        parts = []
        if self.mode is not None:
            parts.append(f"mode {self.mode or DEFAULT_MODE}")
        if self.scheduler is not None:
            parts.append(f"IPVS scheduler {self.scheduler or DEFAULT_SCHEDULER}")
        if self.strict_arp is not None:
            parts.append(f"strictARP {str(self.strict_arp).lower()}")
        return ", ".join(parts) or "nothing"

    def is_empty(self) -> bool:
        return self.mode is None and self.scheduler is None and self.strict_arp is None


def _load(text: str) -> tuple[dict[str, Any], yaml.MappingNode]:
    try:
        docs = list(yaml.compose_all(text))
        data = yaml.safe_load(text) if len(docs) == 1 else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProxyConfigError(f"{CONFIG_KEY} is not valid YAML{where} ({problem}); fix it with "
                               f"kubectl -n {CONFIGMAP_NAMESPACE} edit configmap {CONFIGMAP_NAME}") from None
    if len(docs) != 1:
        raise ProxyConfigError(f"{CONFIG_KEY} holds {len(docs)} YAML documents; kube-proxy reads exactly one")
    node = docs[0]
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise ProxyConfigError(f"{CONFIG_KEY} is not a YAML mapping, so it is not a {KIND}")
    kind = data.get("kind")
    if kind != KIND:
        raise ProxyConfigError(f"{CONFIG_KEY} has kind {kind!r}, not {KIND}; svcscope only edits kube-proxy's "
                               "own configuration")
    return data, node


def duration_unset(text: str) -> bool:
    """An empty or zero Go duration ("", "0", "0s", "0m0s"): kube-proxy treats the setting as not given."""
    return not text.strip() or bool(_ZERO_DURATION.fullmatch(text.strip()))


def _or_default(text: str) -> str:
    return "default" if duration_unset(text) else text


def _text(v: Any, key: str) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ProxyConfigError(f"{CONFIG_KEY}: {key} should be a string, not {v!r}")
    return str(v)


def parse(text: str) -> ProxyConfig:
    """Read config.conf; ProxyConfigError with one clear sentence when it cannot be trusted."""
    data, _ = _load(text)
    ipvs = data.get("ipvs") or {}
    if not isinstance(ipvs, dict):
        raise ProxyConfigError(f"{CONFIG_KEY}: ipvs should be a mapping, not {ipvs!r}")
    strict = ipvs.get("strictARP", False)
    if strict is None:
        strict = False
    if not isinstance(strict, bool):
        raise ProxyConfigError(f"{CONFIG_KEY}: ipvs.strictARP should be true or false, not {strict!r}")
    excludes = ipvs.get("excludeCIDRs") or []
    if not isinstance(excludes, list):
        raise ProxyConfigError(f"{CONFIG_KEY}: ipvs.excludeCIDRs should be a list, not {excludes!r}")
    return ProxyConfig(
        mode_raw=_text(data.get("mode"), "mode"),
        scheduler_raw=_text(ipvs.get("scheduler"), "ipvs.scheduler"),
        strict_arp=strict,
        sync_period=_text(ipvs.get("syncPeriod"), "ipvs.syncPeriod"),
        min_sync_period=_text(ipvs.get("minSyncPeriod"), "ipvs.minSyncPeriod"),
        tcp_timeout=_text(ipvs.get("tcpTimeout"), "ipvs.tcpTimeout"),
        tcp_fin_timeout=_text(ipvs.get("tcpFinTimeout"), "ipvs.tcpFinTimeout"),
        udp_timeout=_text(ipvs.get("udpTimeout"), "ipvs.udpTimeout"),
        exclude_cidrs=tuple(str(c) for c in excludes),
        metrics_bind_address_raw=_text(data.get("metricsBindAddress"), "metricsBindAddress"),
        raw=data,
    )


def parse_configmap(cm: dict[str, Any]) -> tuple[str, ProxyConfig]:
    """The ConfigMap (API JSON) -> (config.conf text, model)."""
    data = cm.get("data") or {}
    text = data.get(CONFIG_KEY)
    if not isinstance(text, str):
        keys = ", ".join(sorted(data)) or "no keys"
        raise ProxyConfigError(f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} has no {CONFIG_KEY} key "
                               f"(it has {keys}); is this a kubeadm cluster?")
    return text, parse(text)


def validate_change(change: ConfigChange) -> None:
    if change.mode is not None and change.mode not in MODES and change.mode != "":
        raise ProxyConfigError(f"unknown kube-proxy mode {change.mode!r}: choose one of {', '.join(MODES)}")
    if change.scheduler is not None and change.scheduler not in SCHEDULERS and change.scheduler != "":
        raise ProxyConfigError(f"unknown IPVS scheduler {change.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")


# -- the minimal edit ----------------------------------------------------------------------------------------------

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _render(value: str | bool, style: str | None) -> str:
    """A scalar in the style the admin used for the old value (plain, 'single' or "double")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    plain_ok = bool(_PLAIN_SAFE.match(value)) and yaml.safe_load(value) == value
    if style == '"' or not plain_ok:
        return json.dumps(value)
    return value


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


@dataclass
class _Edit:
    start: int
    end: int
    replacement: str
    whole_lines: bool = False  # an inserted line: needs a line break before it if it lands mid-line


def _find(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _line_end(text: str, index: int) -> int:
    """The index just past the newline of the line holding `index` (or the end of the text)."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _last_line_end(text: str, mapping: yaml.MappingNode) -> int:
    """Where a new key line goes in a block mapping: after the line on which its last value ends."""
    _, last = mapping.value[-1]
    end = last.end_mark.index
    # A nested block mapping's end mark sits at the start of the following line already.
    if end > 0 and text[end - 1] == "\n":
        return end
    return _line_end(text, end)


def _set_scalar(text: str, mapping: yaml.MappingNode, key: str, value: str | bool, indent: int) -> _Edit:
    found = _find(mapping, key)
    if found is not None:
        _, node = found
        if not isinstance(node, yaml.ScalarNode):
            raise ProxyConfigError(f"{CONFIG_KEY}: {key} is not a plain value; edit it by hand")
        if node.style in ("|", ">"):
            raise ProxyConfigError(f"{CONFIG_KEY}: {key} is a block scalar; edit it by hand")
        start, end = node.start_mark.index, node.end_mark.index
        # Keep the admin's quoting habit, but an empty string's quotes were a necessity, not a habit.
        keep_style = node.tag == "tag:yaml.org,2002:str" and node.value != ""
        rendered = _render(value, node.style if keep_style else None)
        if start == end and start > 0 and text[start - 1] == ":":  # `key:` with nothing after it (null)
            rendered = " " + rendered
        return _Edit(start, end, rendered)
    rendered = _render(value, None)
    if mapping.flow_style:
        close = mapping.end_mark.index - 1  # the index of "}"
        sep = ", " if mapping.value else ""
        return _Edit(close, close, f"{sep}{key}: {rendered}")
    if not mapping.value:
        raise ProxyConfigError(f"{CONFIG_KEY}: cannot add {key} to an empty mapping; edit it by hand")
    pos = _last_line_end(text, mapping)
    return _Edit(pos, pos, f"{' ' * indent}{key}: {rendered}{_newline(text)}", whole_lines=True)


def _apply(text: str, edits: list[_Edit]) -> str:
    """Apply edits from the end backwards; insertions at one spot keep their order and share one line break."""
    groups: dict[tuple[int, int], list[_Edit]] = {}
    for e in edits:
        groups.setdefault((e.start, e.end), []).append(e)
    for (start, end), group in sorted(groups.items(), reverse=True):
        replacement = "".join(e.replacement for e in group)
        if group[0].whole_lines and start > 0 and text[start - 1] != "\n":
            replacement = _newline(text) + replacement
        text = text[:start] + replacement + text[end:]
    return text


def _ipvs_edits(text: str, root: yaml.MappingNode, settings: dict[str, str | bool]) -> list[_Edit]:
    if not settings:
        return []
    nl = _newline(text)
    found = _find(root, "ipvs")
    root_indent = root.value[0][0].start_mark.column
    if found is None:  # no ipvs section: add one at the end, two spaces deeper than the top level
        lines = [f"{' ' * root_indent}ipvs:"] + [f"{' ' * (root_indent + 2)}{k}: {_render(v, None)}"
                                                for k, v in settings.items()]
        pos = _last_line_end(text, root)
        return [_Edit(pos, pos, nl.join(lines) + nl, whole_lines=True)]
    key_node, node = found
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        body = ", ".join(f"{k}: {_render(v, None)}" for k, v in settings.items())
        start, end = node.start_mark.index, node.end_mark.index
        lead = " " if start > 0 and text[start - 1] == ":" else ""
        return [_Edit(start, end, f"{lead}{{{body}}}")]
    if not isinstance(node, yaml.MappingNode):
        raise ProxyConfigError(f"{CONFIG_KEY}: ipvs is not a mapping; edit it by hand")
    if node.value:
        indent = node.value[0][0].start_mark.column
    else:
        indent = key_node.start_mark.column + 2
    edits = [_set_scalar(text, node, k, v, indent) for k, v in settings.items()]
    if node.flow_style and not node.value and len(edits) > 1:  # `{}` gains several keys: one comma-joined edit
        edits = [_Edit(edits[0].start, edits[0].end, ", ".join(e.replacement for e in edits))]
    return edits


def apply_change(text: str, change: ConfigChange) -> str:
    """The new config.conf: only the changed values' characters differ, the rest stays byte for byte.

    Raises ProxyConfigError when the file is malformed or when the edited text would not parse to exactly the
    intended configuration (then nothing must be written).
    """
    validate_change(change)
    parse(text)  # the same checks as reading it, so a file we would misread is never edited
    data, root = _load(text)
    edits: list[_Edit] = []
    if change.mode is not None:
        edits.append(_set_scalar(text, root, "mode", change.mode, root.value[0][0].start_mark.column))
    ipvs_settings: dict[str, str | bool] = {}
    if change.scheduler is not None:
        ipvs_settings["scheduler"] = change.scheduler
    if change.strict_arp is not None:
        ipvs_settings["strictARP"] = change.strict_arp
    edits += _ipvs_edits(text, root, ipvs_settings)
    new_text = _apply(text, edits)

    expected = json.loads(json.dumps(data, default=str))
    if change.mode is not None:
        expected["mode"] = change.mode
    if ipvs_settings:
        ipvs = expected.get("ipvs") or {}
        ipvs.update(ipvs_settings)
        expected["ipvs"] = ipvs
    try:
        got = json.loads(json.dumps(yaml.safe_load(new_text), default=str))
    except yaml.YAMLError:
        got = None
    if got != expected:
        raise ProxyConfigError(f"svcscope could not change {change.describe()} in {CONFIG_KEY} without touching "
                               "anything else; nothing was written, edit it by hand")
    return new_text


def unified_diff(old: str, new: str, name: str = CONFIG_KEY) -> str:
    """`diff -u` of config.conf, old -> new ("" when nothing changes)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{name}", tofile=f"b/{name}")
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
