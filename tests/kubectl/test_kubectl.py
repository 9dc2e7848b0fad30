"""The real kubectl, unmodified, against the simulated cluster: the commands an admin runs, their real output."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.conftest import wait_for
from tests.kubectl.conftest import KUBECTL, Kubectl
from tui.sim.cluster import SimCluster

pytestmark = pytest.mark.kubectl

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
"""


def rows(out: str) -> list[list[str]]:
    """kubectl's table as cells (columns are separated by 2+ spaces; single spaces stay inside cells)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


def test_get_svc_all_namespaces_wide(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("get", "svc", "-A", "-o", "wide")
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    assert table[0] == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    by_name = {r[1]: r for r in table[1:]}
    assert by_name["service-clusterip"][:6] == ["dev", "service-clusterip", "ClusterIP", "10.97.97.97", "<none>",
                                                "80/TCP"]
    assert by_name["service-clusterip"][7] == "app=nginx-pod"
    assert by_name["service-nodeport"][2:6] == ["NodePort", "10.97.97.98", "<none>", "80:30002/TCP"]
    assert by_name["kube-dns"][2:6] == ["ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP"]
    assert by_name["kube-dns"][7] == "<none>"
    assert [r[0] for r in table[1:]] == sorted(r[0] for r in table[1:])  # namespaces in order, as etcd lists


def test_get_endpointslices_all_namespaces(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("get", "endpointslices", "-A")
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    assert table[0] == ["NAMESPACE", "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    mine = [r for r in table[1:] if r[1] == "kube-dns-manual"]
    assert mine and mine[0][:5] == ["kube-system", "kube-dns-manual", "IPv4", "53,53",
                                    "10.244.0.2,10.244.0.3,10.244.0.4 + 1 more..."]


def test_get_svc_watch_shows_a_later_create(sim_kubeconfig: Path, seeded: client.ApiClient, tmp_path: Path) -> None:
    proc = subprocess.Popen([KUBECTL, f"--kubeconfig={sim_kubeconfig}", f"--cache-dir={tmp_path / 'c'}",
                             "get", "svc", "-w", "-n", "dev"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(l.startswith("service-nodeport") for l in lines), 30, message="initial listing")
        assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        client.CoreV1Api(seeded).create_namespaced_service("dev", {
            "metadata": {"name": "late"},
            "spec": {"clusterIP": "10.98.0.5", "ports": [{"port": 8080, "protocol": "TCP"}]}})
        late = wait_for(lambda: [l for l in lines if l.startswith("late ")], 30, message="the watched create")
        assert late[0].split()[:5] == ["late", "ClusterIP", "10.98.0.5", "<none>", "8080/TCP"]
        assert sum(1 for l in lines if l.startswith("NAME")) == 1  # one header, as against a real apiserver
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_describe_svc(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("describe", "svc", "kube-dns", "-n", "kube-system")
    assert out.returncode == 0, out.stderr
    fields = {}
    for line in out.stdout.splitlines():
        if ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    assert fields["Name"] == "kube-dns"
    assert fields["Namespace"] == "kube-system"
    assert fields["Labels"] == "k8s-app=kube-dns"
    assert fields["IP"] == "10.96.0.10"
    assert "dns  53/UDP" in out.stdout and "dns-tcp  53/TCP" in out.stdout
    assert "10.244.0.2:53,10.244.0.3:53,10.244.0.4:53 + 1 more..." in out.stdout  # from the EndpointSlice
    assert fields["Events"] == "<none>"
    assert "error" not in out.stderr.lower()


def test_get_kube_proxy_configmap_yaml(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("get", "cm", "kube-proxy", "-n", "kube-system", "-o", "yaml")
    assert out.returncode == 0, out.stderr
    doc = yaml.safe_load(out.stdout)
    assert doc["kind"] == "ConfigMap" and doc["apiVersion"] == "v1"
    assert doc["metadata"]["name"] == "kube-proxy" and doc["metadata"]["namespace"] == "kube-system"
    assert doc["metadata"]["resourceVersion"].isdigit() and doc["metadata"]["uid"]
    assert yaml.safe_load(doc["data"]["config.conf"])["mode"] == "ipvs"


def test_create_f_then_errors(seeded: client.ApiClient, kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "x.yaml"
    manifest.write_text(SERVICE_YAML)
    out = kubectl("create", "-f", str(manifest))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "service/web created"
    got = client.CoreV1Api(seeded).read_namespaced_service("web", "dev")
    assert got.spec.ports[0].target_port == 8080
    again = kubectl("create", "-f", str(manifest))
    assert again.returncode == 1
    assert again.stderr.strip() == (f'Error from server (AlreadyExists): error when creating "{manifest}": '
                                    'services "web" already exists')
    nowhere = kubectl("create", "-f", str(manifest), "-n", "nope")
    assert nowhere.returncode == 1
    assert nowhere.stderr.strip() == (f'Error from server (NotFound): error when creating "{manifest}": '
                                      'namespaces "nope" not found')


def test_create_from_stdin_dry_run_server(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("create", "-f", "-", "--dry-run=server", "-o", "yaml", input=SERVICE_YAML)
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["metadata"]["name"] == "web"
    assert kubectl("get", "svc", "web").returncode == 1  # nothing stored


def test_delete_svc(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("delete", "svc", "service-clusterip")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'service "service-clusterip" deleted'
    gone = kubectl("get", "svc", "service-clusterip")
    assert gone.returncode == 1
    assert gone.stderr.strip() == 'Error from server (NotFound): services "service-clusterip" not found'


def test_label_annotate_patch_and_rollout_restart(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    assert kubectl("label", "svc", "service-clusterip", "tier=front").returncode == 0
    assert kubectl("annotate", "svc", "service-clusterip", "note=hello").returncode == 0
    out = kubectl("patch", "svc", "service-nodeport", "-p", '{"spec":{"ports":[{"port":80,"nodePort":30080}]}}')
    assert out.returncode == 0, out.stderr
    core = client.CoreV1Api(seeded)
    svc = core.read_namespaced_service("service-clusterip", "dev")
    assert svc.metadata.labels == {"tier": "front"} and svc.metadata.annotations == {"note": "hello"}
    ports = core.read_namespaced_service("service-nodeport", "dev").spec.ports
    assert [(p.port, p.node_port, p.target_port) for p in ports] == [(80, 30080, 80)]  # merged by port
    apps = client.AppsV1Api(seeded)
    apps.create_namespaced_daemon_set("kube-system", {
        "metadata": {"name": "kube-proxy"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                              "spec": {"containers": [{"name": "kube-proxy", "image": "kube-proxy:v1.32.4"}]}}}})
    out = kubectl("rollout", "restart", "ds/kube-proxy", "-n", "kube-system")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "daemonset.apps/kube-proxy restarted"
    ds = apps.read_namespaced_daemon_set("kube-proxy", "kube-system")
    assert "kubectl.kubernetes.io/restartedAt" in ds.spec.template.metadata.annotations
    assert ds.metadata.generation == 2


def test_resource_kinds_print_kubectls_columns(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    core, apps = client.CoreV1Api(seeded), client.AppsV1Api(seeded)
    core.create_node({"metadata": {"name": "node1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                 "addresses": [{"type": "InternalIP", "address": "192.168.56.10"}]}})
    core.create_namespaced_pod("dev", {
        "metadata": {"name": "pc-1"},
        "spec": {"nodeName": "node1", "containers": [{"name": "nginx", "image": "nginx:1.17.1"}]},
        "status": {"phase": "Running", "podIP": "10.244.1.3",
                   "containerStatuses": [{"name": "nginx", "ready": True, "restartCount": 2, "image": "nginx",
                                          "imageID": "", "state": {"running": {}}}]}})
    apps.create_namespaced_deployment("dev", {
        "metadata": {"name": "pc-deployment"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx-pod"}},
                 "template": {"metadata": {"labels": {"app": "nginx-pod"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.17.1"}]}}}})
    expected = {
        "nodes": ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                  "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        "pods": ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        "deployments": ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        "namespaces": ["NAME", "STATUS", "AGE"],
        "configmaps": ["NAME", "DATA", "AGE"],
    }
    for kind, header in expected.items():
        out = kubectl("get", kind, "-o", "wide", "-n", "kube-system" if kind == "configmaps" else "dev")
        assert out.returncode == 0, out.stderr
        assert rows(out.stdout)[0] == header, kind
    pods = rows(kubectl("get", "pods", "-o", "wide").stdout)
    assert pods[1][:4] == ["pc-1", "1/1", "Running", "2"] and pods[1][5:7] == ["10.244.1.3", "node1"]
    nodes = rows(kubectl("get", "nodes").stdout)
    assert nodes[1][:3] == ["node1", "Ready", "control-plane"]
    deps = rows(kubectl("get", "deploy", "-o", "wide").stdout)
    assert deps[1][0] == "pc-deployment" and deps[1][5:] == ["nginx", "nginx:1.17.1", "app=nginx-pod"]
    apps.create_namespaced_daemon_set("kube-system", {
        "metadata": {"name": "kube-proxy"},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                              "spec": {"containers": [{"name": "kube-proxy", "image": "kube-proxy:v1.32.4"}]}}}})
    ds = rows(kubectl("get", "ds", "-A").stdout)
    assert ds[0] == ["NAMESPACE", "NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                     "NODE SELECTOR", "AGE"]


def test_unknown_resource_type(sim: SimCluster, seeded: client.ApiClient, kubectl: Kubectl) -> None:
    out = kubectl("get", "ingresses")
    assert out.returncode == 1
    assert 'the server doesn\'t have a resource type "ingresses"' in out.stderr


def test_forbidden_as_kubectl_prints_it(tmp_path: Path) -> None:
    from tui.sim.rbac import RbacRules, Rule

    with SimCluster(scenario="empty", rbac=RbacRules([Rule(("get", "list"), ("services",), namespaces=("dev",))])) as sim:
        kc = sim.write_kubeconfig(tmp_path / "kc")
        base = [KUBECTL, f"--kubeconfig={kc}", f"--cache-dir={tmp_path / 'c'}"]
        ok = subprocess.run(base + ["get", "svc"], capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0 and "No resources found in dev namespace." in ok.stderr
        denied = subprocess.run(base + ["get", "svc", "-A"], capture_output=True, text=True, timeout=60)
        assert denied.returncode == 1
        assert denied.stderr.strip() == ('Error from server (Forbidden): services is forbidden: User "svcscope-demo" '
                                         'cannot list resource "services" in API group "" at the cluster scope')


INVALID = {
    # decoding comes first: unknown fields under kubectl's default --validate=strict, then Go type errors
    "unknown-field": ("  foo: bar\n  ports:\n  - port: 80\n",
                      'Error from server (BadRequest): error when creating "{f}": Service in version "v1" cannot be '
                      'handled as a Service: strict decoding error: unknown field "spec.foo"'),
    "wrong-type": ("  ports:\n  - port: eighty\n",
                   'Error from server (BadRequest): error when creating "{f}": Service in version "v1" cannot be '
                   "handled as a Service: json: cannot unmarshal string into Go struct field "
                   "ServicePort.spec.ports.port of type int32"),
    # then validation (422), which kubectl words as "The Service ... is invalid"
    "node-port-range": ("  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 40000\n",
                        'The Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port '
                        "is not in the valid range. The range of valid ports is 30000-32767"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_create_f_invalid_manifests(seeded: client.ApiClient, kubectl: Kubectl, tmp_path: Path, case: str) -> None:
    spec, expected = INVALID[case]
    manifest = tmp_path / f"{case}.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  selector:\n    app: web\n" + spec)
    out = kubectl("create", "-f", str(manifest))
    assert out.returncode == 1
    assert out.stderr.strip() == expected.format(f=manifest)
    assert kubectl("get", "svc", "bad").returncode == 1


def test_create_f_validate_warn_drops_unknown_fields(seeded: client.ApiClient, kubectl: Kubectl,
                                                     tmp_path: Path) -> None:
    manifest = tmp_path / "warn.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: warned\nspec:\n  foo: bar\n"
                        "  ports:\n  - port: 80\n")
    out = kubectl("create", "-f", str(manifest), "--validate=warn")
    assert out.returncode == 0, out.stderr
    assert 'Warning: unknown field "spec.foo"' in out.stderr
    stored = client.CoreV1Api(seeded).read_namespaced_service("warned", "dev", _preload_content=False)
    assert b'"foo"' not in stored.data  # dropped, as decoding into the Go struct drops it


def test_apply_twice_merges_by_the_last_applied_configuration(seeded: client.ApiClient, kubectl: Kubectl,
                                                              tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(SERVICE_YAML)
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "service/web created"
    manifest.write_text(SERVICE_YAML.replace("targetPort: 8080", "targetPort: 9090"))
    out = kubectl("apply", "-f", str(manifest))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "service/web configured"
    svc = client.CoreV1Api(seeded).read_namespaced_service("web", "dev")
    assert [(p.port, p.target_port) for p in svc.spec.ports] == [(80, 9090)]


IMPERATIVE = [
    ("namespaces", None, "test", "create namespace test"),
    ("configmaps", "dev", "cfg", "create configmap cfg --from-literal=a=1 --from-literal=b=two"),
    ("services", "dev", "web", "create service clusterip web --tcp=5678:8080 --tcp=80:http"),
    ("services", "dev", "np", "create service nodeport np --tcp=80:8080 --node-port=30080"),
    ("services", "dev", "lb", "create service loadbalancer lb --tcp=443:8443"),
    ("services", "dev", "ext", "create service externalname ext --external-name=example.com"),
    ("deployments", "dev", "nginx", "create deployment nginx --image=nginx:1.17.1 --replicas=3 --port=80"),
]


def _meaningful(o: object) -> object:
    """Without nulls and empty maps/lists, which mean nothing in Kubernetes JSON."""
    if isinstance(o, dict):
        o = {k: _meaningful(v) for k, v in o.items()}
        return {k: v for k, v in o.items() if v not in (None, {}, [])}
    if isinstance(o, list):
        return [_meaningful(x) for x in o]
    return o


def _contains(big: object, small: object, path: str = "") -> None:
    if isinstance(small, dict):
        assert isinstance(big, dict), path
        for k, v in small.items():
            assert k in big, f"{path}.{k} missing"
            _contains(big[k], v, f"{path}.{k}")
    elif isinstance(small, list):
        assert isinstance(big, list) and len(big) == len(small), path
        for i, (b, s) in enumerate(zip(big, small)):
            _contains(b, s, f"{path}[{i}]")
    else:
        assert big == small, f"{path}: {big!r} != {small!r}"


@pytest.mark.parametrize("plural,ns,name,cmd", IMPERATIVE, ids=[c[3].split()[1] + "-" + c[2] for c in IMPERATIVE])
def test_imperative_create_sends_protobuf_the_sim_decodes(sim: SimCluster, seeded: client.ApiClient,
                                                          kubectl: Kubectl, plural: str, ns: str | None, name: str,
                                                          cmd: str) -> None:
    """kubectl create <kind> sends protobuf; what is stored must be what kubectl meant (its own dry-run JSON)."""
    import json

    import urllib3

    meant = json.loads(kubectl(*cmd.split(), "--dry-run=client", "-o", "json").stdout)
    out = kubectl(*cmd.split())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f"/{name} created")
    group = "/apis/apps/v1" if plural == "deployments" else "/api/v1"
    path = f"{group}/namespaces/{ns}/{plural}/{name}" if ns else f"{group}/{plural}/{name}"
    stored = json.loads(urllib3.PoolManager().request("GET", sim.url + path).data)
    meant.pop("status", None)
    meant["metadata"].pop("creationTimestamp", None)
    _contains(stored, _meaningful(meant))


def test_scale_deployment(seeded: client.ApiClient, kubectl: Kubectl) -> None:
    assert kubectl("create", "deployment", "nginx", "--image=nginx:1.17.1", "--replicas=1").returncode == 0
    out = kubectl("scale", "deploy/nginx", "--replicas=3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "deployment.apps/nginx scaled"
    apps = client.AppsV1Api(seeded)
    assert apps.read_namespaced_deployment("nginx", "dev").spec.replicas == 3
    scale = apps.read_namespaced_deployment_scale("nginx", "dev")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=nginx"


def test_tutorial_cluster_as_kubectl_sees_it(tmp_path: Path) -> None:
    """The default scenario end to end: its Services, and a Service created with kubectl gets its endpoints."""
    with SimCluster() as sim:
        kc = sim.write_kubeconfig(tmp_path / "kc")

        def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run([KUBECTL, f"--kubeconfig={kc}", f"--cache-dir={tmp_path / 'c'}", *args],
                                  input=input, capture_output=True, text=True, timeout=60)

        table = rows(run("get", "svc", "-n", "dev", "-o", "wide").stdout)
        by_name = {r[0]: r for r in table[1:]}
        assert by_name["service-clusterip"][1] == "ClusterIP" and by_name["service-clusterip"][3:5] == ["<none>",
                                                                                                        "80/TCP"]
        assert by_name["service-headliness"][2] == "None"
        assert by_name["service-nodeport"][1] == "NodePort" and by_name["service-nodeport"][4] == "80:30002/TCP"
        assert all(r[6] == "app=nginx-pod" for r in by_name.values())
        out = run("create", "-f", "-", input=SERVICE_YAML.replace("app: web", "app: nginx-pod"))
        assert out.returncode == 0, out.stderr

        def web_slice() -> list[str] | None:
            for r in rows(run("get", "endpointslices", "-n", "dev").stdout)[1:]:
                if r[0].startswith("web-") and r[3] != "<unset>":
                    return r
            return None

        found = wait_for(web_slice, 30, message="the EndpointSlice controller's slice for web")
        assert found[1:3] == ["IPv4", "8080"] and len(found[3].split(",")) == 3
