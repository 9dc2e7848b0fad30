"""The sim's controllers as kube-controller-manager and the kubelets behave, driven through the store and admission
(the HTTP server's path) and `Controllers.sync()`; the last tests run them on a live asyncio loop."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any, Iterator

import pytest

from tests.conftest import wait_for
from tui.sim import admission, scenario
from tui.sim.controllers import Controllers
from tui.sim.controllers.kubeproxy import KERNEL_MODULES_ANNOTATION, PROXY_MODE_ANNOTATION
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

SVC, POD, SLICE, NODE = BY_KIND["Service"], BY_KIND["Pod"], BY_KIND["EndpointSlice"], BY_KIND["Node"]
DEPLOY, DS, CM, NS = BY_KIND["Deployment"], BY_KIND["DaemonSet"], BY_KIND["ConfigMap"], BY_KIND["Namespace"]
ALPHA = "[bcdfghjklmnpqrstvwxz2456789]"


def node(name: str, ip: str, cidr: str, zone: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone},
                         "annotations": annotations},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"address": ip, "type": "InternalIP"}]}}


@pytest.fixture
def store() -> Store:
    st = Store()
    scenario.create_objects(st, [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}},
        node("node1", "192.168.10.11", "10.244.0.0/24", "zone-a"),
        node("node2", "192.168.10.12", "10.244.1.0/24", "zone-b"),
        node("node3", "192.168.10.13", "10.244.2.0/24", "zone-c"),
    ])
    admission.knobs(st).pod_grace_seconds = 60  # terminating pods stay until a test ends their grace period
    return st


@pytest.fixture
def ctl(store: Store) -> Controllers:
    return Controllers(store)


def create(store: Store, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    res = BY_KIND[kind]
    obj.setdefault("apiVersion", res.api_version)
    obj["kind"] = kind
    obj.setdefault("metadata", {}).setdefault("namespace", "dev")
    with store.lock:
        return store.create(res, admission.admit(store, res, obj, None, False))


def update(store: Store, kind: str, ns: str, name: str, change: Any) -> None:
    res = BY_KIND[kind]
    with store.lock:
        old = store.require(res, ns, name)
        new = store.get_copy(res, ns, name)
        change(new)
        store.update(res, admission.admit(store, res, new, old, False))


def deployment(name: str, replicas: int, labels: dict[str, str], ports: list[dict[str, Any]] | None = None,
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    tmeta: dict[str, Any] = {"labels": labels}
    if annotations:
        tmeta["annotations"] = annotations
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": tmeta, "spec": {"containers": [
                         {"name": "app", "image": "nginx:1.17.1", "ports": ports or [{"containerPort": 80}]}]}}}}


def service(name: str, selector: dict[str, str] | None, ports: list[dict[str, Any]] | None = None,
            **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": ports or [{"port": 80, "targetPort": 80}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"metadata": {"name": name}, "spec": body}


def slices(store: Store, svc: str, ns: str = "dev") -> list[dict[str, Any]]:
    return store.list(SLICE, ns, lambda s: s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == svc)[0]


def endpoints(store: Store, svc: str, ns: str = "dev") -> list[dict[str, Any]]:
    return [e for s in slices(store, svc, ns) for e in s.get("endpoints") or []]


def pods(store: Store, prefix: str, ns: str = "dev") -> list[dict[str, Any]]:
    return store.list(POD, ns, lambda p: p["metadata"]["name"].startswith(prefix))[0]


def end_grace_periods(store: Store) -> None:
    knobs = admission.knobs(store)
    for key in knobs.removal_deadlines:
        knobs.removal_deadlines[key] = 0.0


# -- Deployments and the pods they keep -----------------------------------------------------------------------------

def test_deployment_runs_its_replicas(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("pc-deployment", 3, {"app": "nginx-pod"}))
    ctl.sync()
    ps = pods(store, "pc-deployment-")
    assert len(ps) == 3
    h = ps[0]["metadata"]["labels"]["pod-template-hash"]
    assert re.fullmatch(f"{ALPHA}{{6,10}}", h)
    for p in ps:
        assert re.fullmatch(f"pc-deployment-{h}-{ALPHA}{{5}}", p["metadata"]["name"])
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert p["metadata"]["ownerReferences"][0]["name"] == f"pc-deployment-{h}"
        assert p["status"]["phase"] == "Running"
        assert {c["type"]: c["status"] for c in p["status"]["conditions"]}["Ready"] == "True"
        assert p["status"]["containerStatuses"][0]["ready"] is True
        assert p["status"]["containerStatuses"][0]["image"] == "docker.io/library/nginx:1.17.1"
        cidr = {"node1": "10.244.0.", "node2": "10.244.1.", "node3": "10.244.2."}[p["spec"]["nodeName"]]
        assert p["status"]["podIP"].startswith(cidr)
        assert p["status"]["hostIP"].startswith("192.168.10.1")
    assert sorted(p["spec"]["nodeName"] for p in ps) == ["node1", "node2", "node3"]  # spread
    assert len({p["status"]["podIP"] for p in ps}) == 3
    status = store.get(DEPLOY, "dev", "pc-deployment")["status"]
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"], status["observedGeneration"]) == \
        (3, 3, 3, 1)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Available": "True", "Progressing": "True"}
    rv = store.resource_version
    ctl.sync()
    assert store.resource_version == rv  # a settled cluster stays still


def test_pods_avoid_tainted_nodes(store: Store, ctl: Controllers) -> None:
    with store.lock:
        store.mutate(NODE, None, "node1", lambda n: n["spec"].__setitem__(
            "taints", [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]))
    create(store, "Deployment", deployment("web", 4, {"app": "web"}))
    ctl.sync()
    assert sorted(p["spec"]["nodeName"] for p in pods(store, "web-")) == ["node2", "node2", "node3", "node3"]


def test_bare_pod_is_scheduled_and_started(store: Store, ctl: Controllers) -> None:
    create(store, "Pod", {"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    ctl.sync()
    p = store.get(POD, "dev", "solo")
    assert p["spec"]["nodeName"] in ("node1", "node2", "node3") and p["status"]["phase"] == "Running"
    assert p["status"]["podIP"].startswith("10.244.")


def test_pod_waits_when_no_node_fits(store: Store, ctl: Controllers) -> None:
    with store.lock:
        for n in ("node1", "node2", "node3"):
            store.mutate(NODE, None, n, lambda o: o["spec"].__setitem__("taints", [{"key": "x", "effect": "NoSchedule"}]))
    create(store, "Pod", {"metadata": {"name": "stuck"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    ctl.sync()
    p = store.get(POD, "dev", "stuck")
    assert p["status"]["phase"] == "Pending" and "nodeName" not in p["spec"]
    cond = p["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert cond["message"].startswith("0/3 nodes are available")


# -- EndpointSlices ---------------------------------------------------------------------------------------------------

def test_slices_follow_the_pods(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("web", 3, {"app": "web"}))
    svc = create(store, "Service", service("web", {"app": "web"}))
    ctl.sync()
    [sl] = slices(store, "web")
    name = sl["metadata"]["name"]
    assert re.fullmatch(f"web-{ALPHA}{{5}}", name) and sl["metadata"]["generateName"] == "web-"
    assert sl["metadata"]["labels"] == {"kubernetes.io/service-name": "web",
                                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert sl["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                  "uid": svc["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert sl["addressType"] == "IPv4" and sl["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    by_pod = {p["metadata"]["name"]: p for p in pods(store, "web-")}
    for e in sl["endpoints"]:
        p = by_pod[e["targetRef"]["name"]]
        assert e["addresses"] == [p["status"]["podIP"]]
        assert e["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert e["targetRef"] == {"kind": "Pod", "namespace": "dev", "name": p["metadata"]["name"],
                                  "uid": p["metadata"]["uid"]}
        assert e["nodeName"] == p["spec"]["nodeName"]
        assert e["zone"] == {"node1": "zone-a", "node2": "zone-b", "node3": "zone-c"}[e["nodeName"]]
        assert "hostname" not in e
    # scale up: the same slice grows (no churn of names)
    update(store, "Deployment", "dev", "web", lambda d: d["spec"].__setitem__("replicas", 5))
    ctl.sync()
    assert [s["metadata"]["name"] for s in slices(store, "web")] == [name]
    assert len(endpoints(store, "web")) == 5
    # scale down: the pods terminate during their grace period, visible as terminating endpoints
    update(store, "Deployment", "dev", "web", lambda d: d["spec"].__setitem__("replicas", 1))
    ctl.sync()
    eps = endpoints(store, "web")
    terminating = [e for e in eps if e["conditions"]["terminating"]]
    assert len(eps) == 5 and len(terminating) == 4
    assert all(e["conditions"] == {"ready": False, "serving": True, "terminating": True} for e in terminating)
    assert store.get(DEPLOY, "dev", "web")["status"]["replicas"] == 1
    end_grace_periods(store)
    ctl.sync()
    assert len(endpoints(store, "web")) == 1 and len(pods(store, "web-")) == 1
    assert [s["metadata"]["name"] for s in slices(store, "web")] == [name]


def test_unready_pod_and_publish_not_ready(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("web", 2, {"app": "web"}))
    create(store, "Service", service("web", {"app": "web"}))
    create(store, "Service", service("web-all", {"app": "web"}, publishNotReadyAddresses=True))
    ctl.sync()
    victim = pods(store, "web-")[0]["metadata"]["name"]
    update(store, "Pod", "dev", victim, lambda p: p["metadata"].setdefault("annotations", {}).__setitem__(
        "sim.svcscope.io/ready", "false"))
    ctl.sync()
    p = store.get(POD, "dev", victim)
    ready = {c["type"]: c for c in p["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]")
    conds = {e["targetRef"]["name"]: e["conditions"] for e in endpoints(store, "web")}
    assert conds[victim] == {"ready": False, "serving": False, "terminating": False}
    assert sum(c["ready"] for c in conds.values()) == 1
    published = {e["targetRef"]["name"]: e["conditions"] for e in endpoints(store, "web-all")}
    assert published[victim] == {"ready": True, "serving": False, "terminating": False}
    assert store.get(DEPLOY, "dev", "web")["status"]["readyReplicas"] == 1
    update(store, "Pod", "dev", victim, lambda p: p["metadata"]["annotations"].__setitem__(
        "sim.svcscope.io/ready", "true"))
    ctl.sync()
    assert all(e["conditions"]["ready"] for e in endpoints(store, "web"))


def test_named_target_port(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("a", 2, {"app": "api", "v": "1"},
                                           ports=[{"name": "http", "containerPort": 8080}]))
    create(store, "Deployment", deployment("b", 1, {"app": "api", "v": "2"},
                                           ports=[{"name": "http", "containerPort": 9090}]))
    create(store, "Service", service("api", {"app": "api"}, ports=[{"name": "web", "port": 80, "targetPort": "http"}]))
    create(store, "Service", service("typo", {"app": "api"}, ports=[{"port": 80, "targetPort": "https"}]))
    ctl.sync()
    by_port = {s["ports"][0]["port"]: len(s["endpoints"]) for s in slices(store, "api")}
    assert by_port == {8080: 2, 9090: 1}  # pods resolving the name differently land in different slices
    assert all(s["ports"][0]["name"] == "web" for s in slices(store, "api"))
    [typo] = slices(store, "typo")
    assert "ports" not in typo and len(typo["endpoints"]) == 3  # no container port named https: port left out


def test_more_than_100_endpoints_make_two_slices(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("big", 130, {"app": "big"}))
    create(store, "Service", service("big", {"app": "big"}))
    ctl.sync()
    sizes = sorted(len(s["endpoints"]) for s in slices(store, "big"))
    assert sizes == [30, 100]
    ips = [a for e in endpoints(store, "big") for a in e["addresses"]]
    assert len(ips) == len(set(ips)) == 130


def test_hostname_only_with_matching_subdomain(store: Store, ctl: Controllers) -> None:
    for name, sub in (("db-0", "db"), ("db-1", "other")):
        create(store, "Pod", {"metadata": {"name": name, "labels": {"app": "db"}},
                              "spec": {"hostname": name, "subdomain": sub,
                                       "containers": [{"name": "c", "image": "postgres"}]}})
    create(store, "Service", service("db", {"app": "db"}, clusterIP="None"))
    ctl.sync()
    hostnames = {e["targetRef"]["name"]: e.get("hostname") for e in endpoints(store, "db")}
    assert hostnames == {"db-0": "db-0", "db-1": None}
    assert slices(store, "db")[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_no_managed_slices_without_selector(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("web", 1, {"app": "web"}))
    create(store, "Service", service("manual", None))
    create(store, "Service", {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName",
                                                                     "externalName": "db.example.com"}})
    create(store, "EndpointSlice", {"metadata": {"name": "manual-1", "labels": {
        "kubernetes.io/service-name": "manual"}}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.9"]}], "ports": [{"port": 80}]})
    ctl.sync()
    assert [s["metadata"]["name"] for s in slices(store, "manual")] == ["manual-1"]  # left alone
    assert slices(store, "ext") == []


def test_placeholder_slice_and_service_deletion(store: Store, ctl: Controllers) -> None:
    create(store, "Service", service("ghost", {"app": "ghost"}))
    ctl.sync()
    [sl] = slices(store, "ghost")
    assert sl["endpoints"] is None and "ports" not in sl and sl["addressType"] == "IPv4"
    with store.lock:
        admission.delete(store, SVC, "dev", "ghost", False)
    ctl.sync()
    assert slices(store, "ghost") == []


def test_deleting_a_deployment_deletes_its_pods(store: Store, ctl: Controllers) -> None:
    create(store, "Deployment", deployment("web", 2, {"app": "web"}))
    ctl.sync()
    with store.lock:
        admission.delete(store, DEPLOY, "dev", "web", False)
    ctl.sync()
    assert all(p["metadata"].get("deletionTimestamp") for p in pods(store, "web-"))
    end_grace_periods(store)
    ctl.sync()
    assert pods(store, "web-") == []


def test_rollout_of_a_deployment(store: Store, ctl: Controllers) -> None:
    admission.knobs(store).pod_grace_seconds = 0
    create(store, "Deployment", deployment("web", 2, {"app": "web"}))
    create(store, "Service", service("web", {"app": "web"}))
    ctl.sync()
    before = {p["metadata"]["name"] for p in pods(store, "web-")}
    update(store, "Deployment", "dev", "web", lambda d: d["spec"]["template"]["metadata"].setdefault(
        "annotations", {}).__setitem__("kubectl.kubernetes.io/restartedAt", "2025-01-01T00:00:00Z"))
    ctl.sync()
    after = {p["metadata"]["name"] for p in pods(store, "web-")}
    assert len(after) == 2 and not before & after
    assert {e["targetRef"]["name"] for e in endpoints(store, "web")} == after


# -- DaemonSets and kube-proxy ----------------------------------------------------------------------------------------

def kube_proxy_objects(mode: str = "ipvs") -> list[dict[str, Any]]:
    objs = [o for o in scenario.read_objects(scenario.SCENARIO_DIR / "tutorial.yaml")
            if o["kind"] in ("ConfigMap", "DaemonSet") and o["metadata"]["name"] == "kube-proxy"]
    cm = objs[0] if objs[0]["kind"] == "ConfigMap" else objs[1]
    cm["data"]["config.conf"] = cm["data"]["config.conf"].replace("mode: ipvs", f"mode: {mode}")
    return objs


def proxy_pods(store: Store) -> dict[str, dict[str, Any]]:
    return {p["spec"]["nodeName"]: p for p in pods(store, "kube-proxy-", "kube-system")}


def restart(store: Store, stamp: str) -> None:
    """What `kubectl rollout restart` patches."""
    update(store, "DaemonSet", "kube-system", "kube-proxy", lambda d: d["spec"]["template"]["metadata"].setdefault(
        "annotations", {}).__setitem__("kubectl.kubernetes.io/restartedAt", stamp))


def test_daemonset_one_pod_per_node_and_rollout_node_by_node(store: Store, ctl: Controllers) -> None:
    scenario.create_objects(store, kube_proxy_objects())
    ctl.sync()
    first = proxy_pods(store)
    assert sorted(first) == ["node1", "node2", "node3"]
    for n, p in first.items():
        assert re.fullmatch(f"kube-proxy-{ALPHA}{{5}}", p["metadata"]["name"])
        assert p["status"]["podIP"] == p["status"]["hostIP"]  # hostNetwork
        assert p["metadata"]["annotations"][PROXY_MODE_ANNOTATION] == "ipvs"
        assert p["metadata"]["labels"]["k8s-app"] == "kube-proxy"
    status = store.get(DS, "kube-system", "kube-proxy")["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"],
            status["updatedNumberScheduled"], status["observedGeneration"]) == (3, 3, 3, 3, 1)
    restart(store, "2025-01-01T00:00:00Z")
    replaced: list[str] = []
    for step in range(3):
        ctl.sync()
        terminating = [n for n, p in proxy_pods(store).items()
                       if p["metadata"].get("deletionTimestamp")]
        assert len(terminating) == 1, f"step {step}: one node at a time, not {terminating}"
        replaced += terminating
        end_grace_periods(store)
        ctl.sync()
        fresh = proxy_pods(store)[terminating[0]]
        assert fresh["metadata"]["name"] != first[terminating[0]]["metadata"]["name"]
    assert sorted(replaced) == ["node1", "node2", "node3"]
    ctl.sync()
    status = store.get(DS, "kube-system", "kube-proxy")["status"]
    assert (status["updatedNumberScheduled"], status["numberReady"], status["observedGeneration"]) == (3, 3, 2)


def test_kube_proxy_crashloops_where_its_mode_cannot_run(store: Store, ctl: Controllers) -> None:
    admission.knobs(store).pod_grace_seconds = 0
    with store.lock:
        store.mutate(NODE, None, "node2", lambda n: n["metadata"]["annotations"].__setitem__(
            KERNEL_MODULES_ANNOTATION, "ip_vs,nf_conntrack"))  # no ip_vs_rr
    scenario.create_objects(store, kube_proxy_objects("iptables"))
    ctl.sync()
    assert all(p["status"]["containerStatuses"][0]["ready"] for p in proxy_pods(store).values())
    # switch the ConfigMap to ipvs: running pods keep their mode until restarted
    update(store, "ConfigMap", "kube-system", "kube-proxy", lambda c: c["data"].__setitem__(
        "config.conf", c["data"]["config.conf"].replace("mode: iptables", "mode: ipvs")))
    ctl.sync()
    assert {p["metadata"]["annotations"][PROXY_MODE_ANNOTATION] for p in proxy_pods(store).values()} == {"iptables"}
    restart(store, "2025-01-01T00:00:00Z")
    ctl.sync()
    broken = proxy_pods(store)["node2"]
    cs = broken["status"]["containerStatuses"][0]
    assert broken["metadata"]["annotations"][PROXY_MODE_ANNOTATION] == "ipvs"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff" and cs["ready"] is False
    assert "ip_vs_rr" in cs["lastState"]["terminated"]["message"] and cs["restartCount"] == 1
    assert store.get(DS, "kube-system", "kube-proxy")["status"]["numberReady"] == 2
    with store.lock:
        ctl.kubelet.tick()
    assert proxy_pods(store)["node2"]["status"]["containerStatuses"][0]["restartCount"] == 2


# -- on a live loop -----------------------------------------------------------------------------------------------

@pytest.fixture
def running(store: Store) -> Iterator[Controllers]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ctl = Controllers(store)
    loop.call_soon_threadsafe(ctl.start, loop)
    try:
        yield ctl
    finally:
        ctl.stop()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_controllers_follow_changes_on_the_loop(store: Store, running: Controllers) -> None:
    admission.knobs(store).pod_grace_seconds = 0.3
    create(store, "Deployment", deployment("web", 3, {"app": "web"}))
    create(store, "Service", service("web", {"app": "web"}))
    wait_for(lambda: len([e for e in endpoints(store, "web") if e["conditions"]["ready"]]) == 3,
             message="3 ready endpoints")
    victim = pods(store, "web-")[0]["metadata"]["name"]
    admission.delete(store, POD, "dev", victim, False)
    # the pod terminates for its grace period, then a timer removes it and the Deployment replaces it
    wait_for(lambda: store.get(POD, "dev", victim) is None, message="pod removed after its grace period")
    wait_for(lambda: len([e for e in endpoints(store, "web") if e["conditions"]["ready"]]) == 3
             and victim not in {e["targetRef"]["name"] for e in endpoints(store, "web")},
             message="replacement pod ready in the slice")


def test_burst_of_changes_coalesces(store: Store, running: Controllers) -> None:
    for i in range(50):
        create(store, "Service", service(f"s{i}", {"app": "web"}))
    create(store, "Deployment", deployment("web", 2, {"app": "web"}))
    wait_for(lambda: all(len(endpoints(store, f"s{i}")) == 2 for i in range(50)), message="every Service fed")
    time.sleep(0.2)
    rv = store.resource_version
    time.sleep(0.3)
    assert store.resource_version == rv  # and then it settles


def test_namespace_deletion_removes_its_objects(store: Store, running: Controllers) -> None:
    create(store, "Deployment", deployment("web", 1, {"app": "web"}))
    create(store, "Service", service("web", {"app": "web"}))
    wait_for(lambda: len(endpoints(store, "web")) == 1, message="the Service has its endpoint")
    with store.lock:
        admission.delete(store, NS, None, "dev", False)
    wait_for(lambda: [store.count(r) for r in (SVC, POD, DEPLOY, SLICE)] == [0, 0, 0, 0],
             message="everything in the namespace is gone")


def test_node_not_ready_then_gone(store: Store, running: Controllers) -> None:
    create(store, "Deployment", deployment("web", 3, {"app": "web"}))
    create(store, "Service", service("web", {"app": "web"}))
    wait_for(lambda: sum(e["conditions"]["ready"] for e in endpoints(store, "web")) == 3, message="3 ready")

    def down(n: dict[str, Any]) -> None:
        for c in n["status"]["conditions"]:
            if c["type"] == "Ready":
                c["status"], c["reason"] = "Unknown", "NodeStatusUnknown"

    with store.lock:
        store.mutate(NODE, None, "node2", down)
    wait_for(lambda: {e["nodeName"]: e["conditions"]["ready"] for e in endpoints(store, "web")}.get("node2") is False,
             message="the endpoint on the NotReady node turns unready")
    assert sum(e["conditions"]["ready"] for e in endpoints(store, "web")) == 2
    with store.lock:
        store.delete(NODE, None, "node2")
    wait_for(lambda: len(endpoints(store, "web")) == 3 and
             all(e["conditions"]["ready"] and e["nodeName"] != "node2" for e in endpoints(store, "web")),
             message="the pod is replaced on another node")


def test_load_balancer_pending_unless_an_address_is_asked_for(store: Store, ctl: Controllers) -> None:
    create(store, "Service", service("lb", {"app": "web"}, type="LoadBalancer"))
    ctl.sync()
    assert store.get(SVC, "dev", "lb")["status"] == {"loadBalancer": {}}  # <pending>, as without a cloud
    update(store, "Service", "dev", "lb", lambda s: s["metadata"].setdefault("annotations", {}).__setitem__(
        "sim.svcscope.io/load-balancer-ip", "192.168.10.240"))
    ctl.sync()
    assert store.get(SVC, "dev", "lb")["status"]["loadBalancer"] == {"ingress": [{"ip": "192.168.10.240",
                                                                                  "ipMode": "VIP"}]}
