"""The trace engine behind DIAGNOSIS recomputes only what changed: a Service's own slices, the pods its selector
matches, its share of a new IPVS table. Run on the tutorial cluster's objects and node1's emulated table."""

from __future__ import annotations

from dataclasses import replace

from tests.conftest import wait_for
from tests.trace_screen.conftest import NODE, Demo
from tui.kube.models import PodView, ServiceView
from tui.sim.kubeproxy import Knobs
from tui.sim.resources import BY_KIND
from tui.trace.engine import TraceEngine
from tui.trace.gather import Objects, node_context


def engine_on(demo: Demo) -> TraceEngine:
    store = demo.sim.store
    with store.lock:
        services, _ = store.list(BY_KIND["Service"])
        slices, _ = store.list(BY_KIND["EndpointSlice"])
        pods, _ = store.list(BY_KIND["Pod"])
        nodes, _ = store.list(BY_KIND["Node"])
        cm = store.get(BY_KIND["ConfigMap"], "kube-system", "kube-proxy")
    engine = TraceEngine(node_context(Objects((), (), (), nodes, cm), NODE, demo.emulator.table))
    views = [ServiceView.from_api(o) for o in services]
    engine.set_services(views)
    by_svc: dict = {}
    for sl in slices:
        owner = (sl["metadata"]["namespace"], sl["metadata"]["labels"].get("kubernetes.io/service-name", ""))
        by_svc.setdefault(owner, {})[(sl["metadata"]["namespace"], sl["metadata"]["name"])] = sl
    for key, objs in by_svc.items():
        engine.set_slices(key, objs)
    engine.set_pods([PodView.from_api(p) for p in pods], reset=True)
    return engine


def test_only_what_changed_is_traced_again(tutorial) -> None:
    engine = engine_on(tutorial)
    first = engine.run()
    keys = set(engine.services)
    assert set(first) == keys and not engine.dirty  # everything once
    assert {engine.results[k].text for k in keys} == {"OK"}
    # one Service's slices change: only it
    key = ("dev", "service-clusterip")
    slices = dict(engine._slices[key])
    changed = {k: {**o, "metadata": {**o["metadata"], "resourceVersion": "999999"},
                   "endpoints": [{**e, "conditions": {"ready": False}} for e in o["endpoints"]]}
               for k, o in slices.items()}
    engine.set_slices(key, changed)
    assert engine.dirty == {key}
    # the slices say unready while node1's table still sends to them: stale rules
    assert engine.run()[key].text == "✗ stale-real-server +2"
    engine.set_slices(key, slices)  # and back
    assert engine.run() == {key: engine.results[key]} and engine.results[key].text == "OK"
    # a pod of the tutorial's Deployment changes: the three Services selecting it, not kube-dns or kubernetes
    pod = next(p for p in engine.pods.pods.values() if p.namespace == "dev")
    engine.set_pods([replace(pod, ready=False, resource_version="1000000", raw={})])
    assert engine.dirty == {("dev", "service-clusterip"), ("dev", "service-headliness"), ("dev", "service-nodeport")}
    engine.run()
    engine.set_pods([pod])
    engine.run()
    # a new table where only one real server's weight differs: only the Services owning that virtual server
    victim = sorted(pod.pod_ips)[0]
    tutorial.sim.call(tutorial.emulator.set_knobs, Knobs(zero_weight=frozenset({victim})))
    table = wait_for(lambda: (t := tutorial.emulator.table) and any(
        rs.weight == 0 for vs in t.virtual_servers for rs in vs.real_servers) and t, message="weight 0")
    engine.set_table(table)
    assert engine.dirty == {("dev", "service-clusterip"), ("dev", "service-nodeport")}  # not the headless one
    changed = engine.run()
    assert changed[("dev", "service-clusterip")].text.startswith("✗ ready-weight-0")


def test_pods_that_cannot_be_read_claim_no_pod_verdict(tutorial) -> None:
    engine = engine_on(tutorial)
    key = ("dev", "service-clusterip")
    engine.set_pods([], reset=True)  # what an empty pod cache would say: no pod matches
    engine.run()
    assert engine.results[key].code == "no-pods"
    engine.set_pods_error("pods are forbidden: User \"demo\" cannot list resource \"pods\"")
    assert key in engine.dirty and ("default", "kubernetes") not in engine.dirty  # selector-less: no pod question
    engine.run()
    assert engine.results[key].text == "OK"
    found = [f for f in engine.trace(key).all_findings if f.code == "pods-unknown"]
    assert len(found) == 1 and "pods could not be read" in found[0].message and "forbidden" in found[0].message
    engine.set_pods_error("")  # readable again: the verdict comes back
    engine.run()
    assert engine.results[key].code == "no-pods"
