"""A stand-in for a cloud's load-balancer controller: the sim has no cloud, so a LoadBalancer Service stays
`<pending>` (as on a bare kubeadm cluster) unless it asks for an address with the annotation
`sim.svcscope.io/load-balancer-ip: 192.168.10.240` (several: comma-separated); the address then appears in
status.loadBalancer.ingress (ipMode VIP), as MetalLB would put it there. Other types get an empty status."""

from __future__ import annotations

from typing import Any, Mapping

from tui.kube.validation import parse_ip
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

SVC = BY_KIND["Service"]
LB_IP_ANNOTATION = "sim.svcscope.io/load-balancer-ip"


def desired_status(svc: Mapping[str, Any]) -> dict[str, Any]:
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return {}
    wanted = ((svc.get("metadata") or {}).get("annotations") or {}).get(LB_IP_ANNOTATION, "")
    ips = [ip.strip() for ip in str(wanted).split(",") if parse_ip(ip.strip()) is not None]
    return {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips]} if ips else {}


def reconcile(store: Store, ns: str, name: str) -> None:
    svc = store.get(SVC, ns, name)
    if svc is None:
        return
    want = desired_status(svc)
    if ((svc.get("status") or {}).get("loadBalancer") or {}) != want:
        store.mutate(SVC, ns, name, lambda s: s.setdefault("status", {}).__setitem__("loadBalancer", want))
