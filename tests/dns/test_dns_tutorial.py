"""Verdicts on the tutorial cluster with its real controllers: the Deployment scaled down, a pod unready,
publishNotReadyAddresses, stale DNS, one CoreDNS pod different. Services and EndpointSlices are read with the
real kubernetes client over HTTP, answers come from the sim's DNS over UDP, one per CoreDNS pod."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from dnskit import wait_for
from tui.dns.expect import expect, presets
from tui.dns.probe import DigResult, probe
from tui.dns.servers import ClusterDns, list_objects, read_cluster_dns
from tui.dns.verdict import Verdict, judge
from tui.kube.models import ServiceView, SliceView
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns
from tui.sim.resources import BY_KIND

ROOT = Path(__file__).resolve().parents[2]
DEPLOY, POD, SVC = BY_KIND["Deployment"], BY_KIND["Pod"], BY_KIND["Service"]
HEADLESS = "service-headliness.dev.svc.cluster.local"
READY_ANNOTATION = "sim.svcscope.io/ready"  # the sim kubelet's readiness knob


class Tutorial:
    def __init__(self, sim: SimCluster, d: SimDns) -> None:
        self.sim, self.d = sim, d
        self.api = sim.api_client()

    def cluster_dns(self) -> ClusterDns:
        return read_cluster_dns(self.api)

    def views(self, ns: str | None = None) -> tuple[list[ServiceView], list[SliceView]]:
        return ([ServiceView.from_api(o) for o in list_objects(self.api, "services", ns)],
                [SliceView.from_api(o) for o in list_objects(self.api, "endpointslices", ns)])

    def check(self, name: str, qtype: str = "A") -> Verdict:
        servers = self.cluster_dns().pod_servers(self.d.address_map)
        assert len(servers) == 2
        outcomes = [probe(name, qtype, s, timeout=5) for s in servers]
        services, slices = self.views()
        return judge(expect(name, qtype, self.d.zone, services, slices), outcomes, max_ttl=5)

    def ready_addresses(self, service: str = "service-headliness") -> list[str]:
        _, slices = self.views("dev")
        return sorted(a for sv in slices if sv.service == service for e in sv.endpoints if e.is_ready
                      for a in e.addresses)

    def pods(self) -> list[dict]:
        return self.sim.store.list(POD, "dev")[0]


@pytest.fixture
def tutorial() -> Iterator[Tutorial]:
    sim = SimCluster(scenario="tutorial")
    d = SimDns(sim.store)
    sim.add_component(d)
    sim.start()
    t = Tutorial(sim, d)
    wait_for(lambda: len(t.ready_addresses()) == 3, what="the tutorial's three nginx pods ready")
    wait_for(lambda: len([s for s in t.cluster_dns().pod_servers(d.address_map) if s.host == "127.0.0.1"]) == 2,
             what="both CoreDNS pods served")
    yield t
    sim.stop()


def test_the_tutorial_cluster_dns(tutorial):
    t = tutorial
    cd = t.cluster_dns()
    assert cd.service == "kube-system/kube-dns" and cd.service_ips == ("10.96.0.10",)
    assert len(cd.pods) == 2 and all(p.ready for p in cd.pods)
    assert t.d.zone == "cluster.local"  # from the scenario's kubelet-config ConfigMap
    assert t.d.address_map["10.96.0.10"] == ("127.0.0.1", t.d.port)
    services, slices = t.views("dev")
    for svc in services:
        for p in presets(svc, slices, "cluster.local"):
            v = t.check(p.name, p.qtype)
            assert v.ok is True, v.lines()
    a = probe(HEADLESS, "A", cd.service_servers(t.d.address_map)[0])
    assert isinstance(a, DigResult) and sorted(r.rdata for r in a.answer) == t.ready_addresses()


def test_scale_down(tutorial):
    t = tutorial
    before = t.ready_addresses()
    t.sim.store.mutate(DEPLOY, "dev", "pc-deployment", lambda o: o["spec"].__setitem__("replicas", 1))
    wait_for(lambda: len(t.ready_addresses()) == 1, what="one endpoint left")
    v = t.check(HEADLESS)
    assert v.ok is True, v.lines()
    assert [w.value for w in v.expectation.records] == t.ready_addresses()
    # Scaled to zero the name does not exist any more.
    t.sim.store.mutate(DEPLOY, "dev", "pc-deployment", lambda o: o["spec"].__setitem__("replicas", 0))
    wait_for(lambda: not t.ready_addresses(), what="no endpoint left")
    v = t.check(HEADLESS)
    assert v.ok is True and v.expectation.status == "NXDOMAIN", v.lines()
    assert len(before) == 3


def test_stale_dns_after_scale_down(tutorial):
    t = tutorial
    before = t.ready_addresses()
    t.d.freeze()
    t.sim.store.mutate(DEPLOY, "dev", "pc-deployment", lambda o: o["spec"].__setitem__("replicas", 1))
    wait_for(lambda: len(t.ready_addresses()) == 1, what="one endpoint left")
    gone = sorted(set(before) - set(t.ready_addresses()))
    v = t.check(HEADLESS)
    assert v.ok is False
    assert sorted(d.value for d in v.differences if d.kind == "unexpected") == gone
    assert all(d.server == "" for d in v.differences)  # both pods are stale: no disagreement
    srv = t.check("_http._tcp." + HEADLESS, "SRV")  # unnamed port: no such SRV name, stale or not
    assert srv.ok is True and srv.expectation.status == "NXDOMAIN"
    t.d.thaw()
    assert t.check(HEADLESS).ok is True


def test_a_pod_unready(tutorial):
    t = tutorial
    pod = sorted(t.pods(), key=lambda p: p["metadata"]["name"])[0]
    ip = pod["status"]["podIP"]
    t.d.freeze(t.cluster_dns().pods[1].name)  # the second CoreDNS pod stays stale
    t.sim.store.mutate(POD, "dev", pod["metadata"]["name"],
                       lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(READY_ANNOTATION, "false"))
    wait_for(lambda: ip not in t.ready_addresses(), what="the pod to leave the ready endpoints")
    v = t.check(HEADLESS)
    assert v.ok is False
    [unexpected] = [d for d in v.differences if d.kind == "unexpected"]
    assert unexpected.value == ip and unexpected.server.startswith("CoreDNS pod " + t.cluster_dns().pods[1].name)
    assert "is not ready in slice" in unexpected.text and pod["metadata"]["name"] in unexpected.text
    assert any(d.kind == "disagree" and d.text.startswith("CoreDNS pods disagree") for d in v.differences)
    t.d.thaw()
    assert t.check(HEADLESS).ok is True


def test_publish_not_ready_addresses(tutorial):
    t = tutorial
    pod = sorted(t.pods(), key=lambda p: p["metadata"]["name"])[0]
    ip = pod["status"]["podIP"]
    t.sim.store.mutate(POD, "dev", pod["metadata"]["name"],
                       lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(READY_ANNOTATION, "false"))
    wait_for(lambda: ip not in t.ready_addresses(), what="the pod to leave the ready endpoints")
    assert t.check(HEADLESS).ok is True  # two addresses, as the spec says
    t.sim.store.mutate(SVC, "dev", "service-headliness",
                       lambda o: o["spec"].__setitem__("publishNotReadyAddresses", True))
    wait_for(lambda: ip in t.ready_addresses(), what="the controller to publish the unready pod")
    v = t.check(HEADLESS)
    assert v.ok is True, v.lines()
    assert ip in [w.value for w in v.expectation.records] and len(v.expectation.records) == 3
    assert "ready or serving" in v.expectation.rule


def test_one_coredns_pod_different(tutorial):
    t = tutorial
    first, second = t.cluster_dns().pods
    t.d.set_failure("SERVFAIL", second.name)
    v = t.check("service-clusterip.dev.svc.cluster.local")
    assert v.ok is False
    assert {d.kind for d in v.differences} == {"status", "missing", "disagree"}
    assert all(second.name in d.server for d in v.differences if d.kind != "disagree")
    t.d.set_failure(None, second.name)
    assert t.check("service-clusterip.dev.svc.cluster.local").ok is True


def test_demo_one_shot():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SVCSCOPE_DNS_MAP", None)
    run = lambda *a: subprocess.run([sys.executable, "-m", "tui", "dig", "--demo", *a], capture_output=True,
                                    text=True, cwd=ROOT, env=env, timeout=180)
    ok = run("service-headliness", "-n", "dev", "@coredns", "--check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(";; ->>HEADER<<-") == 2 and "(10.96.0.10)" not in ok.stdout
    assert ";; CHECK service-headliness.dev.svc.cluster.local. A: OK" in ok.stdout
    pod = run("service-clusterip", "--pod-namespace", "dev", "--short")
    assert pod.returncode == 0 and pod.stdout.strip().count("\n") == 0
    assert ipaddress.ip_address(pod.stdout.strip()) in ipaddress.ip_network("10.96.0.0/12")  # an allocated ClusterIP
