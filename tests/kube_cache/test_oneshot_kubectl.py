"""`svcscope services|endpointslices --once` against the real kubectl on the same simulated cluster, byte for byte.

Objects are created with the sim's clock ten days back, then the clock is put right: AGE reads `10d` for kubectl
(computed by the server's Table) and for svcscope (computed locally), with no normalising.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kubernetes import client

from tui.sim.cluster import SimCluster

pytestmark = pytest.mark.kubectl
ROOT = Path(__file__).resolve().parents[2]


def port(p, target=None, name=None, protocol="TCP", node_port=None):
    out = {"port": p, "targetPort": target or p, "protocol": protocol}
    if name:
        out["name"] = name
    if node_port:
        out["nodePort"] = node_port
    return out


def svc(name, ns, type_="ClusterIP", ip=None, ports=(), selector=None, labels=None, **spec):
    body = {"type": type_, "ports": list(ports), "sessionAffinity": spec.pop("sessionAffinity", "None"), **spec}
    if ip:
        body["clusterIP"], body["clusterIPs"] = ip, [ip]
    if selector:
        body["selector"] = selector
    meta = {"name": name, "namespace": ns, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def slice_(name, ns, service, addresses, ports=({"name": "", "port": 80, "protocol": "TCP"},), ready=True):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": list(ports),
            "endpoints": [{"addresses": [a], "conditions": {"ready": ready}, "nodeName": "node-1",
                           "targetRef": {"kind": "Pod", "namespace": ns, "name": f"{service}-{i}"}}
                          for i, a in enumerate(addresses)]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    offset = [timedelta(days=10)]
    sim = SimCluster(scenario="empty", clock=lambda: datetime.now(timezone.utc).replace(microsecond=0) - offset[0])
    sim.start()
    try:
        api = sim.api_client()
        v1, disc = client.CoreV1Api(api), client.DiscoveryV1Api(api)
        for ns in ("dev", "prod", "dev-2", "empty"):
            v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for body in (
            svc("service-clusterip", "dev", ip="10.96.10.1", ports=[port(80)], selector={"app": "nginx-pod"},
                labels={"tier": "web"}),
            svc("service-headliness", "dev", ip="None", ports=[port(80)], selector={"app": "nginx-pod"}),
            svc("service-nodeport", "dev", "NodePort", "10.96.10.2", [port(80, node_port=30002)],
                {"app": "nginx-pod"}, externalTrafficPolicy="Cluster"),
            svc("lb-pending", "dev", "LoadBalancer", "10.96.10.3",
                [port(443, 8443, "https", node_port=31443), port(53, name="dns", protocol="UDP", node_port=31053)],
                {"app": "web", "tier": "front"}, externalTrafficPolicy="Cluster",
                sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}),
            svc("external-db", "dev", "ExternalName", externalName="db.example.com"),
            svc("with-external-ips", "prod", ip="10.96.20.1", ports=[port(8080, name="http"), port(9090, name="m")],
                selector={"app": "api"}, externalIPs=["192.0.2.10", "192.0.2.11"], labels={"tier": "api"}),
            svc("no-selector", "prod", ip="10.96.20.2", ports=[port(5432)]),
            svc("a-very-long-service-name-for-column-width", "dev-2", ip="10.96.30.1", ports=[port(80)],
                selector={"app": "x"}),
        ):
            v1.create_namespaced_service(body["metadata"]["namespace"], body)
        for body in (
            slice_("service-clusterip-abc12", "dev", "service-clusterip", ["10.244.1.2", "10.244.2.2", "10.244.1.3"]),
            slice_("service-nodeport-xyz34", "dev", "service-nodeport",
                   ["10.244.1.2", "10.244.2.2", "10.244.1.3", "10.244.2.4", "10.244.3.5"]),
            slice_("service-headliness-q", "dev", "service-headliness", []),
            slice_("with-external-ips-1", "prod", "with-external-ips", ["10.244.5.5"],
                   ports=({"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "m", "port": 9090,
                                                                               "protocol": "TCP"}), ready=False),
        ):
            disc.create_namespaced_endpoint_slice(body["metadata"]["namespace"], body)
        offset[0] = timedelta(0)
        kubeconfig = sim.write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig")
        yield sim, kubeconfig, tmp_path_factory.mktemp("kubectl-cache")
    finally:
        sim.stop()


def svcscope(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def kubectl(cache_dir, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", *args, f"--cache-dir={cache_dir}"], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("scope", [["-n", "dev"], ["-n", "prod"], ["-A"], ["-n", "empty"]])
def test_services_wide_equals_kubectl(cluster, scope):
    _, kc, cache = cluster
    ours = svcscope("services", "--once", "-o", "wide", *scope, "--kubeconfig", str(kc))
    theirs = kubectl(cache, "get", "svc", "-o", "wide", *scope, "--kubeconfig", str(kc))
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr  # "No resources found in empty namespace." for the empty one
    if scope != ["-n", "empty"]:
        assert "10d" in ours.stdout


@pytest.mark.parametrize("selector", ["tier", "tier=api", "tier notin (api)"])
def test_services_label_selector_equals_kubectl(cluster, selector):
    _, kc, cache = cluster
    ours = svcscope("services", "--once", "-o", "wide", "-A", "-l", selector, "--kubeconfig", str(kc))
    theirs = kubectl(cache, "get", "svc", "-o", "wide", "-A", "-l", selector, "--kubeconfig", str(kc))
    assert theirs.returncode == 0, theirs.stderr
    assert (ours.stdout, ours.stderr) == (theirs.stdout, theirs.stderr)


def test_the_kubeconfig_namespace_is_the_default(cluster):
    _, kc, cache = cluster  # the sim's kubeconfig context names namespace dev
    ours = svcscope("services", "--once", "-o", "wide", "--kubeconfig", str(kc))
    theirs = kubectl(cache, "get", "svc", "-o", "wide", "--kubeconfig", str(kc))
    assert ours.stdout == theirs.stdout and "service-nodeport" in ours.stdout


@pytest.mark.parametrize("scope", [["-n", "dev"], ["-A"], ["-n", "empty"]])
def test_endpointslices_wide_equals_kubectl(cluster, scope):
    _, kc, cache = cluster
    ours = svcscope("endpointslices", "--once", "-o", "wide", *scope, "--kubeconfig", str(kc))
    theirs = kubectl(cache, "get", "endpointslices", *scope, "--kubeconfig", str(kc))
    assert theirs.returncode == 0, theirs.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, theirs.stdout, theirs.stderr)


def test_endpointslices_of_one_service_equal_kubectl_with_the_label(cluster):
    _, kc, cache = cluster
    ours = svcscope("endpointslices", "--once", "-o", "wide", "-n", "dev", "service-nodeport", "--kubeconfig",
                    str(kc))
    theirs = kubectl(cache, "get", "endpointslices", "-n", "dev", "-l",
                     "kubernetes.io/service-name=service-nodeport", "--kubeconfig", str(kc))
    assert ours.stdout == theirs.stdout
    assert "10.244.1.2,10.244.2.2,10.244.1.3 + 2 more..." in ours.stdout


def test_services_pane_rows_count_endpoints(cluster):
    _, kc, _ = cluster
    out = svcscope("services", "--once", "-n", "dev", "--kubeconfig", str(kc))
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert lines["NAME"].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "ENDPOINTS",
                                     "AFFINITY", "SELECTOR", "AGE"]
    assert lines["service-clusterip"].split()[5] == "3/3"
    assert lines["service-headliness"].split()[5] == "0/0"
    assert "ClientIP(600s)" in lines["lb-pending"] and "<pending>" in lines["lb-pending"]
    rows = json.loads(svcscope("services", "--once", "-A", "-o", "json", "--kubeconfig", str(kc)).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["with-external-ips"]["endpoints"] == {"ready": 0, "total": 1}
    assert by_name["with-external-ips"]["health"] == "none-ready"
    assert by_name["service-nodeport"]["ports"] == [{"name": "", "protocol": "TCP", "port": 80, "targetPort": 80,
                                                     "nodePort": 30002}]
    assert by_name["external-db"]["externalIP"] == "db.example.com"
    assert by_name["service-nodeport"]["age"] == "10d"


def test_endpoint_rows_and_why_empty(cluster):
    _, kc, _ = cluster
    out = svcscope("endpointslices", "--once", "-n", "prod", "with-external-ips", "--kubeconfig", str(kc))
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()
    assert header.split() == ["ADDRESS", "PORTS", "READY", "SERVING", "TERMINATING", "NODE", "ZONE", "HOSTNAME",
                              "TARGET", "SLICE"]
    assert row.split() == ["10.244.5.5", "http:8080/TCP,m:9090/TCP", "false", "false*", "false*", "node-1",
                           "<none>", "<none>", "Pod/with-external-ips-0", "with-external-ips-1"]
    empty = svcscope("endpointslices", "--once", "-n", "prod", "no-selector", "--kubeconfig", str(kc))
    assert empty.returncode == 0 and empty.stdout == ""
    assert empty.stderr.startswith("no-selector has no selector, so no EndpointSlice is made for it")
    nopods = svcscope("endpointslices", "--once", "-n", "dev", "service-headliness", "--kubeconfig", str(kc))
    assert nopods.stderr == "The selector app=nginx-pod matches no pod in namespace dev.\n"
    missing = svcscope("endpointslices", "--once", "-n", "dev", "nope", "--kubeconfig", str(kc))
    assert missing.stderr == "There is no Service nope in namespace dev.\n"
    rows = json.loads(svcscope("endpointslices", "--once", "-n", "dev", "-o", "json", "--kubeconfig", str(kc)).stdout)
    assert len(rows) == 8 and {r["service"] for r in rows} == {"service-clusterip", "service-nodeport"}
    assert rows[0]["targetRef"]["kind"] == "Pod" and rows[0]["ready"] is True


def test_without_once_or_reachable_server_one_sentence(tmp_path):
    out = svcscope("services", "-n", "dev")
    assert out.returncode == 2 and "add --once" in out.stderr and "Traceback" not in out.stderr
    dead = SimCluster(scenario="empty").start()
    kc = dead.write_kubeconfig(tmp_path / "kc")
    dead.stop()
    out = svcscope("services", "--once", "--kubeconfig", str(kc))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "Nothing answers at http://127.0.0.1:" in out.stderr, out.stderr
