"""The generator's bulk path: Deployments, their running pods and the Services' EndpointSlices written directly,
exactly as the controllers would leave them, so that a 10,000-Service cluster loads in seconds, without an event
storm, and the controllers' first pass finds nothing to change.

Two shortcuts make it fast, both within the store's contract that stored objects are read-only: objects built here
are committed without the store's defensive deep copy, and the replicas of one Deployment share the parts of the
pod that do not differ between them (containers, tolerations, conditions).
"""

from __future__ import annotations

from typing import Any, Iterable

from tui.kube.validation import default_service
from tui.sim import admission, errors
from tui.sim.controllers import Controllers, mark_settled
from tui.sim.controllers.endpointslices import desired_endpoints
from tui.sim.controllers.kubelet import node_ip
from tui.sim.controllers.workloads import HASH_LABEL, deployment_status, derived_uid, node_ready, tolerates
from tui.sim.resources import BY_KIND, ResourceType
from tui.sim.store import ADDED, Store, timestamp

Obj = dict[str, Any]
SVC, POD, NODE, DEPLOY, SLICE, DS = (BY_KIND[k] for k in ("Service", "Pod", "Node", "Deployment", "EndpointSlice",
                                                          "DaemonSet"))


def _stamp(store: Store, res: ResourceType, obj: Obj, now: str = "") -> Obj:
    """What Store.create fills in (uid, creationTimestamp, generation), without copying the object."""
    meta = obj["metadata"]
    if store.get(res, meta.get("namespace") if res.namespaced else None, meta["name"]) is not None:
        raise errors.already_exists(res.plural, meta["name"], res.group)
    obj["apiVersion"], obj["kind"] = res.api_version, res.kind
    meta["uid"] = store._next_uid()  # noqa: SLF001 - the bulk path commits objects it owns
    meta["creationTimestamp"] = now or timestamp(store.clock())
    if "spec" in obj and res.kind not in ("Service", "Pod"):
        meta.setdefault("generation", 1)
    return obj


def _commit(store: Store, res: ResourceType, obj: Obj) -> Obj:
    return store._commit(res, ADDED, obj)  # noqa: SLF001 - see the module docstring


def populate(store: Store, apps: Iterable[tuple[Obj, Obj]]) -> None:
    """Create each (Deployment, Service) pair with the Deployment's pods running and the Service's slices."""
    ctl = Controllers(store)
    now = ctl.timestamp()
    ctl.slices.create_object = lambda obj: _commit(store, SLICE, _stamp(store, SLICE, obj, now))
    fitting: dict[str, tuple[list[Obj], dict[str, Obj]]] = {}
    with store.lock:
        nodes = [n for n in store.list(NODE)[0] if node_ready(n)]
        host_ips = {n["metadata"]["name"]: node_ip(n) for n in nodes}
        next_node = 0
        for dep, svc in apps:
            ns = dep["metadata"]["namespace"]
            svc_obj = _commit(store, SVC, _stamp(store, SVC, _service(store, svc), now))
            dep_obj = dict(dep, metadata=dict(dep["metadata"]), status={})
            admission.default_deployment(dep_obj, None)
            _stamp(store, DEPLOY, dep_obj, now)
            template = dep_obj["spec"]["template"]
            tspec = template.get("spec") or {}
            placement = repr((tspec.get("tolerations"), tspec.get("nodeSelector")))
            if placement not in fitting:
                fits = [n for n in nodes if tolerates(tspec, n)]
                fitting[placement] = (fits, {n["metadata"]["name"]: n for n in fits})
            fits, node_objs = fitting[placement]
            h = ctl.workloads.template_hash(dep_obj)
            rs_name = f"{dep_obj['metadata']['name']}-{h}"
            rs_uid = derived_uid(dep_obj["metadata"]["uid"], h)
            proto: Obj | None = None
            pods: list[Obj] = []
            for _ in range(dep_obj["spec"]["replicas"]):
                node = fits[next_node % len(fits)]["metadata"]["name"] if fits else ""
                next_node += 1
                name = ctl.workloads._free_name(ns, f"{rs_name}-", rs_uid, ctl._names)
                if proto is None:
                    pod = ctl.workloads.pod_from_template(dep_obj, "ReplicaSet", rs_name, rs_uid, template, name,
                                                          node, {HASH_LABEL: h})
                    ctl.kubelet.start(pod)
                    proto = pod
                else:
                    pod = _clone(store, proto, name, node, host_ips.get(node, ""))
                pods.append(_commit(store, POD, _stamp(store, POD, pod, now)))
            ctl.slices.apply(svc_obj, desired_endpoints(svc_obj, sorted(pods, key=lambda p: p["metadata"]["name"]),
                                                        node_objs), {})
            dep_obj["status"] = deployment_status(dep_obj, [(p, True) for p in pods], rs_name, now)
            _commit(store, DEPLOY, dep_obj)


def settle(store: Store, namespaces: Iterable[str]) -> None:
    """Run the controllers over the workloads and Services of `namespaces` only (the generator's kube-system and
    default), then declare the whole store settled: the bulk-written rest is current already."""
    ctl = Controllers(store)
    namespaces = tuple(namespaces)
    with store.lock:
        # index only what these namespaces hold: the bulk-written pods are settled and need no look
        ctl.index.load([p for ns in namespaces for p in store.list(POD, ns)[0]],
                       [s for ns in namespaces for s in store.list(SVC, ns)[0]],
                       [s for ns in namespaces for s in store.list(SLICE, ns)[0]])
        follow = store.subscribe(ctl._events.append)
        try:
            for ns in namespaces:
                for res, queue in ((DEPLOY, ctl._deployments), (DS, ctl._daemonsets), (SVC, ctl._services)):
                    for obj in store.list(res, ns)[0]:
                        queue.add((ns, obj["metadata"]["name"]))
            ctl._process(None)
        finally:
            follow()
        mark_settled(store)


def _service(store: Store, svc: Obj) -> Obj:
    """The generated Service defaulted and allocated as admission does (it is valid by construction)."""
    obj = default_service(svc)
    obj["status"] = {"loadBalancer": {}}
    try:
        admission.allocators.for_store(store).allocate_service(obj, None, False)
    except errors.ApiError as e:
        if e.code != 500 or obj["spec"].get("type") not in ("NodePort", "LoadBalancer"):
            raise
        svc = dict(svc, spec=dict(svc["spec"], type="ClusterIP"))  # the NodePort range is used up
        return _service(store, svc)
    return obj


def _clone(store: Store, proto: Obj, name: str, node: str, host: str) -> Obj:
    """Another replica: its own name, node and addresses; everything else shared with the prototype."""
    meta, spec, status = proto["metadata"], proto["spec"], proto["status"]
    ns = meta["namespace"]
    ip = admission.allocators.for_store(store).pod_ip(node, (ns, name)) or ""
    seed_base = f"{ns}/{name}/"
    from tui.sim.controllers.kubelet import _sha  # the kubelet's container IDs, per pod and container
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {k: v for k, v in meta.items() if k not in ("uid", "creationTimestamp", "resourceVersion")}
        | {"name": name},
        "spec": {**spec, "nodeName": node},
        "status": {**status, "hostIP": host, "hostIPs": [{"ip": host}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "containerStatuses": [{**cs, "containerID": f"containerd://{_sha(seed_base + cs['name'])}"}
                                         for cs in status.get("containerStatuses") or []]},
    }
