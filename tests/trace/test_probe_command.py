"""`svcscope probe`: resolving a Service into what to probe through the real client against the demo cluster, the
one-shot command's output and exit codes, and the honest refusal to probe a simulated cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import wait_for
from tui.kube.client import connect
from tui.sim.cluster import SimCluster
from tui.sim.resources import BY_KIND
from tui.trace.probe_setup import DEMO_SENTENCE, ProbeSetupError, parse_address, prepare

ROOT = Path(__file__).resolve().parents[2]


def probe_cli(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run([sys.executable, "-m", "tui", "probe", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory) -> Iterator[tuple[SimCluster, Path]]:
    sim = SimCluster(scenario="tutorial").start()
    try:
        def slices_ready() -> bool:
            slices, _ = sim.store.list(BY_KIND["EndpointSlice"], "dev")
            return any(len(s.get("endpoints") or []) == 3 for s in slices)

        wait_for(slices_ready, timeout=30, message="the tutorial's EndpointSlices never filled")
        yield sim, sim.write_kubeconfig(tmp_path_factory.mktemp("probe") / "kubeconfig")
    finally:
        sim.stop()


def api_of(kubeconfig: Path):
    return connect(str(kubeconfig), env={}).api_client


def test_parse_address():
    assert parse_address("10.96.0.10:80") == ("10.96.0.10", 80)
    assert parse_address("[fd00::a]:443") == ("fd00::a", 443)
    assert parse_address("fd00::a:443") is None  # ambiguous without brackets
    assert parse_address("web") is None and parse_address("10.0.0.1:0") is None
    assert parse_address("dev/web") is None and parse_address("10.0.0.1:99999") is None


def test_a_service_resolves_to_its_cluster_ip_and_its_pods(tutorial):
    sim, kubeconfig = tutorial
    p = prepare(api_of(kubeconfig), "dev", "service-clusterip")
    svc = sim.store.get(BY_KIND["Service"], "dev", "service-clusterip")
    assert (p.target.address, p.target.port) == (svc["spec"]["clusterIP"], 80)
    assert (p.target.role, p.target.service, p.target.affinity) == ("ClusterIP", "dev/service-clusterip", "None")
    pods, _ = sim.store.list(BY_KIND["Pod"], "dev")
    expected = {f"{q['status']['podIP']}:80": f"dev/{q['metadata']['name']}" for q in pods
                if q["metadata"]["name"].startswith("pc-deployment-") and q.get("status", {}).get("podIP")}
    assert p.pods == expected and len(expected) == 3
    assert p.virtual_server is None and "IPVS" in p.ipvs_note  # this machine has no IPVS: said, not fatal


def test_nodeport_on_the_named_node_and_namespace_slash_name(tutorial):
    _, kubeconfig = tutorial
    p = prepare(api_of(kubeconfig), "default", "dev/service-nodeport", to="nodeport", node="node1")
    assert (p.target.address, p.target.port, p.target.role) == ("192.168.10.11", 30002, "NodePort on 192.168.10.11")
    with pytest.raises(ProbeSetupError, match="has no NodePort"):
        prepare(api_of(kubeconfig), "dev", "service-clusterip", to="nodeport", node="node1")


@pytest.mark.parametrize("name, port, words", [
    ("nope", None, "no Service named nope in namespace dev"),
    ("service-headliness", None, "dev/service-headliness is headless: it has no ClusterIP"),
    ("service-clusterip", "8080", "dev/service-clusterip has no port 8080 (its ports: 80/TCP)"),
])
def test_what_cannot_be_probed_is_said(tutorial, name, port, words):
    _, kubeconfig = tutorial
    with pytest.raises(ProbeSetupError) as info:
        prepare(api_of(kubeconfig), "dev", name, port=port)
    assert str(info.value).startswith(words)


def test_udp_port_is_refused(tutorial):
    _, kubeconfig = tutorial
    with pytest.raises(ProbeSetupError, match="is not TCP"):
        prepare(api_of(kubeconfig), "kube-system", "kube-dns", port="53")


def test_cli_probes_a_service_through_the_real_client(tutorial):
    sim, kubeconfig = tutorial
    ip = sim.store.get(BY_KIND["Service"], "dev", "service-clusterip")["spec"]["clusterIP"]
    res = probe_cli("service-clusterip", "-c", "2", "--timeout", "0.3", kubeconfig=kubeconfig)
    # Where the simulated ClusterIP leads depends on this machine's network (nowhere, or a transparent proxy that
    # accepts anything): the verdict is either "nothing answered" or "answered, but not through IPVS".
    assert res.returncode in (0, 1), res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"probe dev/service-clusterip ClusterIP {ip}:80: 2 x TCP connect"
    assert lines[1].startswith("IPVS: not read: ") and lines[2] == "Service: sessionAffinity None"
    assert lines[-1].startswith((f"FAIL  no connection to {ip}:80 succeeded: ", "NOTE  2 of 2 connections succeeded;"))
    assert (res.returncode == 1) == lines[-1].startswith("FAIL")


def test_cli_unknown_service_exit_2(tutorial):
    _, kubeconfig = tutorial
    res = probe_cli("nope", "-n", "dev", kubeconfig=kubeconfig)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == "svcscope probe: no Service named nope in namespace dev."


def test_demo_has_nothing_real_to_probe():
    res = probe_cli("--demo", "service-clusterip")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == f"svcscope probe: {DEMO_SENTENCE}."


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"pod-a\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_cli_probes_an_address_as_json_even_in_the_demo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        res = probe_cli("--demo", f"127.0.0.1:{port}", "--http", "-c", "3", "-o", "json")
    finally:
        server.shutdown()
        server.server_close()
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["target"]["address"] == "127.0.0.1" and out["target"]["port"] == port
    assert [a["body"] for a in out["attempts"]] == ["pod-a"] * 3 and all(a["ok"] for a in out["attempts"])
    assert out["verdict"]["level"] == "info" and out["realServers"] == []
    assert "no IPVS connection table" in out["tableNote"] or "not in the IPVS connection table" in out["tableNote"]


def test_bad_count_exit_2():
    res = probe_cli("127.0.0.1:80", "--count", "0")
    assert res.returncode == 2 and "--count must be between 1 and" in res.stderr
