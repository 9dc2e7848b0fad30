"""`svcscope create service ...` against the real kubectl: the same inputs give the same manifest (kubectl's
client dry run, less its `creationTimestamp: null` and empty status), the tutorial's three Services included; every
manifest is accepted by `kubectl create -f` against the simulated cluster; a server dry run shows what the server
allocates and creates nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.kubectl.conftest import KUBECTL, Kubectl
from tui.cli import main
from tui.kube.service_spec import from_kubectl_args
from tui.sim.cluster import SimCluster

ROOT = Path(__file__).resolve().parents[2]

# (svcscope's arguments, kubectl's arguments for the same Service)
CASES = [
    (["clusterip", "web", "--tcp=80:8080"], ["clusterip", "web", "--tcp=80:8080"]),
    (["clusterip", "multi", "--tcp=80:8080", "--tcp=443", "-n", "dev"],
     ["clusterip", "multi", "--tcp=80:8080", "--tcp=443", "-n", "dev"]),
    (["clusterip", "named", "--tcp=80:http,81"], ["clusterip", "named", "--tcp=80:http,81"]),
    (["clusterip", "fixed", "--tcp=80", "--clusterip=10.96.0.99"],
     ["clusterip", "fixed", "--tcp=80", "--clusterip=10.96.0.99"]),
    (["headless", "hl", "--tcp=80:80"], ["clusterip", "hl", "--clusterip=None", "--tcp=80:80"]),
    (["headless", "bare"], ["clusterip", "bare", "--clusterip=None"]),
    (["nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
     ["nodeport", "np", "--tcp=80:8080", "--node-port=30080"]),
    (["nodeport", "np2", "--tcp=80:8080,443:8443"], ["nodeport", "np2", "--tcp=80:8080,443:8443"]),
    (["loadbalancer", "lb", "--tcp=80:8080", "-n", "dev"], ["loadbalancer", "lb", "--tcp=80:8080", "-n", "dev"]),
    (["externalname", "ex", "--external-name=example.com"], ["externalname", "ex", "--external-name=example.com"]),
    (["externalname", "ex2", "--external-name=db.example.com", "--tcp=5432"],
     ["externalname", "ex2", "--external-name=db.example.com", "--tcp=5432"]),
]

# The tutorial's Services: kubectl has no --selector, so its manifest goes through `kubectl set selector --local`.
TUTORIAL = [
    (["clusterip", "service-clusterip", "--tcp=80:80", "--selector=app=nginx-pod", "-n", "dev"],
     ["clusterip", "service-clusterip", "--tcp=80:80", "-n", "dev"]),
    (["headless", "service-headliness", "--tcp=80:80", "--selector=app=nginx-pod", "-n", "dev"],
     ["clusterip", "service-headliness", "--clusterip=None", "--tcp=80:80", "-n", "dev"]),
    (["nodeport", "service-nodeport", "--tcp=80:80", "--node-port=30002", "--selector=app=nginx-pod", "-n", "dev"],
     ["nodeport", "service-nodeport", "--tcp=80:80", "--node-port=30002", "-n", "dev"]),
]


def kubectl_offline(*args: str, input: str | None = None) -> str:
    out = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def kubectl_manifest(args: list[str], output: str, selector: str | None = None) -> str:
    text = kubectl_offline("create", "service", *args, "--dry-run=client", f"-o={output}")
    if selector:
        text = kubectl_offline("set", "selector", "--local", "-f", "-", selector, f"-o={output}", input=text)
    return text


def normalise_yaml(text: str) -> str:
    """kubectl's additions out: `creationTimestamp: null` and the empty status (the last two lines)."""
    lines = [line for line in text.splitlines() if line != "  creationTimestamp: null"]
    assert lines[-2:] == ["status:", "  loadBalancer: {}"]
    return "\n".join(lines[:-2]) + "\n"


def normalise_json(text: str) -> list:
    """The JSON with its key order kept (pairs), kubectl's additions out."""
    def pairs(items):
        return [(k, v) for k, v in items
                if k != "creationTimestamp" and not (k == "status" and v == [("loadBalancer", [])])]

    return json.loads(text, object_pairs_hook=pairs)


def svcscope(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["create", "service", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("ours,theirs", CASES + TUTORIAL, ids=[c[0][1] for c in CASES + TUTORIAL])
def test_yaml_is_kubectls(capsys, ours, theirs):
    selector = next((a.split("=", 1)[1] for a in ours if a.startswith("--selector=")), None)
    code, out, err = svcscope(capsys, *ours, "--dry-run=client", "-o", "yaml")
    assert code == 0, err
    assert out == normalise_yaml(kubectl_manifest(theirs, "yaml", selector))


@pytest.mark.parametrize("ours,theirs", CASES + TUTORIAL, ids=[c[0][1] for c in CASES + TUTORIAL])
def test_json_is_kubectls_in_kubectls_key_order(capsys, ours, theirs):
    selector = next((a.split("=", 1)[1] for a in ours if a.startswith("--selector=")), None)
    code, out, err = svcscope(capsys, *ours, "--dry-run=client", "-o", "json")
    assert code == 0, err
    assert normalise_json(out) == normalise_json(kubectl_manifest(theirs, "json", selector))


def test_client_affinity_matches_kubectl_patched():
    """sessionAffinity ClientIP with a timeout: kubectl has no flag, its own `patch --local` adds the fields."""
    spec = from_kubectl_args("clusterip", "sticky", ["80:8080"], session_affinity="ClientIP", timeout=600)
    patch = json.dumps({"spec": {"sessionAffinity": "ClientIP",
                                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}}})
    base = kubectl_manifest(["clusterip", "sticky", "--tcp=80:8080"], "yaml")
    theirs = kubectl_offline("patch", "--local", "-f", "-", "--type=merge", "-p", patch, "-o", "yaml", input=base)
    assert spec.to_yaml() == normalise_yaml(theirs)
    assert spec.validate() == {}


def test_kubectls_own_refusals_in_its_words(capsys):
    code, _, err = svcscope(capsys, "clusterip", "web", "--dry-run=client")
    assert code == 2 and "at least one tcp port specifier must be provided" in err
    code, _, err = svcscope(capsys, "externalname", "ex", "--dry-run=client")
    assert code == 2 and 'required flag(s) "external-name" not set' in err
    code, _, err = svcscope(capsys, "clusterip", "web", "--tcp=x:80", "--dry-run=client")
    assert code == 2 and 'strconv.ParseUint: parsing "x": invalid syntax' in err
    code, _, err = svcscope(capsys, "externalname", "ex", "--external-name=Bad_Host", "--dry-run=client")
    assert code == 2 and "invalid service external name Bad_Host" in err
    for args in (["clusterip", "web"], ["externalname", "ex"], ["clusterip", "web", "--tcp=x:80"],
                 ["externalname", "ex", "--external-name=Bad_Host"]):
        theirs = subprocess.run([KUBECTL, "create", "service", *args, "--dry-run=client", "-o", "yaml"],
                                capture_output=True, text=True, timeout=60)
        assert theirs.returncode != 0  # kubectl refuses the same inputs


# -- against the simulated cluster -------------------------------------------------------------------------------

@pytest.fixture
def dev(sim: SimCluster) -> client.ApiClient:
    api = sim.api_client()
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "dev"}})
    yield api
    api.close()


@pytest.mark.parametrize("ours", [c[0] for c in CASES + TUTORIAL], ids=[c[0][1] for c in CASES + TUTORIAL])
def test_kubectl_create_accepts_every_manifest(capsys, dev, kubectl: Kubectl, ours):
    code, out, err = svcscope(capsys, *ours, "--dry-run=client", "-o", "yaml")
    assert code == 0, err
    doc = yaml.safe_load(out)
    created = kubectl("create", "-f", "-", "-n", "dev", "-o", "json", input=out)
    assert created.returncode == 0, created.stderr
    obj = json.loads(created.stdout)
    stored = client.CoreV1Api(dev).read_namespaced_service(doc["metadata"]["name"], "dev")
    assert stored.metadata.uid == obj["metadata"]["uid"]
    assert stored.spec.type == doc["spec"]["type"]
    assert [p.port for p in stored.spec.ports or []] == [p["port"] for p in doc["spec"].get("ports", [])]
    if doc["spec"]["type"] == "ExternalName":
        assert stored.spec.external_name == doc["spec"]["externalName"]
    else:
        assert stored.spec.cluster_ip == doc["spec"].get("clusterIP", stored.spec.cluster_ip) != ""
    if doc["spec"]["type"] in ("NodePort", "LoadBalancer"):
        assert all(30000 <= p.node_port <= 32767 for p in stored.spec.ports)


def test_tutorial_services_created_by_svcscope_are_what_kubectl_shows(sim_kubeconfig, dev, kubectl: Kubectl):
    """Created for real through the CLI (a subprocess, as an admin runs it), then listed by kubectl."""
    for ours, _ in TUTORIAL:
        out = subprocess.run([sys.executable, "-m", "tui", "--kubeconfig", str(sim_kubeconfig), "create",
                              "service", *ours], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"service/{ours[1]} created\n"
    listed = kubectl("get", "svc", "-n", "dev", "-o", "wide")
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["service-clusterip"][1] == "ClusterIP" and rows["service-clusterip"][4] == "80/TCP"
    assert rows["service-headliness"][2] == "None"
    assert rows["service-nodeport"][4] == "80:30002/TCP"
    assert all(r[-1] == "app=nginx-pod" for r in rows.values())


def test_server_dry_run_shows_the_allocations_and_creates_nothing(capsys, sim_kubeconfig, dev):
    core = client.CoreV1Api(dev)
    code, out, err = svcscope(capsys, "nodeport", "web", "--tcp=80:8080", "-n", "dev",
                              f"--kubeconfig={sim_kubeconfig}", "--dry-run=server", "-o", "json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["spec"]["clusterIP"] and obj["spec"]["clusterIP"] != "None"
    assert 30000 <= obj["spec"]["ports"][0]["nodePort"] <= 32767
    assert obj["spec"]["externalTrafficPolicy"] == "Cluster" and obj["spec"]["sessionAffinity"] == "None"
    assert core.list_namespaced_service("dev").items == []
    # the allocation was not kept: the same nodePort can be asked for for real
    code, out, err = svcscope(capsys, "nodeport", "web", "--tcp=80:8080", "-n", "dev", f"--kubeconfig={sim_kubeconfig}",
                              f"--node-port={obj['spec']['ports'][0]['nodePort']}")
    assert code == 0, err
    assert core.read_namespaced_service("web", "dev").spec.ports[0].node_port == obj["spec"]["ports"][0]["nodePort"]


def test_server_refusals_in_one_sentence_with_the_apiservers_words(capsys, sim_kubeconfig, dev):
    base = ["-n", "dev", f"--kubeconfig={sim_kubeconfig}"]
    assert svcscope(capsys, "nodeport", "taken", "--tcp=80", "--node-port=30002", *base)[0] == 0
    code, _, err = svcscope(capsys, "nodeport", "again", "--tcp=80", "--node-port=30002", *base)
    assert code == 1
    assert "spec.ports[0].nodePort: Invalid value: 30002: provided port is already allocated" in err
    code, _, err = svcscope(capsys, "nodeport", "taken", "--tcp=81", *base)
    assert code == 1 and 'services "taken" already exists' in err
    code, _, err = svcscope(capsys, "clusterip", "sticky", "--tcp=80", "--session-affinity=ClientIP",
                            "--timeout=86401", *base)
    assert code == 1
    assert ("spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and "
            "less than 86400") in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_read_only_refuses_before_connecting(capsys, sim_kubeconfig, dev):
    code, _, err = svcscope(capsys, "clusterip", "web", "--tcp=80", "-n", "dev", "--read-only",
                            f"--kubeconfig={sim_kubeconfig}")
    assert code == 1 and "blocked: svcscope was started with --read-only" in err
    assert client.CoreV1Api(dev).list_namespaced_service("dev").items == []
    code, out, _ = svcscope(capsys, "clusterip", "web", "--tcp=80", "--read-only", "--dry-run=client", "-o", "yaml")
    assert code == 0 and "name: web" in out  # a client dry run sends nothing: allowed
