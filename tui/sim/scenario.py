"""Scenarios: the objects a simulated cluster starts with, as data files, and a generator of large clusters.

Interface (SimCluster calls these; owned by the sim-semantics work):
    load_into(store, name_or_path)                         "tutorial" (default), "empty", another bundled name, or a
                                                           YAML file path; raises ValueError naming the choices
    generate_into(store, services, pods_per_service)       a large cluster for benchmarks
    NAMES                                                  the bundled scenario names

A scenario file is plain Kubernetes objects in one multi-document YAML (tui/sim/scenarios/NAME.yaml). They go
through the sim's admission like `kubectl create -f` (defaults, ClusterIPs, NodePorts), namespaces and nodes
first; pods are left to the controllers. A Node without status conditions or capacity gets those of a healthy,
Ready kubelet.
"""

from __future__ import annotations

import copy
import gc
import math
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

from tui.sim import admission, errors
from tui.sim.resources import BY_KIND
from tui.sim.store import Store, timestamp

Obj = dict[str, Any]
SCENARIO_DIR = Path(__file__).with_name("scenarios")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
NAMES: tuple[str, ...] = ("tutorial", "empty", "broken")
FIRST_KINDS = ("Namespace", "Node")  # what other objects need to exist first


def _path_of(name_or_path: str) -> Path:
    if name_or_path in NAMES:
        return SCENARIO_DIR / f"{name_or_path}.yaml"
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        if not path.is_file():
            raise ValueError(f"scenario file {str(path)!r} does not exist; give one of {', '.join(NAMES)} or a "
                             "YAML file of Kubernetes objects")
        return path
    raise ValueError(f"unknown scenario {name_or_path!r}: choose one of {', '.join(NAMES)} or a YAML file")


def read_objects(path: Path) -> list[Obj]:
    """The objects of a multi-document YAML file (List kinds unfolded), with a clear error for bad input."""
    try:
        docs = list(yaml.load_all(path.read_text(), Loader=_LOADER))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read scenario {path}: {e}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"scenario {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    out: list[Obj] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"scenario {path}: document {i + 1} is not a Kubernetes object")
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            out.append(doc)
    return out


def load_into(store: Store, name_or_path: str) -> None:
    if name_or_path == "empty":
        return
    path = _path_of(name_or_path)
    create_objects(store, read_objects(path), str(path.name))


def create_objects(store: Store, objs: Iterable[Obj], source: str = "scenario") -> None:
    """Create objects as `kubectl create -f` would (through admission), namespaces and nodes first."""
    objs = list(objs)
    order = sorted(range(len(objs)), key=lambda i: (FIRST_KINDS.index(objs[i].get("kind"))
                                                   if objs[i].get("kind") in FIRST_KINDS else len(FIRST_KINDS), i))
    with store.lock:
        for i in order:
            obj = copy.deepcopy(objs[i])
            kind = obj.get("kind")
            res = BY_KIND.get(str(kind))
            if res is None:
                raise ValueError(f"{source}: the simulated cluster does not serve kind {kind!r} "
                                 f"(it serves {', '.join(sorted(BY_KIND))})")
            meta = obj.setdefault("metadata", {})
            if res.namespaced:
                meta.setdefault("namespace", "default")
                if store.get(BY_KIND["Namespace"], None, meta["namespace"]) is None:
                    store.create(BY_KIND["Namespace"], admission.admit(
                        store, BY_KIND["Namespace"], {"metadata": {"name": meta["namespace"]}}, None, False))
            if kind == "Node":
                node_defaults(store, obj)
            try:
                store.create(res, admission.admit(store, res, obj, None, False))
            except errors.ApiError as e:
                raise ValueError(f"{source}: cannot create {kind} {meta.get('name')!r}: {e.message}") from None


def node_defaults(store: Store, node: Obj) -> None:
    """A registered, healthy kubelet's labels and status for a Node given only its addresses."""
    now = timestamp(store.clock())
    name = (node.get("metadata") or {}).get("name", "")
    labels = node.setdefault("metadata", {}).setdefault("labels", {})
    for key, value in (("beta.kubernetes.io/arch", "amd64"), ("beta.kubernetes.io/os", "linux"),
                       ("kubernetes.io/arch", "amd64"), ("kubernetes.io/hostname", name),
                       ("kubernetes.io/os", "linux")):
        labels.setdefault(key, value)
    status = node.setdefault("status", {})
    status.setdefault("capacity", {"cpu": "2", "ephemeral-storage": "40764888Ki", "hugepages-2Mi": "0",
                                   "memory": "4022936Ki", "pods": "110"})
    status.setdefault("allocatable", {"cpu": "2", "ephemeral-storage": "37569620724", "hugepages-2Mi": "0",
                                      "memory": "3920536Ki", "pods": "110"})
    status.setdefault("conditions", [
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available"},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
         "message": "kubelet has no disk pressure"},
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
         "message": "kubelet has sufficient PID available"},
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"},
    ])
    for c in status["conditions"]:
        c.setdefault("lastHeartbeatTime", now)
        c.setdefault("lastTransitionTime", now)
    status.setdefault("daemonEndpoints", {"kubeletEndpoint": {"Port": 10250}})
    status.setdefault("nodeInfo", {"architecture": "amd64", "bootID": "", "containerRuntimeVersion":
                                   "containerd://1.7.24", "kernelVersion": "6.1.0-28-amd64", "kubeProxyVersion": "",
                                   "kubeletVersion": "v1.32.3", "machineID": "", "operatingSystem": "linux",
                                   "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": ""})
    status.setdefault("addresses", [{"address": name, "type": "Hostname"}])


# -- the large-cluster generator --------------------------------------------------------------------------------------

PODS_PER_NODE = 100  # below kubelet's default maxPods (110)
SERVICES_PER_NAMESPACE = 500


def generate_into(store: Store, services: int, pods_per_service: int) -> float:
    """A cluster of `services` Services, each backed by a Deployment of `pods_per_service` ready pods: the tutorial's
    kube-system and `kubernetes` Service, nodes enough for the pods, namespaces `bench-NN` of 500 Services each.
    Types mix as in real clusters: 5% headless, 10% NodePort, 3% LoadBalancer, the rest ClusterIP; one in ten
    Services has a second (named) port. Pods and EndpointSlices are written directly, as the controllers would
    leave them (no per-event reconcile storm); returns the seconds it took."""
    if services < 0 or pods_per_service < 0:
        raise ValueError("the generator needs a non-negative number of Services and of pods per Service")
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of new dicts: the cyclic GC would rescan them again and again
    try:
        _generate(store, services, pods_per_service)
    finally:
        if collecting:
            gc.enable()
        gc.freeze()  # the cluster's objects stay: later collections need not walk them
    return time.perf_counter() - started


def _generate(store: Store, services: int, pods_per_service: int) -> None:
    from tui.sim.controllers import bulk

    base = [o for o in read_objects(SCENARIO_DIR / "tutorial.yaml")
            if o.get("kind") != "Node" and (o.get("metadata") or {}).get("namespace") != "dev"
            and not (o.get("kind") == "Namespace" and o["metadata"]["name"] == "dev")]
    total_pods = services * pods_per_service
    n_nodes = max(3, math.ceil(total_pods / PODS_PER_NODE) + 1)  # node1 is the (tainted) control plane
    create_objects(store, [generated_node(i) for i in range(n_nodes)], "generator")
    create_objects(store, base, "generator")
    n_ns = max(1, math.ceil(services / SERVICES_PER_NAMESPACE))
    create_objects(store, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i:02d}"}}
                           for i in range(n_ns)], "generator")
    bulk.populate(store, (generated_app(i, n_ns, pods_per_service) for i in range(services)))
    bulk.settle(store, ("default", "kube-system"))


def generated_node(i: int) -> Obj:
    name = f"node{i + 1}"
    node: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
            "topology.kubernetes.io/region": "region-1", "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}"}},
        "spec": {"podCIDR": f"10.{244 + i // 256}.{i % 256}.0/24", "podCIDRs": [f"10.{244 + i // 256}.{i % 256}.0/24"]},
        "status": {"addresses": [{"address": f"192.168.{10 + (i + 10) // 254}.{(i + 10) % 254 + 1}",
                                  "type": "InternalIP"}, {"address": name, "type": "Hostname"}]},
    }
    if i == 0:
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
        node["spec"]["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    return node


def generated_app(i: int, n_ns: int, replicas: int) -> tuple[Obj, Obj]:
    """The Deployment and Service of generated app number i."""
    ns = f"bench-{i % n_ns:02d}"
    name = f"app-{i:05d}"
    kind = i % 100
    ports: list[Obj] = [{"name": "http", "port": 80, "targetPort": "http"}]
    if i % 10 == 7:
        ports.append({"name": "metrics", "port": 9090, "targetPort": 9090})
    if len(ports) == 1 and i % 2:
        ports = [{"port": 80, "targetPort": 8080}]
    spec: Obj = {"selector": {"app": name}, "ports": ports}
    if kind < 5:
        spec["clusterIP"] = "None"
    elif kind < 15:
        spec["type"] = "NodePort"
    elif kind < 18:
        spec["type"] = "LoadBalancer"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
                                                                "labels": {"app": name, "tier": "bench"}},
           "spec": spec}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0",
                                                          "ports": [{"name": "http", "containerPort": 8080},
                                                                    {"name": "metrics", "containerPort": 9090}]}]}}}}
    return dep, svc
