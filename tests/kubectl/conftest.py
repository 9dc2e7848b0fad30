"""The real kubectl against the `sim` fixture, and a small cluster seeded through the API.

The seed gives Services explicit ClusterIPs and NodePorts, so the expected columns do not depend on allocation;
the hand-made EndpointSlice belongs to a Service without a selector, which no controller manages.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from kubernetes import client

from tui.sim.cluster import SimCluster

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
Kubectl = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def kubectl(sim_kubeconfig: Path, tmp_path: Path) -> Kubectl:
    cache = tmp_path / "kubectl-cache"

    def run(*args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, f"--kubeconfig={sim_kubeconfig}", f"--cache-dir={cache}", *args],
                              input=input, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def seeded(sim: SimCluster) -> client.ApiClient:
    api = sim.api_client()
    core = client.CoreV1Api(api)
    for ns in ("dev", "kube-system"):
        core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service("dev", {
        "metadata": {"name": "service-clusterip"},
        "spec": {"selector": {"app": "nginx-pod"}, "clusterIP": "10.97.97.97",
                 "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}})
    core.create_namespaced_service("dev", {
        "metadata": {"name": "service-nodeport"},
        "spec": {"type": "NodePort", "selector": {"app": "nginx-pod"}, "clusterIP": "10.97.97.98",
                 "ports": [{"port": 80, "targetPort": 80, "nodePort": 30002, "protocol": "TCP"}]}})
    core.create_namespaced_service("kube-system", {
        "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"clusterIP": "10.96.0.10",
                 "ports": [{"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"},
                           {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"}]}})
    client.DiscoveryV1Api(api).create_namespaced_endpoint_slice("kube-system", {
        "metadata": {"name": "kube-dns-manual", "labels": {"kubernetes.io/service-name": "kube-dns"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"10.244.0.{i}"], "conditions": {"ready": True}} for i in (2, 3, 4, 5)],
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]})
    core.create_namespaced_config_map("kube-system", {
        "metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
                                "mode: ipvs\nipvs:\n  scheduler: rr\n"}})
    yield api
    api.close()
