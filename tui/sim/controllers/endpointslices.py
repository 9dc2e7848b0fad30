"""The EndpointSlice controller, as kube-controller-manager's (`staging/src/k8s.io/endpointslice`) behaves.

For every Service with a selector: the pods it selects that have an IP and are not finished, each as an endpoint
with ready = publishNotReadyAddresses || (serving && !terminating), serving = the pod's Ready condition,
terminating = deletionTimestamp set, nodeName, the node's zone, a hostname only when the pod's hostname and
subdomain name this Service, and a targetRef to the pod. Ports are resolved per pod (a named targetPort against the
pod's container ports of the same protocol; a name no container has leaves that port out for that pod, so pods
with different resolved ports land in different slices). At most 100 endpoints per slice; existing slices are
updated in place and filled before new ones are created, so names do not churn; a Service whose pods are all gone
keeps one placeholder slice with no endpoints, as the real controller does. Slices are labelled
`kubernetes.io/service-name`, `endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io` (plus the
Service's own labels and `service.kubernetes.io/headless` for headless Services) and owned by the Service.
Services without a selector, and ExternalName Services, get no managed slices: slices written by others are never
touched.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Mapping

from tui.kube.models import SERVICE_NAME_LABEL
from tui.kube.validation import is_dns1123_subdomain, json_copy
from tui.sim.controllers.index import MANAGED_BY_LABEL, SLICE_CONTROLLER, selector_of
from tui.sim.resources import BY_KIND

if TYPE_CHECKING:
    from tui.sim.controllers import Controllers

Obj = dict[str, Any]
SLICE, POD, NODE, SVC = BY_KIND["EndpointSlice"], BY_KIND["Pod"], BY_KIND["Node"], BY_KIND["Service"]
MAX_ENDPOINTS_PER_SLICE = 100
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(seed: str, n: int, length: int = 5) -> str:
    """The n-th generated-name suffix for `seed`: deterministic, from kube's name alphabet."""
    digest = hashlib.blake2b(f"{seed}/{n}".encode(), digest_size=length).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest)


def is_v6(ip: str) -> bool:
    return ":" in ip  # an address from a pod status: its family shows in its form


def address_types(svc: Mapping[str, Any]) -> list[str]:
    """getAddressTypesForService: from ipFamilies; else from the ClusterIP; headless without families gets both."""
    spec = svc.get("spec") or {}
    out = []
    for fam in spec.get("ipFamilies") or []:
        if fam in ("IPv4", "IPv6") and fam not in out:
            out.append(fam)
    if out:
        return sorted(out)
    cip = spec.get("clusterIP") or ""
    if cip and cip != "None":
        return ["IPv6" if is_v6(cip) else "IPv4"]
    return ["IPv4", "IPv6"]


def pod_ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status")
    for c in (status.get("conditions") or ()) if status else ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return [str(ip) for ip in ips]


def should_include(pod: Mapping[str, Any]) -> bool:
    """ShouldPodBeInEndpoints(pod, includeTerminating=true): not finished, and has an IP."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return bool(pod_ips(pod))


def find_port(pod: Mapping[str, Any], svc_port: Mapping[str, Any]) -> int | None:
    """podutil.FindPort: a number is taken as is; a name must match a container port of the same protocol."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target:
        proto = svc_port.get("protocol", "TCP")
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or [])
        containers += [c for c in spec.get("initContainers") or [] if isinstance(c, dict)
                       and c.get("restartPolicy") == "Always"]  # sidecars count
        for c in containers:
            for p in (c.get("ports") or []) if isinstance(c, dict) else []:
                if isinstance(p, dict) and p.get("name") == target and p.get("protocol", "TCP") == proto:
                    return p.get("containerPort")
    return None


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        if not isinstance(sp, dict):
            continue
        num = find_port(pod, sp)
        if num is None:
            continue  # the real controller logs "Failed to find port for service" and leaves the port out
        port: Obj = {"name": sp.get("name", ""), "port": num, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_endpoint(pod: Mapping[str, Any], node: Mapping[str, Any] | None, svc: Mapping[str, Any],
                 address_type: str) -> Obj | None:
    """podToEndpoint; None when the pod has no address of this type."""
    want_v6 = address_type == "IPv6"
    addrs = [ip for ip in pod_ips(pod) if is_v6(ip) == want_v6]
    if not addrs:
        return None
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    svc_meta, svc_spec = svc.get("metadata") or {}, svc.get("spec") or {}
    serving = pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ep: Obj = {"addresses": addrs,
               "conditions": {"ready": bool(svc_spec.get("publishNotReadyAddresses")) or (serving and not terminating),
                              "serving": serving, "terminating": terminating}}
    if spec.get("hostname") and spec.get("subdomain") == svc_meta.get("name") and \
            meta.get("namespace") == svc_meta.get("namespace"):
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                       "uid": meta.get("uid", "")}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL)
    if zone:
        ep["zone"] = zone
    return ep


def endpoint_key(ep: Mapping[str, Any]) -> tuple[Any, ...]:
    """The real controller's endpoint identity: addresses, hostname and the target pod (not the conditions)."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or [])), ep.get("hostname") or "", ref.get("namespace", ""),
            ref.get("name", ""))


def ports_key(ports: Any) -> tuple[Any, ...]:
    return tuple(sorted((p.get("name", ""), p.get("port"), p.get("protocol", "TCP"), p.get("appProtocol") or "")
                        for p in ports or [] if isinstance(p, dict)))


def slice_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    if spec.get("clusterIP") in (None, "", "None"):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    labels[SERVICE_NAME_LABEL] = meta.get("name", "")
    labels[MANAGED_BY_LABEL] = SLICE_CONTROLLER
    return labels


def owner_reference(svc: Mapping[str, Any]) -> Obj:
    meta = svc.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Service", "name": meta.get("name", ""), "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def slice_prefix(service: str) -> str:
    prefix = f"{service}-"
    return prefix if not is_dns1123_subdomain(prefix[:-1] + "a") else service


def slice_body(svc: Mapping[str, Any], address_type: str, ports: list[Obj], endpoints: list[Obj]) -> Obj:
    """The parts of a slice the controller owns (the rest of the metadata is the store's)."""
    body: Obj = {"addressType": address_type, "endpoints": endpoints or None}
    if ports:
        body["ports"] = ports
    return body


def desired_endpoints(svc: Mapping[str, Any], pods: list[Mapping[str, Any]],
                      nodes: Mapping[str, Mapping[str, Any] | None]
                      ) -> dict[tuple[str, tuple[Any, ...]], tuple[list[Obj], dict[tuple[Any, ...], Obj]]]:
    """(addressType, ports key) -> (ports, endpoints by identity), pods in name order."""
    spec = svc.get("spec") or {}
    out: dict[tuple[str, tuple[Any, ...]], tuple[list[Obj], dict[tuple[Any, ...], Obj]]] = {}
    for at in address_types(svc):
        for pod in pods:
            if not should_include(pod):
                continue
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = nodes.get(node_name)
            if node is None and not spec.get("publishNotReadyAddresses"):
                continue  # "skipping Pod for Service, Node not found"
            ep = pod_endpoint(pod, node, svc, at)
            if ep is None:
                continue
            ports = endpoint_ports(svc, pod)
            group = (at, ports_key(ports))
            out.setdefault(group, (ports, {}))[1][endpoint_key(ep)] = ep
    return out


class EndpointSliceController:
    def __init__(self, ctl: "Controllers") -> None:
        self.ctl = ctl
        self.store = ctl.store
        self._name_counter: dict[tuple[str, str], int] = {}
        self.create_object = lambda obj: self.store.create(SLICE, obj)  # the generator writes in bulk

    def _pods_for(self, ns: str, svc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        names = self.ctl.index.pod_labels.matching(ns, selector_of(svc))
        pods = [self.store.get(POD, ns, n) for n in sorted(names)]
        return [p for p in pods if p is not None]

    def _new_name(self, svc: Mapping[str, Any]) -> str:
        meta = svc.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        prefix = slice_prefix(key[1])
        while True:
            n = self._name_counter.get(key, 0)
            self._name_counter[key] = n + 1
            name = prefix + random_suffix(meta.get("uid", ""), n)
            if self.store.get(SLICE, key[0], name) is None:
                return name

    def reconcile(self, ns: str, name: str) -> None:
        svc = self.store.get(SVC, ns, name)
        existing = {n: s for n in self.ctl.index.managed_slices(ns, name)
                    if (s := self.store.get(SLICE, ns, n)) is not None}
        if svc is None or not selector_of(svc) or (svc.get("spec") or {}).get("type") == "ExternalName":
            for n in existing:
                self._delete(ns, n)
            return
        pods = self._pods_for(ns, svc)
        nodes = {}
        for p in pods:
            node_name = (p.get("spec") or {}).get("nodeName") or ""
            if node_name not in nodes:
                nodes[node_name] = self.store.get(NODE, None, node_name) if node_name else None
        self.apply(svc, desired_endpoints(svc, pods, nodes), existing)

    def apply(self, svc: Mapping[str, Any],
              desired: dict[tuple[str, tuple[Any, ...]], tuple[list[Obj], dict[tuple[Any, ...], Obj]]],
              existing: dict[str, Mapping[str, Any]]) -> None:
        ns = (svc.get("metadata") or {}).get("namespace", "")
        remaining = {g: dict(eps) for g, (_, eps) in desired.items()}
        group_ports = {g: ports for g, (ports, _) in desired.items()}
        # 1. keep each existing slice's endpoints that are still wanted (with their new conditions), in place
        plan: dict[str, tuple[tuple[str, tuple[Any, ...]], list[Obj]]] = {}
        for sname in sorted(existing):
            sl = existing[sname]
            group = (sl.get("addressType", ""), ports_key(sl.get("ports")))
            kept: list[Obj] = []
            want = remaining.get(group)
            if want is not None:
                for ep in sl.get("endpoints") or []:
                    k = endpoint_key(ep)
                    if k in want:
                        kept.append(want.pop(k))
            plan[sname] = (group, kept)
        # 2. place the rest: first into slices with room that change anyway, then any with room, then new slices
        created: list[tuple[tuple[str, tuple[Any, ...]], list[Obj]]] = []
        for group, eps in remaining.items():
            todo = list(eps.values())
            if not todo:
                continue

            def changed(sname: str) -> bool:
                return [endpoint_key(e) for e in plan[sname][1]] != \
                    [endpoint_key(e) for e in existing[sname].get("endpoints") or []]

            candidates = sorted((s for s in plan if plan[s][0] == group), key=lambda s: (not changed(s), s))
            for sname in candidates:
                room = MAX_ENDPOINTS_PER_SLICE - len(plan[sname][1])
                if room > 0 and todo:
                    plan[sname][1].extend(todo[:room])
                    todo = todo[room:]
            while todo:
                created.append((group, todo[:MAX_ENDPOINTS_PER_SLICE]))
                todo = todo[MAX_ENDPOINTS_PER_SLICE:]
        # 3. a Service with no endpoints at all keeps exactly one placeholder slice
        total = sum(len(eps) for _, eps in plan.values()) + sum(len(eps) for _, eps in created)
        placeholder: str | None = None
        if total == 0:
            empties = sorted(plan, key=lambda s: (bool(existing[s].get("ports")), s))
            placeholder = empties[0] if empties else None
            if placeholder is None:
                created.append(((address_types(svc)[0], ()), []))
        labels = slice_labels(svc)
        owner = owner_reference(svc)
        for sname, (group, eps) in plan.items():
            if not eps and sname != placeholder:
                self._delete(ns, sname)
                continue
            ports = group_ports.get(group, []) if eps else []
            at = group[0] if eps else address_types(svc)[0]
            self._write(existing[sname], labels, owner, slice_body(svc, at, ports, eps))
        for group, eps in created:
            ports = group_ports.get(group, [])
            self._create(svc, labels, owner, slice_body(svc, group[0], ports, eps))

    def _write(self, current: Mapping[str, Any], labels: dict[str, str], owner: Obj, body: Obj) -> None:
        meta = current.get("metadata") or {}
        same = (meta.get("labels") == labels and meta.get("ownerReferences") == [owner] and
                current.get("addressType") == body["addressType"] and
                current.get("endpoints") == body["endpoints"] and current.get("ports") == body.get("ports"))
        if same:
            return
        new = json_copy(dict(current))
        new["metadata"]["labels"] = labels
        new["metadata"]["ownerReferences"] = [owner]
        new.pop("ports", None)
        new.update(body)  # built for this write alone
        self.ctl.own_write(lambda: self.store.update(SLICE, new, check_rv=False))

    def _create(self, svc: Mapping[str, Any], labels: dict[str, str], owner: Obj, body: Obj) -> None:
        meta = svc.get("metadata") or {}
        name = self._new_name(svc)
        obj: Obj = {"apiVersion": SLICE.api_version, "kind": SLICE.kind,
                    "metadata": {"name": name, "generateName": slice_prefix(meta.get("name", "")),
                                 "namespace": meta.get("namespace", ""), "labels": labels,
                                 "ownerReferences": [owner]}}
        obj.update(body)  # built for this write alone
        self.ctl.own_write(lambda: self.create_object(obj))

    def _delete(self, ns: str, name: str) -> None:
        if self.store.get(SLICE, ns, name) is not None:
            self.ctl.own_write(lambda: self.store.delete(SLICE, ns, name))
