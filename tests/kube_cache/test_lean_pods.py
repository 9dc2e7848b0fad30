"""Lean pods: the trace feed's pod cache keeps PodView.lean views in place of the pods' JSON (a tenth of the
memory at 50,000 pods), and everything it reads of a pod is still there: the fields, the container ports."""

from __future__ import annotations

import copy

from tests.conftest import wait_for
from tests.kube_cache.test_cache_sim import Consumer, ensure_ns, make_cache, running  # noqa: F401 - a fixture
from tui.kube.cache import LEAN_PODS, PODS
from tui.kube.models import PodView, ServiceView
from tui.sim.resources import BY_KIND
from tui.trace.join import NodeContext, ServiceState, trace_service


def pod_body(name: str, labels: dict, ports: list[dict] | None = None, ns: str = "dev") -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "uid": f"uid-{name}",
                     "resourceVersion": "7", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"nodeName": "node-1", "hostname": name, "containers": [
            {"name": "app", "image": "app:1", "ports": ports if ports is not None else
             [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "dns", "containerPort": 53,
                                                                           "protocol": "UDP"}]}]},
        "status": {"phase": "Running", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}],
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "app", "restartCount": 2, "state": {"waiting": {
                       "reason": "CrashLoopBackOff"}}}]},
    }


def test_a_lean_view_is_the_full_view_without_the_json():
    obj = pod_body("web-1", {"app": "web", "tier": "front"})
    full, lean = PodView.from_api(obj), PodView.lean(copy.deepcopy(obj))
    assert lean == full  # every field compared (raw is not)
    assert full.raw is obj and dict(lean.raw) == {}
    assert lean.container_ports == (("http", 8080, "TCP"), ("dns", 53, "UDP"))
    assert (lean.pod_ips, lean.ready, lean.restarts, lean.waiting_reason, lean.node_name, lean.hostname) == (
        ("10.244.1.5", "fd00::5"), True, 2, "CrashLoopBackOff", "node-1", "web-1")
    assert lean.labels == (("app", "web"), ("tier", "front"))


def test_pods_of_one_template_share_their_labels_and_ports():
    a = PodView.lean(pod_body("web-1", {"app": "web", "hash": "abc"}))
    b = PodView.lean(pod_body("web-2", {"app": "web", "hash": "abc"}))
    c = PodView.lean(pod_body("api-1", {"app": "api", "hash": "abc"}))
    assert a.labels is b.labels and a.container_ports is b.container_ports  # one object, not one per pod
    assert a.labels is not c.labels and a.labels != c.labels
    assert a.namespace is c.namespace and a.phase is c.phase  # interned strings


def test_a_lean_pod_still_resolves_a_named_target_port():
    """The trace reads container ports from the view (it used to read the pod's JSON, which lean pods drop)."""
    svc = ServiceView.from_api({
        "metadata": {"name": "web", "namespace": "dev"},
        "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}})
    node = NodeContext("", (), table_error="not a node")

    def target_port_findings(ports: list[dict]) -> list[str]:
        pod = PodView.lean(pod_body("web-1", {"app": "web"}, ports))
        trace = trace_service(ServiceState(svc, (), (pod,)), node)
        return [f.code for f in trace.all_findings if f.code == "target-port"]

    assert target_port_findings([{"name": "http", "containerPort": 8080}]) == []
    assert target_port_findings([{"name": "web", "containerPort": 8080}]) == ["target-port"]


def test_the_lean_pod_cache_keeps_views_and_follows_the_watch(sim, running):
    from kubernetes import client

    ensure_ns(client.CoreV1Api(sim.api_client()), "dev")
    pods = BY_KIND["Pod"]
    for name in ("a", "b"):
        sim.store.create(pods, pod_body(name, {"app": "web"}))
    consumer = Consumer()
    cache = make_cache(sim, consumer, resource=LEAN_PODS)
    running(cache.start())
    wait_for(lambda: consumer.names() == {"a", "b"}, message="the pods' first list")
    first = consumer.batches[0]
    assert first.reset and all(isinstance(v, PodView) and not v.raw for v in first.snapshot.values())
    assert first.models == first.snapshot  # the views stand for the objects
    assert all(isinstance(o, PodView) for o in cache.snapshot().values())  # no JSON kept

    changed = sim.store.get_copy(pods, "dev", "a")
    changed["metadata"]["labels"] = {"app": "api"}
    sim.store.update(pods, changed)
    sim.store.delete(pods, "dev", "b")
    sim.store.create(pods, pod_body("c", {"app": "web"}))
    wait_for(lambda: consumer.names() == {"a", "c"}, message="the delete and the add")
    wait_for(lambda: consumer.view[("dev", "a")].labels == (("app", "api"),), message="the relabelled pod")
    later = consumer.batches[1:]
    assert all(isinstance(o, PodView) for b in later for part in (b.added, b.modified, b.deleted)
               for o in part.values())
    assert any(("dev", "b") in b.deleted for b in later)


def test_the_full_pod_cache_still_keeps_the_json(sim, running):
    from kubernetes import client

    ensure_ns(client.CoreV1Api(sim.api_client()), "dev")
    sim.store.create(BY_KIND["Pod"], pod_body("a", {"app": "web"}))
    consumer = Consumer()
    running(make_cache(sim, consumer, resource=PODS).start())
    wait_for(lambda: consumer.names() == {"a"}, message="the pod's list")
    obj = consumer.view[("dev", "a")]
    assert isinstance(obj, dict) and consumer.batches[0].models[("dev", "a")].raw is obj


def test_shared_strings_leave_the_json_equal_and_share_its_words():
    import json

    from tui.kube.models import share_strings

    text = json.dumps({"metadata": {"namespace": "bench-07", "labels": {"tier": "bench"}},
                       "endpoints": [{"nodeName": "node12", "zone": "zone-a", "addresses": ["10.0.0.1"],
                                      "targetRef": {"kind": "Pod", "name": "x" * 80}}]})
    a, b = json.loads(text), json.loads(text)
    assert a["metadata"]["namespace"] is not b["metadata"]["namespace"]  # json makes a string per value
    share_strings(a)
    share_strings(b)
    assert a == b == json.loads(text)
    for path in (("metadata", "namespace"), ("metadata", "labels", "tier")):
        x, y = a, b
        for k in path:
            x, y = x[k], y[k]
        assert x is y
    ea, eb = a["endpoints"][0], b["endpoints"][0]
    assert ea["zone"] is eb["zone"] and ea["targetRef"]["kind"] is eb["targetRef"]["kind"]
    assert ea["addresses"][0] is eb["addresses"][0]
    assert ea["targetRef"]["name"] is not eb["targetRef"]["name"]  # long strings are left alone
