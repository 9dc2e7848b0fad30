"""`svcscope dig` as an admin runs it: against a simulated cluster reached through its kubeconfig (the real client
over HTTP) and its DNS pods through SVCSCOPE_DNS_MAP, output compared with digfmt of the same probe in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from dnskit import coredns_pod, endpoint, free_port, normalise_dig, port, service_obj, slice_obj, wait_for
from tui.dns import digfmt
from tui.dns.probe import DnsServer, probe
from tui.sim.cluster import SimCluster
from tui.sim.dns_server import SimDns
from tui.sim.resources import BY_KIND

ROOT = Path(__file__).resolve().parents[2]
SVC, SLICE, POD = BY_KIND["Service"], BY_KIND["EndpointSlice"], BY_KIND["Pod"]


class Env:
    def __init__(self, sim: SimCluster, d: SimDns, kubeconfig: Path) -> None:
        self.sim, self.d, self.kubeconfig = sim, d, kubeconfig

    def run(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        base = dict(os.environ, PYTHONPATH=str(ROOT), KUBECONFIG=str(self.kubeconfig),
                    SVCSCOPE_DNS_MAP=self.d.address_map_text())
        base.update(env or {})
        return subprocess.run([sys.executable, "-m", "tui", "dig", *args], capture_output=True, text=True,
                              cwd=ROOT, env=base, timeout=120)

    @property
    def at(self) -> str:
        return f"@127.0.0.1:{self.d.port}"


@pytest.fixture
def env(tmp_path) -> Iterator[Env]:
    sim = SimCluster(scenario="empty")
    d = SimDns(sim.store)
    sim.add_component(d)
    sim.start()
    st = sim.store
    st.create(SVC, service_obj("shop", "web", "10.96.0.11", [port("http", 80)]))
    st.create(SVC, service_obj("shop", "db", "None", [port("pg", 5432)]))
    st.create(SLICE, slice_obj("shop", "db", [endpoint("10.244.1.5", hostname="db-0", pod="db-0"),
                                              endpoint("10.244.1.6", pod="db-1"),
                                              endpoint("10.244.1.7", ready=False, pod="db-2")], [port("pg", 5432)]))
    st.create(SVC, service_obj("kube-system", "kube-dns", "10.96.0.10", [port("dns", 53, "UDP")]))
    st.create(POD, coredns_pod("coredns-a", "10.244.0.2"))
    st.create(POD, coredns_pod("coredns-b", "10.244.0.3"))
    wait_for(lambda: {"10.244.0.2", "10.244.0.3", "10.96.0.10"} <= set(d.address_map), what="DNS pods served")
    yield Env(sim, d, sim.write_kubeconfig(tmp_path / "kubeconfig"))
    sim.stop()


def test_output_is_digfmt_of_the_same_probe(env):
    for name, qtype in (("db.shop.svc.cluster.local", "A"), ("_pg._tcp.db.shop.svc.cluster.local", "SRV"),
                        ("nope.shop.svc.cluster.local", "A")):
        got = env.run(name, qtype, env.at)
        assert got.returncode == 0, got.stderr
        mine = probe(name, qtype, DnsServer("127.0.0.1", env.d.port))
        assert normalise_dig(got.stdout) == normalise_dig(digfmt.render(mine))
        short = env.run(name, qtype, env.at, "--short")
        assert sorted(short.stdout.splitlines()) == sorted(digfmt.render(mine, short=True).splitlines())


def test_default_server_is_the_kube_dns_service(env):
    got = env.run("web.shop.svc.cluster.local")
    assert got.returncode == 0, got.stderr
    assert f";; SERVER: 127.0.0.1#{env.d.port}(10.96.0.10) (UDP)" in got.stdout
    assert "web.shop.svc.cluster.local. 5\tIN\tA\t10.96.0.11" in got.stdout


def test_check_passes_then_fails_on_stale_dns(env):
    ok = env.run("db", "-n", "shop", "--check")  # -n turns a bare Service name into its FQDN
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ";; CHECK db.shop.svc.cluster.local. A: OK (headless Service shop/db" in ok.stdout
    env.d.freeze()
    env.sim.store.mutate(SLICE, "shop", "db-ipv4", lambda o: o["endpoints"].pop(0))
    bad = env.run("db.shop.svc.cluster.local", "--check")
    assert bad.returncode == 1
    assert ";;   unexpected  10.244.1.5  not a ready endpoint of shop/db in any EndpointSlice" in bad.stdout
    js = env.run("db.shop.svc.cluster.local", "--check", "-o", "json")
    data = json.loads(js.stdout)
    assert js.returncode == 1 and data["verdict"]["state"] == "FAIL"
    assert data["answers"][0]["type"] == "DigResult" and data["answers"][0]["status"] == "NOERROR"


def test_every_coredns_pod_side_by_side(env):
    env.d.freeze("coredns-b")
    env.sim.store.mutate(SLICE, "shop", "db-ipv4", lambda o: o["endpoints"].pop(0))
    got = env.run("db.shop.svc.cluster.local", "@coredns", "--check")
    assert got.returncode == 1
    assert got.stdout.count(";; ->>HEADER<<-") == 2
    assert "(10.244.0.2) (UDP)" in got.stdout and "(10.244.0.3) (UDP)" in got.stdout
    assert ";;   CoreDNS pods disagree: CoreDNS pod coredns-a (10.244.0.2) said NOERROR 10.244.1.6; CoreDNS pod " \
           "coredns-b (10.244.0.3) said NOERROR 10.244.1.5 10.244.1.6" in got.stdout
    assert "[CoreDNS pod coredns-b (10.244.0.3)]" in got.stdout


def test_resolve_as_a_pod_would(env):
    got = env.run("db.shop", "--pod-namespace", "web")
    assert got.returncode == 0, got.stderr
    assert ";;   search web.svc.cluster.local svc.cluster.local cluster.local" in got.stdout
    assert ";;   nameserver 10.96.0.10" in got.stdout and ";;   options ndots:5" in got.stdout
    tried = [line.split()[1] for line in got.stdout.splitlines() if line.startswith(";;   db.shop.")]
    assert tried == ["db.shop.web.svc.cluster.local.", "db.shop.svc.cluster.local."]
    assert "<- answered" in got.stdout and ";db.shop.svc.cluster.local.\tIN\tA" in got.stdout


def test_failures_are_one_line(env):
    dead = env.run("web.shop.svc.cluster.local", f"@127.0.0.1:{free_port()}", "--tries", "1")
    assert dead.returncode == 9
    assert dead.stdout.count("\n") == 1 and "connection refused" in dead.stdout and not dead.stderr
    bad = env.run("web.shop.svc.cluster.local", "@kube-dns.local")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not an IP address" in bad.stderr
    typo = env.run("web.shop.svc.cluster.local", "AAA", env.at)
    assert typo.returncode == 2 and "neither a record type nor a server" in typo.stderr
    nocluster = env.run("web.shop.svc.cluster.local", env.at, "--check",
                        env={"KUBECONFIG": "/nonexistent/kubeconfig"})
    assert nocluster.returncode == 10 and nocluster.stderr.startswith("svcscope dig: --check needs the cluster")
    assert nocluster.stderr.count("\n") == 1
    env.sim.stop_server()  # the API goes away; DNS stays
    down = env.run("web.shop.svc.cluster.local", "--check", env.at)
    assert down.returncode == 10 and "Nothing answers at http://127.0.0.1:" in down.stderr
    assert "Traceback" not in down.stderr + down.stdout
    badmap = env.run("x.", env={"SVCSCOPE_DNS_MAP": "10.96.0.10=nowhere"})
    assert badmap.returncode == 2 and "SVCSCOPE_DNS_MAP" in badmap.stderr
