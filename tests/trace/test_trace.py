"""The trace's verdicts on simulated clusters: each fault the emulator or a scenario can produce is named exactly,
and a healthy cluster (or a headless Service) produces no error at all."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import wait_for
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy import Knobs, KubeProxyEmulator, ensure_emulator
from tui.sim.resources import BY_KIND
from tui.trace.gather import Objects, node_context, service_states
from tui.trace.join import NodeContext, trace_service
from tui.trace.model import Trace

NODE = "node1"


def objects(sim: SimCluster) -> Objects:
    store = sim.store
    with store.lock:
        lists = {k: store.list(BY_KIND[k])[0] for k in ("Service", "EndpointSlice", "Pod", "Node")}
        cm = store.get(BY_KIND["ConfigMap"], "kube-system", "kube-proxy")
    return Objects(lists["Service"], lists["EndpointSlice"], lists["Pod"], lists["Node"], cm)


def trace(sim: SimCluster, emulator: KubeProxyEmulator, ns: str, name: str, **node_kw) -> Trace:
    objs = objects(sim)
    node = node_context(objs, NODE, sim.call(lambda: emulator.table))
    if node_kw:
        node = NodeContext(**{**node.__dict__, **node_kw})
    (state,) = service_states(objs, [ns], [name])
    return trace_service(state, node)


def codes(t: Trace, level: str | None = None) -> list[str]:
    return sorted(f.code for f in t.all_findings if level is None or f.level == level)


def settled(sim: SimCluster, emulator: KubeProxyEmulator) -> bool:
    """kube-proxy runs on the node and its table holds service-clusterip's three real servers."""
    vs = [v for v in sim.call(lambda: emulator.table).virtual_servers if v.port == 80 and v.protocol == "TCP"]
    return bool(vs) and all(len(v.real_servers) == 3 for v in vs)


@pytest.fixture
def tutorial() -> Iterator[tuple[SimCluster, KubeProxyEmulator]]:
    sim = SimCluster(scenario="tutorial")
    emulator = ensure_emulator(sim, NODE)
    sim.start()
    try:
        wait_for(lambda: settled(sim, emulator), timeout=30, message="the emulated IPVS table never settled")
        yield sim, emulator
    finally:
        sim.stop()


def pod_ips(sim: SimCluster, ns: str = "dev") -> list[str]:
    pods, _ = sim.store.list(BY_KIND["Pod"], ns)
    return sorted(p["status"]["podIP"] for p in pods if p.get("status", {}).get("podIP"))


def test_healthy_tutorial_services_have_no_error_or_warning(tutorial) -> None:
    sim, emulator = tutorial
    for name in ("service-clusterip", "service-nodeport"):
        t = trace(sim, emulator, "dev", name)
        assert codes(t, "error") == [] and codes(t, "warning") == [], [f.line() for f in t.all_findings]
        links = [vs for p in t.ports for vs in p.virtual_servers]
        assert links and all(vs.actual is not None for vs in links)
        # Each real server is joined to its endpoint and pod.
        for vs in links:
            assert len(vs.real_servers) == 3
            assert all(rs.endpoint is not None and rs.pod.startswith("dev/pc-deployment-") for rs in vs.real_servers)
    roles = {vs.role for p in trace(sim, emulator, "dev", "service-nodeport").ports for vs in p.virtual_servers}
    assert roles == {"ClusterIP", "NodePort on 192.168.10.11"}


def test_headless_is_rightly_absent_from_ipvs(tutorial) -> None:
    sim, emulator = tutorial
    t = trace(sim, emulator, "dev", "service-headliness")
    assert codes(t) == ["not-proxied"]
    assert t.worst == "info"


def test_ready_endpoint_at_weight_zero_is_named(tutorial) -> None:
    sim, emulator = tutorial
    victim = pod_ips(sim)[0]
    sim.call(emulator.set_knobs, Knobs(zero_weight=frozenset({victim})))
    wait_for(lambda: any(rs.weight == 0 for vs in sim.call(lambda: emulator.table).virtual_servers
                         for rs in vs.real_servers if rs.address == victim))
    t = trace(sim, emulator, "dev", "service-clusterip")
    bad = [f for f in t.all_findings if f.code == "ready-weight-0"]
    assert len(bad) == 1 and victim in bad[0].subject and "92019" in bad[0].cause


def test_endpoint_missing_from_ipvs_when_kube_proxy_lags(tutorial) -> None:
    sim, emulator = tutorial
    before = set(pod_ips(sim))
    sim.call(emulator.set_knobs, Knobs(lag=3600))
    sim.store.mutate(BY_KIND["Deployment"], "dev", "pc-deployment", lambda d: d["spec"].update(replicas=4))
    new_ip = wait_for(lambda: next(iter(set(pod_ips(sim)) - before), None), message="no fourth pod")

    def missing() -> list:
        t = trace(sim, emulator, "dev", "service-clusterip")
        return [f for f in t.all_findings if f.code == "missing-real-server"]

    found = wait_for(missing, message="the new endpoint never showed as missing from IPVS")
    assert all(new_ip in f.subject for f in found)
    assert "kube-proxy is behind or broken" in found[0].cause


def test_stale_real_server_after_a_missed_delete(tutorial) -> None:
    sim, emulator = tutorial
    sim.call(emulator.set_knobs, Knobs(keep_stale=True))
    pods, _ = sim.store.list(BY_KIND["Pod"], "dev")
    victim = pods[0]
    ip = victim["status"]["podIP"]
    # Immediate removal (grace 0), as a force delete: the endpoint disappears without a terminating phase.
    from tui.sim import admission

    admission.delete(sim.store, BY_KIND["Pod"], "dev", victim["metadata"]["name"], dry_run=False, grace_period=0)

    def stale() -> list:
        t = trace(sim, emulator, "dev", "service-clusterip")
        return [f for f in t.all_findings if f.code == "stale-real-server" and ip in f.subject]

    found = wait_for(stale, timeout=20, message="the stale real server was never reported")
    assert found[0].level == "error"


def test_scheduler_and_mode_context(tutorial) -> None:
    sim, emulator = tutorial
    t = trace(sim, emulator, "dev", "service-clusterip", scheduler="wrr")
    assert "scheduler" in codes(t, "warning")
    t = trace(sim, emulator, "dev", "service-clusterip", proxy_mode="iptables")
    assert "not-ipvs" in codes(t, "info") and "leftover-rules" in codes(t, "warning")
    assert codes(t, "error") == []


def test_persistence_mismatch_when_affinity_changes_unsynced(tutorial) -> None:
    sim, emulator = tutorial
    sim.call(emulator.set_knobs, Knobs(lag=3600))

    def client_ip(svc: dict) -> None:
        svc["spec"]["sessionAffinity"] = "ClientIP"
        svc["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 600}}

    sim.store.mutate(BY_KIND["Service"], "dev", "service-clusterip", client_ip)
    t = trace(sim, emulator, "dev", "service-clusterip")
    found = [f for f in t.all_findings if f.code == "persistence"]
    assert found and "ClientIP affinity (600 s)" in found[0].message


def test_broken_scenario_each_service_named() -> None:
    sim = SimCluster(scenario="broken")
    emulator = ensure_emulator(sim, NODE)
    sim.start()
    try:
        def verdicts() -> dict[str, list[str]]:
            objs = objects(sim)
            node = node_context(objs, NODE, sim.call(lambda: emulator.table))
            return {s.service.name: codes(trace_service(s, node), "error") + codes(trace_service(s, node),
                                                                                  "warning")
                    for s in service_states(objs, ["broken"])}

        got = wait_for(lambda: (v := verdicts()) and "none-ready" in v.get("all-unready", []) and v,
                       timeout=30, message="the broken scenario never settled")
        assert "no-pods" in got["no-pods"]
        assert "target-port" in got["wrong-port-name"]
        assert "lb-pending" in got["pending-lb"]
        assert got["selectorless"] == []
    finally:
        sim.stop()


def test_stale_dns_is_named_against_the_endpoints() -> None:
    """CoreDNS frozen before a scale-up answers without the new pod: the trace names the missing address."""
    from tui.sim.dns_server import SimDns
    from tui.trace.gather import with_dns

    sim = SimCluster(scenario="tutorial")
    emulator = ensure_emulator(sim, NODE)
    dns = SimDns(sim.store)
    sim.add_component(dns)
    sim.start()
    try:
        wait_for(lambda: settled(sim, emulator), timeout=30, message="the emulated IPVS table never settled")
        api = sim.api_client()
        objs = objects(sim)
        (healthy,) = with_dns(api, service_states(objs, ["dev"], ["service-headliness"]), dns.address_map)
        assert healthy.dns and healthy.dns[0].ok is True
        sim.call(dns.freeze)
        before = set(pod_ips(sim))
        sim.store.mutate(BY_KIND["Deployment"], "dev", "pc-deployment", lambda d: d["spec"].update(replicas=4))
        new_ip = wait_for(lambda: next(iter(set(pod_ips(sim)) - before), None), message="no fourth pod")
        wait_for(lambda: any(new_ip in e.addresses and e.is_ready for s in service_states(objects(sim), ["dev"],
                             ["service-headliness"])[0].slices for e in s.endpoints), message="no ready endpoint")
        (state,) = with_dns(api, service_states(objects(sim), ["dev"], ["service-headliness"]), dns.address_map)
        node = node_context(objects(sim), NODE, sim.call(lambda: emulator.table))
        t = trace_service(state, node)
        found = [f for f in t.all_findings if f.code == "dns"]
        assert found and any(new_ip in f.message for f in found), [f.line() for f in t.all_findings]
        assert t.worst == "error"
    finally:
        sim.stop()
