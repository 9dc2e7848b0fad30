"""A kubeadm-style kube-proxy in a simulated cluster, created through the real client over HTTP.

What kubeadm leaves behind: the ConfigMap kube-system/kube-proxy (config.conf + kubeconfig.conf), the DaemonSet
kube-proxy, the nodes. `seed` creates them; kube-proxy pods come from the sim's DaemonSet controller and kubelet.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s

from tests.conftest import wait_for
from tests.proxy.kubeadm_config import with_mode
from tui.kube.models import PodView
from tui.sim.kubeproxy_pods import MODULES_ANNOTATION

KUBECONFIG_CONF = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: https://192.168.10.100:6443
  name: default
"""

DAEMONSET: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
    "spec": {
        "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "hostNetwork": True,
                "priorityClassName": "system-node-critical",
                "serviceAccountName": "kube-proxy",
                "containers": [{
                    "name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.32.0",
                    "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                "--hostname-override=$(NODE_NAME)"],
                    "securityContext": {"privileged": True},
                    "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
                                     {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True}],
                }],
                "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                            {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}],
            },
        },
    },
}


def node(name: str, ip: str, modules: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}}
    if modules is not None:
        meta["annotations"] = {MODULES_ANNOTATION: modules}
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta,
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kernelVersion": "6.1.0-18-amd64", "kubeProxyVersion": "v1.32.0",
                                    "kubeletVersion": "v1.32.0", "architecture": "amd64", "bootID": "",
                                    "containerRuntimeVersion": "containerd://1.7.24", "machineID": "",
                                    "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "systemUUID": ""},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


IPVS_MODULES = "ip_vs,ip_vs_rr,ip_vs_wrr,ip_vs_sh,nf_conntrack,ip_set,nf_tables,ip_tables"
NO_IPVS_MODULES = "nf_conntrack,ip_set,nf_tables,ip_tables"


def seed(api: k8s.ApiClient, mode: str, nodes: dict[str, str | None] | None = None) -> None:
    """The ConfigMap in `mode`, the DaemonSet, and nodes (name -> kernel modules annotation; None: all)."""
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    for ns in ("kube-system",):
        try:
            core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        except k8s.ApiException as exc:
            if exc.status != 409:
                raise
    nodes = nodes if nodes is not None else {"node1": IPVS_MODULES, "node2": IPVS_MODULES}
    for i, (name, modules) in enumerate(nodes.items()):
        core.create_node(node(name, f"192.168.10.{11 + i}", modules))
    core.create_namespaced_config_map("kube-system", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": with_mode(mode), "kubeconfig.conf": KUBECONFIG_CONF}})
    apps.create_namespaced_daemon_set("kube-system", DAEMONSET)


def kube_proxy_pods(api: k8s.ApiClient) -> list[PodView]:
    raw = k8s.CoreV1Api(api).list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy",
                                                  _preload_content=False)
    return [PodView.from_api(p) for p in json.loads(raw.data)["items"]]


def settled(api: k8s.ApiClient, n: int, ready: int | None = None) -> dict[str, PodView]:
    """Wait until there is exactly one kube-proxy pod per node (none terminating), `ready` of them Ready (default:
    all); returns node -> pod."""
    want = n if ready is None else ready

    def check() -> dict[str, PodView] | None:
        pods = kube_proxy_pods(api)
        live = [p for p in pods if not p.deleting]
        if len(pods) == n and len(live) == n and sum(p.ready for p in live) == want:
            return {p.node_name: p for p in live}
        return None
    return wait_for(check, timeout=90, message=f"{n} kube-proxy pods, {want} Ready")
