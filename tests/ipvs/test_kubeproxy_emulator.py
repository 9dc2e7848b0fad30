"""The kube-proxy ipvs proxier emulator: the pure function on API objects, and the component following a store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tui.ipvs import ipvsadm
from tui.ipvs.model import AF_INET6, F_HASHED, F_PERSISTENT, F_SCHED2, IPVSTable
from tui.sim.kubeproxy import EmulatorConfig, Knobs, KubeProxyEmulator, emulate
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

NODE1 = {"metadata": {"name": "node1"}, "status": {"addresses": [
    {"type": "InternalIP", "address": "192.168.10.11"}, {"type": "InternalIP", "address": "fd00:10::11"},
    {"type": "Hostname", "address": "node1"}, {"type": "ExternalIP", "address": "203.0.113.11"}]}}
NODE2 = {"metadata": {"name": "node2"}, "status": {"addresses": [{"type": "InternalIP", "address": "192.168.10.12"}]}}


def svc(name: str, ns: str = "dev", *, type_: str = "ClusterIP", cluster_ip: str = "10.96.0.20",
        ports: list | None = None, **spec: Any) -> dict:
    labels = spec.pop("labels", {})
    status = spec.pop("status", {})
    ips = spec.pop("clusterIPs", [cluster_ip])
    return {"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"type": type_, "clusterIP": cluster_ip, "clusterIPs": ips,
                     "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], **spec},
            "status": status}


def ep(ip: str, node: str = "node2", ready: bool | None = True, serving: bool | None = None,
       terminating: bool | None = None) -> dict:
    cond = {k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating)) if v is not None}
    return {"addresses": [ip], "conditions": cond, "nodeName": node}


def eps(service: str, endpoints: list, ns: str = "dev", ports: list | None = None, name: str | None = None,
        address_type: str = "IPv4") -> dict:
    return {"metadata": {"name": name or f"{service}-abc", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": address_type, "endpoints": endpoints,
            "ports": ports or [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def endpoints(table: IPVSTable) -> list[str]:
    """Virtual servers in ipvsadm's order (the emulator, like the kernel, keeps no order)."""
    return [vs.endpoint for vs in ipvsadm.sort_services(table.virtual_servers)]


def listing(table: IPVSTable) -> list[str]:
    return ipvsadm.render(table).splitlines()[3:]


def run(services: list, slices: list, config: EmulatorConfig = EmulatorConfig(), knobs: Knobs = Knobs(),
        node: str = "node1") -> IPVSTable:
    return emulate(services, slices, [NODE1, NODE2], node, config, knobs)


def test_clusterip_service_gets_one_virtual_server_with_its_ready_endpoints():
    t = run([svc("web")], [eps("web", [ep("10.244.1.5"), ep("10.244.2.6"), ep("10.244.3.7", ready=False)])])
    assert listing(t) == [
        "TCP  10.96.0.20:80 rr",
        "  -> 10.244.1.5:8080              Masq    1      0          0         ",
        "  -> 10.244.2.6:8080              Masq    1      0          0         "]
    vs = t.virtual_servers[0]
    assert vs.flags == F_HASHED and t.source == "emulated" and "node1" in t.note


def test_nodeport_on_every_internal_ip_of_the_node_per_family():
    t = run([svc("np", type_="NodePort", ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])],
            [eps("np", [ep("10.244.1.5")])])
    assert endpoints(t) == ["TCP 192.168.10.11:30080", "TCP 10.96.0.20:80"]
    t2 = run([svc("np", type_="NodePort", clusterIPs=["10.96.0.20", "fd00:96::20"],
                  ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])],
             [eps("np", [ep("10.244.1.5")]), eps("np", [ep("fd00:244::5")], name="np-v6", address_type="IPv6")])
    v6 = [vs for vs in t2.virtual_servers if vs.af == AF_INET6]
    assert sorted(vs.endpoint for vs in v6) == ["TCP [fd00:10::11]:30080", "TCP [fd00:96::20]:80"]
    assert all([rs.address for rs in vs.real_servers] == ["fd00:244::5"] for vs in v6)


def test_external_ips_and_load_balancer_ingress():
    s = svc("lb", type_="LoadBalancer", externalIPs=["203.0.113.7"],
            ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 31000}],
            status={"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}, {"hostname": "lb.example.com"}]}})
    t = run([s], [eps("lb", [ep("10.244.1.5")])])
    assert sorted(vs.endpoint for vs in t.virtual_servers) == [
        "TCP 10.96.0.20:80", "TCP 192.168.10.11:31000", "TCP 198.51.100.9:80", "TCP 203.0.113.7:80"]


def test_client_ip_affinity_is_persistence_with_the_timeout():
    t = run([svc("a", sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}),
             svc("b", cluster_ip="10.96.0.21", sessionAffinity="ClientIP")], [])
    assert [(vs.address, vs.flags, vs.timeout) for vs in ipvsadm.sort_services(t.virtual_servers)] == [
        ("10.96.0.20", F_HASHED | F_PERSISTENT, 600), ("10.96.0.21", F_HASHED | F_PERSISTENT, 10800)]
    assert listing(t) == ["TCP  10.96.0.20:80 rr persistent 600", "TCP  10.96.0.21:80 rr persistent 10800"]


@pytest.mark.parametrize("scheduler, shown", [("", "rr"), ("wrr", "wrr"), ("mh", "mh (mh-port)"), ("sh", "sh")])
def test_scheduler_from_the_config(scheduler, shown):
    t = run([svc("web")], [], EmulatorConfig(scheduler=scheduler))
    assert listing(t) == [f"TCP  10.96.0.20:80 {shown}"]
    assert bool(t.virtual_servers[0].flags & F_SCHED2) == (scheduler == "mh")


def test_terminating_endpoints_drain_at_weight_zero_over_tcp_and_vanish_over_udp():
    endpoints = [ep("10.244.1.5"), ep("10.244.2.6", ready=False, serving=True, terminating=True)]
    t = run([svc("web", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                               {"name": "dns", "port": 53, "protocol": "UDP"}])],
            [eps("web", endpoints, ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                                          {"name": "dns", "port": 5353, "protocol": "UDP"}])])
    tcp, udp = t.find("TCP", "10.96.0.20", 80), t.find("UDP", "10.96.0.20", 53)
    assert [(rs.address, rs.weight) for rs in tcp.real_servers] == [("10.244.1.5", 1), ("10.244.2.6", 0)]
    assert [(rs.address, rs.port, rs.weight) for rs in udp.real_servers] == [("10.244.1.5", 5353, 1)]


def test_serving_terminating_endpoints_are_used_when_none_is_ready():
    t = run([svc("web")], [eps("web", [ep("10.244.2.6", ready=False, serving=True, terminating=True),
                                       ep("10.244.3.7", ready=False, serving=False, terminating=True)])])
    assert [(rs.address, rs.weight) for rs in t.virtual_servers[0].real_servers] == [
        ("10.244.2.6", 1), ("10.244.3.7", 0)]


def test_no_rules_for_headless_externalname_and_other_proxies():
    t = run([svc("headless", cluster_ip="None", clusterIPs=["None"]),
             svc("ext", type_="ExternalName", cluster_ip="", clusterIPs=[], externalName="example.com"),
             svc("mine", labels={"service.kubernetes.io/service-proxy-name": "other-proxy"})],
            [eps("headless", [ep("10.244.1.5")]), eps("mine", [ep("10.244.1.6")])])
    assert t.virtual_servers == ()


def test_external_traffic_policy_local_uses_this_nodes_endpoints_on_external_addresses_only():
    s = svc("np", type_="NodePort", externalTrafficPolicy="Local",
            ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}])
    slices = [eps("np", [ep("10.244.1.5", node="node1"), ep("10.244.2.6", node="node2")])]
    t = run([s], slices)
    assert [rs.address for rs in t.find("TCP", "192.168.10.11", 30080).real_servers] == ["10.244.1.5"]
    assert [rs.address for rs in t.find("TCP", "10.96.0.20", 80).real_servers] == ["10.244.1.5", "10.244.2.6"]
    # node2's view: its own endpoint; with none there, the ipvs proxier falls back to every endpoint (PR 97081)
    t2 = run([s], [eps("np", [ep("10.244.1.5", node="node1")])], node="node2")
    assert [rs.address for rs in t2.find("TCP", "192.168.10.12", 30080).real_servers] == ["10.244.1.5"]


def test_internal_traffic_policy_local_on_the_cluster_ip():
    t = run([svc("web", internalTrafficPolicy="Local")],
            [eps("web", [ep("10.244.1.5", node="node1"), ep("10.244.2.6", node="node2")])])
    assert [rs.address for rs in t.virtual_servers[0].real_servers] == ["10.244.1.5"]
    t2 = run([svc("web", internalTrafficPolicy="Local")], [eps("web", [ep("10.244.2.6", node="node2")])])
    assert t2.virtual_servers[0].real_servers == ()


def test_ports_match_by_name_and_protocol():
    s = svc("multi", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                            {"name": "metrics", "port": 9100, "protocol": "TCP"}])
    t = run([s], [eps("multi", [ep("10.244.1.5")], ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                                                           {"name": "metrics", "port": 9100, "protocol": "UDP"}])])
    assert [rs.port for rs in t.find("TCP", "10.96.0.20", 80).real_servers] == [8080]
    assert t.find("TCP", "10.96.0.20", 9100).real_servers == ()


def test_zero_weight_knob():
    t = run([svc("web")], [eps("web", [ep("10.244.1.5"), ep("10.244.2.6")])],
            knobs=Knobs(zero_weight=frozenset({"10.244.2.6"})))
    assert [(rs.address, rs.weight) for rs in t.virtual_servers[0].real_servers] == [
        ("10.244.1.5", 1), ("10.244.2.6", 0)]


def test_emulated_tables_render_without_statistics_errors():
    t = run([svc("web")], [eps("web", [ep("10.244.1.5")])])
    assert "TCP  10.96.0.20:80" in ipvsadm.render(t, stats=True)


# -- the component ----------------------------------------------------------------------------------------------

SERVICE, SLICE, NODE, CONFIGMAP = (BY_KIND[k] for k in ("Service", "EndpointSlice", "Node", "ConfigMap"))


async def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def proxy_configmap(mode: str, scheduler: str = "") -> dict:
    conf = (f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: {mode}\n"
            f"ipvs:\n  scheduler: \"{scheduler}\"\n")
    return {"metadata": {"name": "kube-proxy", "namespace": "kube-system"}, "data": {"config.conf": conf}}


async def test_component_follows_the_store():
    store = Store()
    store.create(NODE, NODE1)
    store.create(CONFIGMAP, proxy_configmap("ipvs", "wrr"))
    emu = KubeProxyEmulator(store)
    seen: list[IPVSTable] = []
    emu.subscribe(seen.append)
    emu.start(asyncio.get_running_loop())
    try:
        assert emu.node == "node1" and emu.table.virtual_servers == ()
        store.create(SERVICE, svc("web"))
        store.create(SLICE, eps("web", [ep("10.244.1.5")]))
        await wait_for(lambda: len(emu.table.virtual_servers) == 1 and emu.table.virtual_servers[0].real_servers)
        assert listing(emu.table)[0] == "TCP  10.96.0.20:80 wrr" and seen
        store.mutate(SLICE, "dev", "web-abc", lambda o: o["endpoints"].append(ep("10.244.2.6")))
        await wait_for(lambda: len(emu.table.virtual_servers[0].real_servers) == 2)
        store.delete(SERVICE, "dev", "web")
        await wait_for(lambda: emu.table.virtual_servers == ())
    finally:
        emu.stop()


async def test_lag_knob_delays_the_table():
    store = Store()
    store.create(NODE, NODE1)
    emu = KubeProxyEmulator(store, "node1", config=EmulatorConfig(), knobs=Knobs(lag=0.5))
    emu.start(asyncio.get_running_loop())
    try:
        store.create(SERVICE, svc("web"))
        t0 = time.monotonic()
        await wait_for(lambda: len(emu.table.virtual_servers) == 1)
        assert time.monotonic() - t0 >= 0.45
    finally:
        emu.stop()


async def test_stale_real_server_knob_keeps_a_deleted_endpoint():
    store = Store()
    store.create(NODE, NODE1)
    store.create(SERVICE, svc("web"))
    store.create(SLICE, eps("web", [ep("10.244.1.5"), ep("10.244.2.6")]))
    emu = KubeProxyEmulator(store, "node1", config=EmulatorConfig(), knobs=Knobs(keep_stale=True))
    emu.start(asyncio.get_running_loop())
    try:
        assert len(emu.table.virtual_servers[0].real_servers) == 2
        store.mutate(SLICE, "dev", "web-abc", lambda o: o["endpoints"].pop())
        store.create(SLICE, eps("web", [ep("10.244.3.7")], name="web-def"))
        await wait_for(lambda: len(emu.table.virtual_servers[0].real_servers) == 3)
        assert {rs.address for rs in emu.table.virtual_servers[0].real_servers} == {
            "10.244.1.5", "10.244.2.6", "10.244.3.7"}
    finally:
        emu.stop()


async def test_mode_switch_leaves_leftovers_in_iptables_mode_and_none_in_nftables():
    store = Store()
    store.create(NODE, NODE1)
    store.create(CONFIGMAP, proxy_configmap("ipvs"))
    store.create(SERVICE, svc("web"))
    emu = KubeProxyEmulator(store)
    emu.start(asyncio.get_running_loop())
    try:
        assert len(emu.table.virtual_servers) == 1
        store.update(CONFIGMAP, proxy_configmap("iptables"), check_rv=False)
        await wait_for(lambda: "iptables mode" in emu.table.note)
        assert len(emu.table.virtual_servers) == 1  # kubernetes#109286: nobody cleans them up
        store.update(CONFIGMAP, proxy_configmap("nftables"), check_rv=False)
        await wait_for(lambda: emu.table.virtual_servers == ())
        assert "nftables mode" in emu.table.note
    finally:
        emu.stop()


def test_emulator_runs_as_a_sim_component():
    """In a running SimCluster (its own loop thread), following writes that arrive through the store."""
    from tui.sim.cluster import SimCluster
    from tui.sim.kubeproxy import ensure_emulator

    with SimCluster(scenario="empty") as sim:
        emu = ensure_emulator(sim)
        assert ensure_emulator(sim) is emu
        sim.store.create(NODE, NODE2)
        sim.store.create(SERVICE, svc("np", type_="NodePort",
                                      ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]))
        sim.store.create(SLICE, eps("np", [ep("10.244.1.5")]))
        deadline = time.monotonic() + 10
        while len(emu.table.virtual_servers) < 2 or not emu.table.virtual_servers[0].real_servers:
            assert time.monotonic() < deadline, emu.table
            time.sleep(0.02)
        assert emu.node == "node2"
        assert endpoints(emu.table) == ["TCP 192.168.10.12:30080", "TCP 10.96.0.20:80"]


def test_cache_recomputes_only_changed_services():
    from tui.sim.kubeproxy import EmulationCache

    def versioned(obj: dict, rv: str) -> dict:
        obj["metadata"]["resourceVersion"] = rv
        return obj

    cache = EmulationCache()
    services = [versioned(svc("a"), "1"), versioned(svc("b", cluster_ip="10.96.0.21"), "2")]
    slices = [versioned(eps("a", [ep("10.244.1.5")]), "3"), versioned(eps("b", [ep("10.244.1.6")]), "4")]
    first = {vs.address: vs for vs in run_cached(services, slices, cache).virtual_servers}
    slices[1] = versioned(eps("b", [ep("10.244.1.6"), ep("10.244.1.7")]), "5")
    second = {vs.address: vs for vs in run_cached(services, slices, cache).virtual_servers}
    assert second["10.96.0.20"] is first["10.96.0.20"]  # untouched: reused, not rebuilt
    assert [rs.address for rs in second["10.96.0.21"].real_servers] == ["10.244.1.6", "10.244.1.7"]
    third = run_cached(services[:1], slices, cache)
    assert [vs.address for vs in third.virtual_servers] == ["10.96.0.20"] and len(cache.results) == 1


def run_cached(services, slices, cache):
    return emulate(services, slices, [NODE1, NODE2], "node1", cache=cache)


def test_cli_demo_prints_the_emulated_table_of_the_tutorial_cluster():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tui", "ipvs", "--once", "--demo", *args], cwd=root,
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(root)), timeout=120)

    node1, node2 = cli("-o", "ipvsadm"), cli("-o", "ipvsadm", "--node", "node2")
    assert node1.returncode == 0 and node2.returncode == 0, node1.stderr + node2.stderr
    lines = node1.stdout.splitlines()
    assert lines[:3] == ["IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
                         "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
    assert "TCP  10.96.0.1:443 rr" in lines and "  -> 192.168.10.11:6443" in node1.stdout
    assert "UDP  10.96.0.10:53 rr" in lines  # kube-dns
    nodeport = [line for line in lines if line.startswith("TCP  192.168.10.11:")]
    assert len(nodeport) == 1 and "TCP  192.168.10.12:" in node2.stdout and "192.168.10.11:3" not in node2.stdout
    assert "simulated" in node1.stderr and "node1" in node1.stderr and "node2" in node2.stderr
