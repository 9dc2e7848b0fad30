"""Deployments and DaemonSets: the pods they keep, named and labelled as kube's controllers name and label them.

Deployments skip the ReplicaSet objects (the sim serves none) but not their traces: pods are named
`<deployment>-<pod-template-hash>-<5 chars>` (e.g. `pc-deployment-7d7dd5499b-9qnr7`), carry the `pod-template-hash`
label and are owned by a ReplicaSet reference of that name. A template change rolls pods over (new ones first,
old ones deleted gracefully as new ones become ready); scaling down deletes gracefully, not-ready and most crowded
pods first. Pods are scheduled round-robin over Ready nodes whose taints they tolerate.

DaemonSets keep one pod per node (`<ds>-<5 chars>`, labels `controller-revision-hash` and
`pod-template-generation`); a changed template (as `kubectl rollout restart` makes) replaces pods node by node,
one unavailable at a time (RollingUpdate, maxUnavailable 1), waiting for each new pod to be Ready.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any, Mapping

from tui.kube.validation import json_copy
from tui.sim import admission
from tui.sim.controllers.endpointslices import pod_ready
from tui.sim.resources import BY_KIND

if TYPE_CHECKING:
    from tui.sim.controllers import Controllers

Obj = dict[str, Any]
POD, NODE, DEPLOY, DS = BY_KIND["Pod"], BY_KIND["Node"], BY_KIND["Deployment"], BY_KIND["DaemonSet"]
NAME_ALPHABET = admission.NAME_ALPHABET
HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"


def safe_encode(s: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto the vowel-free alphabet."""
    return "".join(NAME_ALPHABET[ord(c) % len(NAME_ALPHABET)] for c in s)


def template_hash(template: Mapping[str, Any]) -> str:
    """controller.ComputeHash's shape: a 32-bit hash of the template, its decimal form safe-encoded
    (`7d7dd5499b`). The bits differ from kube's (which hashes Go structs), the form does not."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return safe_encode(str(int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big")))


def random_suffix(seed: str, n: int, length: int = 5) -> str:
    """The n-th generated-name suffix for `seed`: deterministic, from kube's name alphabet."""
    digest = hashlib.blake2b(f"{seed}/{n}".encode(), digest_size=length).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest)


@functools.lru_cache(maxsize=65536)
def derived_uid(*parts: str) -> str:
    """A stable uid for an object the sim does not store (a Deployment's ReplicaSet of one template hash)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "svcscope-sim/" + "/".join(parts)))


def node_ready(node: Mapping[str, Any]) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return True  # a node that reports no conditions is taken as healthy


def tolerates(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """Whether the pod tolerates every NoSchedule/NoExecute taint of the node."""
    tolerations = [t for t in pod_spec.get("tolerations") or [] if isinstance(t, dict)]
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for t in tolerations:
            if t.get("effect") and t.get("effect") != taint.get("effect"):
                continue
            if t.get("operator") == "Exists":
                ok = not t.get("key") or t.get("key") == taint.get("key")
            else:
                ok = t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", "")
            if ok:
                break
        if not ok:
            return False
    return True


def node_selector_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in (pod_spec.get("nodeSelector") or {}).items())


def terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def deployment_status(dep: Mapping[str, Any], pods: list[tuple[Mapping[str, Any], bool]], rs_name: str,
                      now: str) -> Obj:
    """A Deployment's status from its pods (each with whether it runs the current template); conditions keep their
    timestamps while they do not change."""
    meta = dep.get("metadata") or {}
    spec = dep.get("spec") or {}
    replicas = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
    live = [(p, is_new) for p, is_new in pods if not terminating(p)]
    total = len(live)
    updated = sum(1 for _, is_new in live if is_new)
    ready = sum(1 for p, _ in live if pod_ready(p))
    old = dep.get("status") or {}
    available_ok = ready >= replicas - max(0, replicas // 4)

    def cond(ctype: str, ok: bool, reason: str, message: str) -> Obj:
        prev = next((c for c in old.get("conditions") or [] if c.get("type") == ctype), None)
        if prev is not None and prev.get("status") == ("True" if ok else "False") and \
                prev.get("reason") == reason and prev.get("message") == message:
            return prev
        return {"type": ctype, "status": "True" if ok else "False", "lastUpdateTime": now,
                "lastTransitionTime": now, "reason": reason, "message": message}

    progressing = updated == replicas and total == replicas and ready == replicas
    status: Obj = {
        "observedGeneration": meta.get("generation", 1),
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [
            cond("Available", available_ok, "MinimumReplicasAvailable" if available_ok
                 else "MinimumReplicasUnavailable", "Deployment has minimum availability." if available_ok
                 else "Deployment does not have minimum availability."),
            cond("Progressing", True, "NewReplicaSetAvailable" if progressing else "ReplicaSetUpdated",
                 f'ReplicaSet "{rs_name}" has successfully progressed.' if progressing
                 else f'ReplicaSet "{rs_name}" is progressing.'),
        ],
    }
    if total - ready > 0:
        status["unavailableReplicas"] = total - ready
    for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        if status[k] == 0:
            del status[k]  # omitempty, as the API prints them
    return status


class Workloads:
    """The Deployment and DaemonSet controllers (they share scheduling and pod creation)."""

    def __init__(self, ctl: "Controllers") -> None:
        self.ctl = ctl
        self.store = ctl.store
        self._hashes: dict[tuple[str, Any], str] = {}

    # -- shared ------------------------------------------------------------------------------------------------

    def template_hash(self, owner: Mapping[str, Any]) -> str:
        """The pod-template hash of a workload, cached per generation (hashing 10,000 templates adds up)."""
        meta = owner.get("metadata") or {}
        key = (meta.get("uid", ""), meta.get("generation", 0))
        h = self._hashes.get(key)
        if h is None:
            h = self._hashes[key] = template_hash((owner.get("spec") or {}).get("template") or {})
        return h

    def _free_name(self, ns: str, prefix: str, seed: str, counters: dict[str, int]) -> str:
        while True:
            n = counters.get(seed, 0)
            counters[seed] = n + 1
            name = prefix + random_suffix(seed, n)
            if self.store.get(POD, ns, name) is None:
                return name

    def schedulable_nodes(self, pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        nodes, _ = self.store.list(NODE)
        return [n for n in nodes if node_ready(n) and not (n.get("spec") or {}).get("unschedulable")
                and tolerates(pod_spec, n) and node_selector_matches(pod_spec, n)]

    def pod_from_template(self, owner: Mapping[str, Any], owner_kind: str, owner_name: str, owner_uid: str,
                          template: Mapping[str, Any], name: str, node: str, extra_labels: dict[str, str]) -> Obj:
        meta = owner.get("metadata") or {}
        tmeta = template.get("metadata") or {}
        pod: Obj = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "generateName": name[:-5], "namespace": meta.get("namespace", ""),
                "labels": {**(tmeta.get("labels") or {}), **extra_labels},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name,
                                     "uid": owner_uid, "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": json_copy(template.get("spec") or {}),
        }
        if tmeta.get("annotations"):
            pod["metadata"]["annotations"] = json_copy(tmeta["annotations"])
        admission.default_pod_spec(pod["spec"])
        pod["spec"].setdefault("enableServiceLinks", True)
        pod["spec"].setdefault("priority", 0)
        pod["spec"]["nodeName"] = node
        return pod

    def create_pod(self, pod: Obj) -> None:
        """Create a scheduled pod already started by its node's kubelet (one write instead of two)."""
        self.ctl.kubelet.start(pod)
        self.store.create(POD, pod)

    def delete_pod(self, ns: str, name: str) -> None:
        if self.store.get(POD, ns, name) is not None:
            admission.delete(self.store, POD, ns, name, False)

    # -- Deployments --------------------------------------------------------------------------------------------

    def deployment_pods(self, dep: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], bool]]:
        """The pods of a Deployment, each with whether it runs the current template."""
        meta = dep.get("metadata") or {}
        ns, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        current = self.template_hash(dep)
        out = []
        for rs in self.ctl.index.owners_of(ns, "ReplicaSet", name):
            h = rs[len(name) + 1:]
            for pod_name in sorted(self.ctl.index.owned_pods(ns, "ReplicaSet", rs)):
                pod = self.store.get(POD, ns, pod_name)
                ref = ((pod or {}).get("metadata") or {}).get("ownerReferences") or [{}]
                if pod is not None and ref[0].get("uid") == derived_uid(uid, h):
                    out.append((pod, h == current))
        return out

    def reconcile_deployment(self, ns: str, name: str, counters: dict[str, int]) -> None:
        dep = self.store.get(DEPLOY, ns, name)
        if dep is None:
            for rs in self.ctl.index.owners_of(ns, "ReplicaSet", name):
                for pod_name in self.ctl.index.owned_pods(ns, "ReplicaSet", rs):
                    pod = self.store.get(POD, ns, pod_name)
                    if pod is not None and not terminating(pod):
                        self.delete_pod(ns, pod_name)
            return
        spec = dep.get("spec") or {}
        replicas = spec.get("replicas", 1)
        replicas = replicas if isinstance(replicas, int) and replicas >= 0 else 1
        template = spec.get("template") or {}
        h = self.template_hash(dep)
        rs_name, rs_uid = f"{name}-{h}", derived_uid(dep["metadata"].get("uid", ""), h)
        pods = self.deployment_pods(dep)
        new = [p for p, is_new in pods if is_new and not terminating(p)]
        old = [p for p, is_new in pods if not is_new and not terminating(p)]
        if len(new) < replicas:
            tspec = template.get("spec") or {}
            nodes = self.schedulable_nodes(tspec)
            for _ in range(replicas - len(new)):
                node = self._pick_node(nodes, [p for p, _ in pods if not terminating(p)])
                pod_name = self._free_name(ns, f"{rs_name}-", rs_uid, counters)
                pod = self.pod_from_template(dep, "ReplicaSet", rs_name, rs_uid, template, pod_name,
                                             node or "", {HASH_LABEL: h})
                if node is None:
                    del pod["spec"]["nodeName"]  # nothing fits: the pod stays Pending, unscheduled
                self.create_pod(pod)
                pods.append((pod, True))
                new.append(pod)
        elif len(new) > replicas:
            for pod in self._scale_down_order(new)[:len(new) - replicas]:
                self.delete_pod(ns, pod["metadata"]["name"])
        current = [self.store.get(POD, ns, p["metadata"]["name"]) for p in new]
        ready_new = sum(1 for p in current if p is not None and not terminating(p) and pod_ready(p))
        allowed_old = max(0, replicas - ready_new)
        for pod in self._scale_down_order(old)[:max(0, len(old) - allowed_old)]:
            self.delete_pod(ns, pod["metadata"]["name"])
        self._deployment_status(dep, rs_name)

    def _pick_node(self, nodes: list[Mapping[str, Any]], siblings: list[Mapping[str, Any]]) -> str | None:
        """Spread: the node with the fewest pods of this workload, then fewest pods overall, then by name."""
        if not nodes:
            return None
        mine: dict[str, int] = {}
        for p in siblings:
            n = (p.get("spec") or {}).get("nodeName") or ""
            mine[n] = mine.get(n, 0) + 1

        def load(node: Mapping[str, Any]) -> tuple[int, int, str]:
            n = node["metadata"]["name"]
            return mine.get(n, 0), len(self.ctl.index.pods_by_node.get(n, ())), n

        return min(nodes, key=load)["metadata"]["name"]

    def _scale_down_order(self, pods: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Which pods go first: unscheduled, not ready, on the most crowded node, newest."""
        per_node: dict[str, int] = {}
        for p in pods:
            n = (p.get("spec") or {}).get("nodeName") or ""
            per_node[n] = per_node.get(n, 0) + 1

        def rank(p: Mapping[str, Any]) -> tuple[Any, ...]:
            n = (p.get("spec") or {}).get("nodeName") or ""
            return (bool(n), pod_ready(p), -per_node.get(n, 0),
                    -int((p.get("metadata") or {}).get("resourceVersion") or 0))

        return sorted(pods, key=rank)

    def _deployment_status(self, dep: Mapping[str, Any], rs_name: str) -> None:
        meta = dep.get("metadata") or {}
        ns = meta.get("namespace", "")
        status = deployment_status(dep, self.deployment_pods(dep), rs_name, self.ctl.timestamp())
        if status != (dep.get("status") or {}):
            self.store.mutate(DEPLOY, ns, meta.get("name", ""), lambda d: d.__setitem__("status", status))

    # -- DaemonSets -----------------------------------------------------------------------------------------------

    def daemonset_pods(self, ds: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        meta = ds.get("metadata") or {}
        ns, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        out = []
        for pod_name in sorted(self.ctl.index.owned_pods(ns, "DaemonSet", name)):
            pod = self.store.get(POD, ns, pod_name)
            ref = ((pod or {}).get("metadata") or {}).get("ownerReferences") or [{}]
            if pod is not None and ref[0].get("uid") == uid:
                out.append(pod)
        return out

    def reconcile_daemonset(self, ns: str, name: str, counters: dict[str, int]) -> None:
        ds = self.store.get(DS, ns, name)
        if ds is None:
            for pod_name in self.ctl.index.owned_pods(ns, "DaemonSet", name):
                pod = self.store.get(POD, ns, pod_name)
                if pod is not None and not terminating(pod):
                    self.delete_pod(ns, pod_name)
            return
        meta, spec = ds["metadata"], ds.get("spec") or {}
        template = spec.get("template") or {}
        tspec = template.get("spec") or {}
        h = self.template_hash(ds)[:10]
        nodes = [n for n in self.store.list(NODE)[0] if tolerates(tspec, n) and node_selector_matches(tspec, n)]
        by_node: dict[str, list[Mapping[str, Any]]] = {}
        for pod in self.daemonset_pods(ds):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
        node_names = {n["metadata"]["name"] for n in nodes}
        for node_name, pods in by_node.items():  # pods on nodes that are gone or no longer fit
            if node_name not in node_names:
                for pod in pods:
                    if not terminating(pod):
                        self.delete_pod(ns, pod["metadata"]["name"])
        unavailable = 0
        outdated: list[tuple[str, Mapping[str, Any]]] = []
        for node in nodes:
            node_name = node["metadata"]["name"]
            pods = by_node.get(node_name, [])
            live = [p for p in pods if not terminating(p)]
            if not live:
                unavailable += 1
                if not pods:  # wait for a terminating pod to be gone before replacing it
                    pod_name = self._free_name(ns, f"{name}-", meta.get("uid", ""), counters)
                    pod = self.pod_from_template(ds, "DaemonSet", name, meta.get("uid", ""), template, pod_name,
                                                 node_name, {REVISION_LABEL: h,
                                                             GENERATION_LABEL: str(meta.get("generation", 1))})
                    pod["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                "values": [node_name]}]}]}}}
                    self._daemon_tolerations(pod["spec"])
                    self.create_pod(pod)
                continue
            for extra in live[1:]:
                self.delete_pod(ns, extra["metadata"]["name"])
            pod = live[0]
            if not pod_ready(pod):
                unavailable += 1
            if (pod.get("metadata") or {}).get("labels", {}).get(REVISION_LABEL) != h:
                outdated.append((node_name, pod))
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            max_unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
            max_unavailable = max_unavailable if isinstance(max_unavailable, int) and max_unavailable > 0 else 1
            # outdated pods that are not ready anyway go first: replacing them costs no availability
            for node_name, pod in sorted(outdated, key=lambda np: (pod_ready(np[1]), np[0])):
                if pod_ready(pod):
                    if unavailable >= max_unavailable:
                        break
                    unavailable += 1
                self.delete_pod(ns, pod["metadata"]["name"])
        self._daemonset_status(ds, nodes, h)

    @staticmethod
    def _daemon_tolerations(spec: Obj) -> None:
        """The tolerations the DaemonSet controller adds to every daemon pod."""
        tol = spec.setdefault("tolerations", [])
        for key, effect in (("node.kubernetes.io/not-ready", "NoExecute"),
                            ("node.kubernetes.io/unreachable", "NoExecute"),
                            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                            ("node.kubernetes.io/unschedulable", "NoSchedule")):
            if not any(t.get("key") == key and t.get("effect") == effect for t in tol):
                tol.append({"key": key, "operator": "Exists", "effect": effect})
        if spec.get("hostNetwork"):
            tol.append({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                        "effect": "NoSchedule"})

    def _daemonset_status(self, ds: Mapping[str, Any], nodes: list[Mapping[str, Any]], h: str) -> None:
        meta = ds["metadata"]
        ns = meta.get("namespace", "")
        pods = [p for p in self.daemonset_pods(ds) if not terminating(p)]
        node_names = {n["metadata"]["name"] for n in nodes}
        scheduled = {(p.get("spec") or {}).get("nodeName") for p in pods} & node_names
        ready = sum(1 for p in pods if pod_ready(p) and (p.get("spec") or {}).get("nodeName") in node_names)
        updated = sum(1 for p in pods if (p.get("metadata") or {}).get("labels", {}).get(REVISION_LABEL) == h)
        status: Obj = {"currentNumberScheduled": len(scheduled), "desiredNumberScheduled": len(nodes),
                       "numberMisscheduled": 0, "numberReady": ready,
                       "observedGeneration": meta.get("generation", 1)}
        if updated:
            status["updatedNumberScheduled"] = updated
        if ready:
            status["numberAvailable"] = ready
        if len(nodes) - ready > 0:
            status["numberUnavailable"] = len(nodes) - ready
        if status != (ds.get("status") or {}):
            self.store.mutate(DS, ns, meta.get("name", ""), lambda d: d.__setitem__("status", status))
