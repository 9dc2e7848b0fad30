"""What the apiserver does to an object between the request and storage: defaulting, validation, allocation.

Interface (the HTTP server calls these; owned by the sim-semantics work):
    admit(store, res, obj, old, dry_run) -> obj    create when old is None, update otherwise; raises ApiError
    delete(store, res, namespace, name, dry_run, grace_period=None) -> obj
                                                  deletes (or starts a graceful deletion of a pod: sets
                                                  deletionTimestamp, removed later by the controllers) and frees
                                                  what the object held (ClusterIPs, NodePorts); returns the object
Allocation on a dry run commits nothing.

Call `admit` and the store write that follows under `store.lock`: allocations are read from the committed
Services (see allocators.py), so the pair must be atomic for two creates not to pick the same address. The order of
errors is the apiserver's: 409 Conflict on a stale resourceVersion, 400 for a body that does not decode, then the
registry's: ClusterIP-related checks and allocation (422; kube allocates in its BeginCreate hook, before the
strategy validates), validation (422), and finally the store's own 409 AlreadyExists.

Services get everything the apiserver does (tui/kube/validation.py holds the rules). Other kinds get the light
defaulting kubectl output shows (pod and workload template defaults, namespace label and phase) and a status that
only the controllers write.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tui.kube import validation as v
from tui.sim import allocators, errors
from tui.sim.resources import ResourceType
from tui.sim.store import Store, timestamp

Obj = dict[str, Any]
Key = tuple[str, str]

# kube's utilrand alphabet: no vowels, no look-alike digits (names like pc-deployment-7d7dd5499b-9qnr7).
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_POD_GRACE_SECONDS = 2.0


@dataclass
class Knobs:
    """Per-store settings of the simulated apiserver that tests and the fault injector turn."""

    # How long a deleted pod stays Terminating (the sim's stand-in for terminationGracePeriodSeconds).
    pod_grace_seconds: float = DEFAULT_POD_GRACE_SECONDS
    # Pods being deleted gracefully: when (time.monotonic) the controllers remove them.
    removal_deadlines: dict[Key, float] = field(default_factory=dict)


_KNOBS: "weakref.WeakKeyDictionary[Store, Knobs]" = weakref.WeakKeyDictionary()


def knobs(store: Store) -> Knobs:
    with store.lock:
        k = _KNOBS.get(store)
        if k is None:
            k = _KNOBS[store] = Knobs()
        return k


def random_suffix(store: Store, n: int = 5) -> str:
    rng = allocators.for_store(store).rng
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


# -- admit ----------------------------------------------------------------------------------------------------------

def admit(store: Store, res: ResourceType, obj: Obj, old: Obj | None, dry_run: bool) -> Obj:
    with store.lock:
        if not isinstance(obj, dict):
            raise errors.bad_request(f"{res.kind} in version \"{res.version}\" cannot be handled as a {res.kind}: "
                                     "Object 'Kind' is missing in request body")
        new = v.json_copy(obj)
        meta = new.get("metadata")
        if meta is None:
            meta = new["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request(f"{res.kind} in version \"{res.version}\" cannot be handled as a {res.kind}: "
                                     "json: cannot unmarshal into Go struct field "
                                     f"{res.kind}.metadata of type v1.ObjectMeta")
        if res.namespaced and not meta.get("namespace"):
            meta["namespace"] = (old or {}).get("metadata", {}).get("namespace", "default")
        if old is not None:
            sent = meta.get("resourceVersion")
            if sent and sent != old["metadata"].get("resourceVersion"):
                raise errors.conflict(res.plural, meta.get("name", ""), res.group)
        elif not meta.get("name") and meta.get("generateName"):
            meta["name"] = _generate_name(store, res, meta)
        if res.kind == "Service":
            return _admit_service(store, res, new, old, dry_run)
        if old is not None and "status" in old:
            new["status"] = v.json_copy(old["status"])  # status belongs to the controllers
        defaults = _DEFAULTERS.get(res.kind)
        if defaults is not None:
            defaults(new, old)
        if res.kind in _NAME_CHECKED:
            problems = v.validate_name(res.kind, meta.get("name"))
            if problems and meta.get("name"):  # a missing name is the store's Required error
                raise v.to_api_error(res.kind, meta.get("name", ""), problems, res.group)
        return new


def _generate_name(store: Store, res: ResourceType, meta: dict[str, Any]) -> str:
    ns = meta.get("namespace") if res.namespaced else None
    for _ in range(8):
        name = f"{meta['generateName']}{random_suffix(store)}"
        if store.get(res, ns, name) is None:
            return name
    return name


def _admit_service(store: Store, res: ResourceType, obj: Obj, old: Obj | None, dry_run: bool) -> Obj:
    name = obj["metadata"].get("name", "")
    problem = v.decode_errors(obj)
    if problem:
        raise errors.bad_request(f'Service in version "v1" cannot be handled as a Service: {problem}')
    svc = v.default_service(obj, old)
    # The registry allocates (BeginCreate/BeginUpdate) before it validates, so an unavailable nodePort or
    # clusterIP is the error a client sees even when other fields are invalid too.
    allocators.for_store(store).allocate_service(svc, old, dry_run)
    if old is None:
        svc["status"] = {"loadBalancer": {}}
    else:
        svc["status"] = v.json_copy(old.get("status") or {"loadBalancer": {}})
        if svc["spec"].get("type") != "LoadBalancer":
            svc["status"]["loadBalancer"] = {}
    problems = v.validate_service(svc, old)
    if problems:
        raise v.to_api_error("Service", name, problems)
    return svc


# -- light defaulting of the other kinds ------------------------------------------------------------------------------

def _default_container(c: dict[str, Any]) -> None:
    image = c.get("image") or ""
    tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
    c.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            _default_container(c)


def _default_pod(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ])
    if old is None:
        # The apiserver drops a status sent with a create; the sim keeps one, so that tests can stage pods in any
        # phase without a kubelet (the kubelet emulation still runs pods on the sim's nodes).
        given = obj.get("status")
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort",
                         **(given if isinstance(given, dict) else {})}


def _default_template(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("revisionHistoryLimit", 10)
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict) and isinstance(tmpl.setdefault("spec", {}), dict):
        default_pod_spec(tmpl["spec"])


def default_deployment(obj: Obj, old: Obj | None) -> None:
    _default_template(obj)
    spec = obj["spec"]
    if isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    if old is None:
        obj["status"] = {}


def _default_daemonset(obj: Obj, old: Obj | None) -> None:
    _default_template(obj)
    spec = obj["spec"]
    if isinstance(spec, dict):
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    if old is None:
        obj["status"] = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                         "numberReady": 0}


def _default_namespace(obj: Obj, old: Obj | None) -> None:
    name = obj["metadata"].get("name")
    if name:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    if old is None:
        obj["status"] = {"phase": "Active"}


def _default_endpointslice(obj: Obj, old: Obj | None) -> None:
    for p in obj.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")


_DEFAULTERS = {
    "Pod": _default_pod,
    "Deployment": default_deployment,
    "DaemonSet": _default_daemonset,
    "Namespace": _default_namespace,
    "EndpointSlice": _default_endpointslice,
}
_NAME_CHECKED = ("Namespace", "Pod", "ConfigMap", "Deployment", "DaemonSet", "EndpointSlice", "Node")


# -- delete -----------------------------------------------------------------------------------------------------------

def delete(store: Store, res: ResourceType, namespace: str | None, name: str, dry_run: bool,
           grace_period: float | None = None) -> Obj:
    """Delete an object; a scheduled pod is only marked (deletionTimestamp) and removed after its grace period.

    `grace_period` is the request's DeleteOptions.gracePeriodSeconds (0 removes at once, as `--force
    --grace-period=0` does); when absent the store's `knobs(store).pod_grace_seconds` applies.
    """
    with store.lock:
        if res.kind != "Pod":
            return store.delete(res, namespace, name, dry_run=dry_run)
        pod = store.require(res, namespace, name)
        k = knobs(store)
        grace = k.pod_grace_seconds if grace_period is None else max(0.0, float(grace_period))
        scheduled = bool((pod.get("spec") or {}).get("nodeName"))
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        key = (namespace or "", name)
        if grace <= 0 or not scheduled or finished:
            if not dry_run:
                k.removal_deadlines.pop(key, None)
            return store.delete(res, namespace, name, dry_run=dry_run)
        deadline = time.monotonic() + grace
        if pod["metadata"].get("deletionTimestamp") and key in k.removal_deadlines and \
                k.removal_deadlines[key] <= deadline:
            return pod  # already terminating sooner than this request asks
        if dry_run:
            out = v.json_copy(pod)
            _mark_deleting(store, out, grace)
            return out
        k.removal_deadlines[key] = deadline
        return store.mutate(res, namespace, name, lambda p: _mark_deleting(store, p, grace))


def _mark_deleting(store: Store, pod: Obj, grace: float) -> None:
    whole = int(grace + 0.999)
    pod["metadata"]["deletionTimestamp"] = timestamp(store.clock() + timedelta(seconds=whole))
    pod["metadata"]["deletionGracePeriodSeconds"] = whole
