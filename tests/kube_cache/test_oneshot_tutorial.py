"""The one-shot commands on the tutorial cluster: --demo, and byte-for-byte kubectl parity with the sim's own
controllers (pods scheduled on several nodes, EndpointSlices made by the EndpointSlice controller)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import wait_for
from tests.kube_cache.test_oneshot_kubectl import kubectl, svcscope
from tui.sim.cluster import SimCluster
from tui.sim.resources import BY_KIND


def test_demo_services_show_the_tutorial():
    out = svcscope("services", "--once", "--demo", "-n", "dev", "-o", "json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert set(rows) >= {"service-clusterip", "service-headliness", "service-nodeport"}
    assert rows["service-headliness"]["clusterIP"] == "None"
    assert rows["service-nodeport"]["ports"][0]["nodePort"] == 30002
    assert rows["service-clusterip"]["endpoints"] == {"ready": 3, "total": 3}
    assert rows["service-clusterip"]["selector"] == {"app": "nginx-pod"}


def test_demo_endpointslices_of_a_service():
    out = svcscope("endpointslices", "--once", "--demo", "-n", "dev", "service-clusterip")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split()[0] == "ADDRESS" and len(rows) == 3
    cells = [r.split() for r in rows]
    assert all(c[2] == "true" and c[-2].startswith("Pod/pc-deployment-") for c in cells)
    assert len({c[5] for c in cells}) >= 2, "the tutorial spreads its pods over nodes"


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    offset = [timedelta(days=3, hours=5)]
    sim = SimCluster(scenario="tutorial",
                     clock=lambda: datetime.now(timezone.utc).replace(microsecond=0) - offset[0]).start()
    try:
        wait_for(lambda: len(sim.store.list(BY_KIND["EndpointSlice"], "dev")[0]) >= 3, timeout=30,
                 message="the controller made the tutorial's slices")
        offset[0] = timedelta(0)
        yield sim, sim.write_kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig"), tmp_path_factory.mktemp("c")
    finally:
        sim.stop()


@pytest.mark.kubectl
@pytest.mark.parametrize("command, kubectl_args", [
    (["services", "--once", "-o", "wide", "-A"], ["get", "svc", "-o", "wide", "-A"]),
    (["services", "--once", "-o", "wide", "-n", "kube-system"], ["get", "svc", "-o", "wide", "-n", "kube-system"]),
    (["endpointslices", "--once", "-o", "wide", "-A"], ["get", "endpointslices", "-A"]),
    (["endpointslices", "--once", "-o", "wide", "-n", "dev"], ["get", "endpointslices", "-n", "dev"]),
])
def test_tutorial_equals_kubectl(tutorial, command, kubectl_args):
    _, kc, cache = tutorial
    ours = svcscope(*command, "--kubeconfig", str(kc))
    theirs = kubectl(cache, *kubectl_args, "--kubeconfig", str(kc))
    assert theirs.returncode == 0, theirs.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, theirs.stdout, theirs.stderr)
    assert "3d5h" in ours.stdout
