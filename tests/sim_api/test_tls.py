"""The sim over HTTPS: verified with the kubeconfig's CA, and kubectl sends the token (so RBAC sees the user)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import urllib3
import yaml
from kubernetes import client

from tui.sim.cluster import SimCluster
from tui.sim.rbac import RbacRules, Rule


@pytest.fixture(scope="module")
def tls_sim() -> Iterator[SimCluster]:
    sim = SimCluster(scenario="empty", tls=True,
                     rbac=RbacRules([Rule(("*",), ("namespaces", "services"))])).start()
    try:
        yield sim
    finally:
        sim.stop()


def test_client_verifies_the_sim_with_the_kubeconfig_ca(tls_sim: SimCluster) -> None:
    assert tls_sim.url.startswith("https://127.0.0.1:")
    api = tls_sim.api_client()
    assert client.VersionApi(api).get_code().minor == "32"
    with pytest.raises(urllib3.exceptions.SSLError) as exc:
        urllib3.PoolManager().request("GET", tls_sim.url + "/version", retries=False)
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value)  # without the sim's CA the server is not trusted


@pytest.mark.kubectl
def test_kubectl_sends_the_token_over_tls(tls_sim: SimCluster, tmp_path: Path) -> None:
    kc = tls_sim.write_kubeconfig(tmp_path / "kc")
    kubectl = [shutil.which("kubectl") or "/usr/bin/kubectl", f"--cache-dir={tmp_path / 'c'}"]
    ok = subprocess.run(kubectl + [f"--kubeconfig={kc}", "get", "ns"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    doc = yaml.safe_load(kc.read_text())
    doc["users"][0]["user"]["token"] = "svcscope-other-token"
    other = tmp_path / "other"
    other.write_text(yaml.safe_dump(doc))
    denied = subprocess.run(kubectl + [f"--kubeconfig={other}", "get", "ns"], capture_output=True, text=True,
                            timeout=60)
    assert denied.returncode == 1
    assert denied.stderr.strip() == ('Error from server (Forbidden): namespaces is forbidden: User "svcscope-other" '
                                     'cannot list resource "namespaces" in API group "" at the cluster scope')
