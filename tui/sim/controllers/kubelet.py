"""The scheduler and the kubelets of the simulated nodes, as far as Services see them.

A pod without a node is bound to one (spread over Ready nodes whose taints it tolerates); a pod on a known node
starts at once: phase Running, an IP from the node's podCIDR (the node's InternalIP for hostNetwork pods), the
Ready/ContainersReady conditions and containerStatuses kubectl shows. Pods on nodes the sim does not know are left
as they are (tests stage such pods with any status).

A NotReady node's pods turn unready (as the node lifecycle controller marks them); a deleted node's pods are
removed (as the pod garbage collector does), so their workloads replace them elsewhere.

Readiness knob: the pod annotation `sim.svcscope.io/ready: "false"` makes its containers unready (Ready False);
removing it or setting "true" makes them ready again. Health hooks decide more (see kubeproxy.py): a hook returns
`Health(ready, crash)` for the pods it knows, and a crash message puts the container in CrashLoopBackOff with
restarts counting up (`tick`).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from tui.kube.validation import json_copy
from tui.sim import allocators
from tui.sim.controllers.kubeproxy import Health, KubeProxyHook
from tui.sim.controllers.workloads import node_ready
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

if TYPE_CHECKING:
    from tui.sim.controllers import Controllers

Obj = dict[str, Any]
POD, NODE = BY_KIND["Pod"], BY_KIND["Node"]
READY_ANNOTATION = "sim.svcscope.io/ready"


class HealthHook(Protocol):
    def on_start(self, store: Store, pod: dict[str, Any], node: Mapping[str, Any] | None) -> None: ...

    def health(self, store: Store, pod: Mapping[str, Any], node: Mapping[str, Any] | None) -> Health | None: ...


def node_ip(node: Mapping[str, Any] | None) -> str:
    for a in ((node or {}).get("status") or {}).get("addresses") or []:
        if isinstance(a, dict) and a.get("type") == "InternalIP":
            return str(a.get("address", ""))
    return ""


def full_image(image: str) -> str:
    """docker.io/library/nginx:1.17.1 for nginx:1.17.1, as containerd reports it."""
    first = image.split("/", 1)[0]
    if "/" not in image:
        return f"docker.io/library/{image}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{image}"
    return image


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Kubelet:
    def __init__(self, ctl: "Controllers") -> None:
        self.ctl = ctl
        self.store = ctl.store
        self.hooks: list[HealthHook] = [KubeProxyHook()]
        self.crashing: set[tuple[str, str]] = set()  # pods whose containers are in CrashLoopBackOff

    # -- status ---------------------------------------------------------------------------------------------------

    def health(self, pod: Mapping[str, Any], node: Mapping[str, Any] | None) -> Health:
        if node is not None and not node_ready(node):
            return Health(False)  # the node lifecycle controller marks the pods of a NotReady node unready
        for hook in self.hooks:
            h = hook.health(self.store, pod, node)
            if h is not None:
                if h.ready and (pod.get("metadata") or {}).get("annotations", {}).get(READY_ANNOTATION) == "false":
                    return Health(False)
                return h
        ready = (pod.get("metadata") or {}).get("annotations", {}).get(READY_ANNOTATION, "true") != "false"
        return Health(ready)

    def start(self, pod: Obj) -> bool:
        """Fill in the status of a pod bound to a known node, in place (before or instead of a status write)."""
        spec = pod.get("spec") or {}
        node = self.store.get(NODE, None, spec.get("nodeName") or "")
        if node is None:
            return False
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta.get("name", ""))
        for hook in self.hooks:
            hook.on_start(self.store, pod, node)
        host = node_ip(node)
        if spec.get("hostNetwork"):
            ip = host
        else:
            ip = allocators.for_store(self.store).pod_ip(node["metadata"]["name"], key) or ""
        if not ip:
            return False  # no podCIDR on that node: the CNI cannot give it an address; it stays Pending
        now = self.ctl.timestamp()
        status: Obj = {"phase": "Running", "hostIP": host, "hostIPs": [{"ip": host}] if host else [],
                       "podIP": ip, "podIPs": [{"ip": ip}], "startTime": now,
                       "qosClass": "BestEffort" if not any((c.get("resources") or {})
                                                            for c in spec.get("containers") or []) else "Burstable"}
        if not host:
            del status["hostIPs"]
        pod["status"] = status
        self._apply_health(pod, node, now, first=True)
        return True

    def _apply_health(self, pod: Obj, node: Mapping[str, Any] | None, now: str, first: bool = False) -> bool:
        """Set conditions and containerStatuses from the hooks; True when anything changed."""
        status = pod.setdefault("status", {})
        before = json_copy(status)
        h = self.health(pod, node)
        meta = pod["metadata"]
        old_statuses = {c.get("name"): c for c in status.get("containerStatuses") or []}
        statuses = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            name = c.get("name", "")
            prev = old_statuses.get(name) or {}
            image = full_image(str(c.get("image", "")))
            seed = f"{meta.get('namespace', '')}/{meta.get('name', '')}/{name}"
            cs: Obj = {"containerID": prev.get("containerID") or f"containerd://{_sha(seed)}",
                       "image": image, "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{_sha(image)}",
                       "lastState": prev.get("lastState", {}), "name": name, "ready": h.ready,
                       "restartCount": prev.get("restartCount", 0), "started": not h.crash}
            if h.crash:
                restarts = max(1, cs["restartCount"])
                cs["restartCount"] = restarts
                cs["lastState"] = {"terminated": {"containerID": cs["containerID"], "exitCode": 1,
                                                  "finishedAt": (prev.get("lastState") or {}).get("terminated", {})
                                                  .get("finishedAt", now), "message": h.crash, "reason": "Error",
                                                  "startedAt": status.get("startTime", now)}}
                backoff = min(300, 10 * 2 ** (restarts - 1))
                cs["state"] = {"waiting": {
                    "message": f"back-off {backoff // 60}m{backoff % 60}s restarting failed container={name} "
                               f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid', '')})"
                    if backoff >= 60 else f"back-off {backoff}s restarting failed container={name} "
                    f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid', '')})",
                    "reason": "CrashLoopBackOff"}}
            else:
                running = (prev.get("state") or {}).get("running")
                cs["state"] = {"running": running or {"startedAt": now}}
            statuses.append(cs)
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if h.crash:
            self.crashing.add(key)
        else:
            self.crashing.discard(key)
        unready = [cs["name"] for cs in statuses if not cs["ready"]]
        conds = {c.get("type"): c for c in status.get("conditions") or []}

        def cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
            prev = conds.get(ctype)
            value = "True" if ok else "False"
            if prev is not None and prev.get("status") == value and prev.get("reason", "") == reason:
                return prev
            out: Obj = {"lastProbeTime": None, "lastTransitionTime": now, "status": value, "type": ctype}
            if reason:
                out["reason"], out["message"] = reason, message
            return out

        not_ready_msg = f"containers with unready status: [{' '.join(unready)}]"
        status["conditions"] = [
            cond("PodReadyToStartContainers", True), cond("Initialized", True),
            cond("Ready", not unready, "" if not unready else "ContainersNotReady", not_ready_msg),
            cond("ContainersReady", not unready, "" if not unready else "ContainersNotReady", not_ready_msg),
            cond("PodScheduled", True)]
        status["containerStatuses"] = statuses
        return status != before

    def tick(self) -> None:
        """A crash-looping container restarts (and fails again): its restartCount goes up."""
        for ns, name in sorted(self.crashing):
            pod = self.store.get(POD, ns, name)
            if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
                self.crashing.discard((ns, name))
                continue

            def bump(p: Obj) -> None:
                for cs in p["status"].get("containerStatuses") or []:
                    if (cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
                        cs["restartCount"] = cs.get("restartCount", 0) + 1
                        cs["lastState"]["terminated"]["finishedAt"] = self.ctl.timestamp()
                self._apply_health(p, self.store.get(NODE, None, p["spec"].get("nodeName", "")),
                                   self.ctl.timestamp())

            self.store.mutate(POD, ns, name, bump)

    # -- reconcile ----------------------------------------------------------------------------------------------

    def reconcile(self, ns: str, name: str) -> None:
        pod = self.store.get(POD, ns, name)
        if pod is None or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if not spec.get("nodeName"):
            self._schedule(pod)
            return
        node = self.store.get(NODE, None, spec["nodeName"])
        if node is None or status.get("phase") in ("Succeeded", "Failed"):
            return  # not one of the sim's nodes, or finished: nothing runs to report on
        if not status.get("startTime"):
            new = json_copy(dict(pod))
            if self.start(new):
                self.store.update(POD, new, check_rv=False)
            return
        if self._up_to_date(pod, node):
            return
        new = json_copy(dict(pod))
        if self._apply_health(new, node, self.ctl.timestamp()):
            self.store.update(POD, new, check_rv=False)

    def _up_to_date(self, pod: Mapping[str, Any], node: Mapping[str, Any] | None) -> bool:
        """Whether the status already says what the hooks say (the cheap check before copying a pod)."""
        h = self.health(pod, node)
        status = pod.get("status") or {}
        statuses = status.get("containerStatuses") or []
        if len(statuses) != len((pod.get("spec") or {}).get("containers") or []):
            return False
        ready = any(c.get("type") == "Ready" and c.get("status") == ("True" if h.ready else "False")
                    for c in status.get("conditions") or [])
        crashing = any((cs.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                       for cs in statuses)
        return ready and crashing == bool(h.crash) and all(cs.get("ready") == h.ready for cs in statuses)

    def _schedule(self, pod: Mapping[str, Any]) -> None:
        nodes = self.ctl.workloads.schedulable_nodes(pod.get("spec") or {})
        new = json_copy(dict(pod))
        if not nodes:
            total = len(self.store.list(NODE)[0])
            message = f"0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector " \
                      "or had untolerated taints." if total else "no nodes available to schedule pods"
            cond = {"lastProbeTime": None, "lastTransitionTime": self.ctl.timestamp(), "message": message,
                    "reason": "Unschedulable", "status": "False", "type": "PodScheduled"}
            old = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
            if old and old[0].get("message") == message:
                return
            new.setdefault("status", {})["conditions"] = [cond]
            self.store.update(POD, new, check_rv=False)
            return
        node = min(nodes, key=lambda n: (len(self.ctl.index.pods_by_node.get(n["metadata"]["name"], ())),
                                         n["metadata"]["name"]))
        new["spec"]["nodeName"] = node["metadata"]["name"]
        self.start(new)
        self.store.update(POD, new, check_rv=False)
