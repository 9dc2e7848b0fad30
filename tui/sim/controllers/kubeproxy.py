"""Whether a kube-proxy pod can run on its node: the hook the kubelet emulation asks (issue 7 builds on it).

A kube-proxy pod (label `k8s-app=kube-proxy`) runs the mode that the `kube-system/kube-proxy` ConfigMap's
`config.conf` said when the pod started: kube-proxy does not reload its config (kubernetes#132877), so a changed
ConfigMap takes effect only through new pods (a rollout restart). The mode and IPVS scheduler a pod started with
are recorded on it as annotations `sim.svcscope.io/proxy-mode` and `sim.svcscope.io/ipvs-scheduler`, for the
emulated /proxyMode and IPVS table to read.

What a node can run is described by annotations on the Node (absent = everything is available):
    sim.svcscope.io/kernel-modules: "ip_vs,ip_vs_rr,ip_vs_wrr,ip_vs_sh,nf_conntrack"   the loaded/loadable modules
    sim.svcscope.io/kernel-version: "6.1.0"                                             for nftables (>= 5.13)
A mode that cannot run makes kube-proxy exit at start (no fallback since 1.26): the pod goes CrashLoopBackOff with
the reason kube-proxy logs, and the restarts count up while it stays broken.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Mapping

from tui.kube import proxy_config
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

CM = BY_KIND["ConfigMap"]
KUBE_PROXY_LABEL = ("k8s-app", "kube-proxy")
PROXY_MODE_ANNOTATION = "sim.svcscope.io/proxy-mode"
SCHEDULER_ANNOTATION = "sim.svcscope.io/ipvs-scheduler"
KERNEL_MODULES_ANNOTATION = "sim.svcscope.io/kernel-modules"
KERNEL_VERSION_ANNOTATION = "sim.svcscope.io/kernel-version"
NFTABLES_MIN_KERNEL = (5, 13)
MODES = ("iptables", "ipvs", "nftables")


@dataclass(frozen=True)
class Health:
    """What the kubelet emulation shows for a pod's containers."""

    ready: bool
    crash: str = ""  # non-empty: the container exits at start with this error (CrashLoopBackOff)


def is_kube_proxy(pod: Mapping[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get(KUBE_PROXY_LABEL[0]) == KUBE_PROXY_LABEL[1]


def configured(store: Store) -> tuple[str, str, str]:
    """(mode, scheduler, error) as the ConfigMap says now; mode "" means iptables."""
    cm = store.get(CM, proxy_config.CONFIGMAP_NAMESPACE, proxy_config.CONFIGMAP_NAME)
    if cm is None:
        return "", "", 'failed to load kube-proxy config: configmaps "kube-proxy" not found'
    rv = (cm.get("metadata") or {}).get("resourceVersion", "")
    cached = _PARSED.get(store)
    if cached is not None and cached[0] == rv:
        return cached[1]
    try:
        _, cfg = proxy_config.parse_configmap(dict(cm))
        out = (cfg.mode_raw, cfg.scheduler_raw, "")
    except proxy_config.ProxyConfigError as e:
        out = ("", "", f"failed to load kube-proxy config: {e}")
    _PARSED[store] = (rv, out)
    return out


# store -> (ConfigMap resourceVersion, what it says): parsing config.conf for each of 500 pods adds up
_PARSED: "weakref.WeakKeyDictionary[Store, tuple[str, tuple[str, str, str]]]" = weakref.WeakKeyDictionary()


def _kernel_version(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.split("-")[0].split("."):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts)


def can_run(mode: str, scheduler: str, node: Mapping[str, Any] | None) -> str:
    """Why kube-proxy in `mode` exits at start on `node` ("" when it runs)."""
    mode = mode or "iptables"
    if mode not in MODES:
        return (f'invalid configuration: KubeProxyConfiguration.Mode: Invalid value: "{mode}": must be iptables, '
                "ipvs, nftables or blank (blank means the best-available proxy [currently iptables])")
    ann = ((node or {}).get("metadata") or {}).get("annotations") or {}
    if mode == "ipvs" and KERNEL_MODULES_ANNOTATION in ann:
        modules = {m.strip() for m in str(ann[KERNEL_MODULES_ANNOTATION]).split(",") if m.strip()}
        if "ip_vs" not in modules:
            return "can't use the IPVS proxier: Ipvs not supported (the ip_vs kernel module is not loaded)"
        sched = scheduler or "rr"
        if f"ip_vs_{sched}" not in modules:
            return (f"can't use the IPVS proxier: Could not create dummy VS with scheduler {sched!r}: no such file "
                    f"or directory (the ip_vs_{sched} kernel module is not loaded)")
    if mode == "nftables" and KERNEL_VERSION_ANNOTATION in ann:
        if _kernel_version(str(ann[KERNEL_VERSION_ANNOTATION])) < NFTABLES_MIN_KERNEL:
            return "kube-proxy in nftables mode requires kernel 5.13 or later"
    return ""


class KubeProxyHook:
    """The kubelet hook for kube-proxy pods."""

    def on_start(self, store: Store, pod: dict[str, Any], node: Mapping[str, Any] | None) -> None:
        if not is_kube_proxy(pod):
            return
        mode, scheduler, error = configured(store)
        ann = pod.setdefault("metadata", {}).setdefault("annotations", {})
        ann[PROXY_MODE_ANNOTATION] = mode or "iptables"
        ann[SCHEDULER_ANNOTATION] = scheduler or ("rr" if mode == "ipvs" else "")
        if error:
            ann["sim.svcscope.io/config-error"] = error

    def health(self, store: Store, pod: Mapping[str, Any], node: Mapping[str, Any] | None) -> Health | None:
        if not is_kube_proxy(pod):
            return None
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        if ann.get("sim.svcscope.io/config-error"):
            return Health(False, ann["sim.svcscope.io/config-error"])
        problem = can_run(ann.get(PROXY_MODE_ANNOTATION, ""), ann.get(SCHEDULER_ANNOTATION, ""), node)
        return Health(False, problem) if problem else Health(True)
