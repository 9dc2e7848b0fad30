"""The panes on the tutorial cluster, with the sim's own controllers doing the work: scaling the Deployment, a pod
turning unready, a Service deleted; the panes follow each step as a user would watch it."""

from __future__ import annotations

import pytest
from kubernetes.client import AppsV1Api, CoreV1Api

from tests.panes.conftest import SIZE, cells, make_app, names, synced, until
from tui.sim.cluster import SimCluster

READY_ANNOTATION = "sim.svcscope.io/ready"  # the sim kubelet's readiness knob


@pytest.fixture
def tutorial():
    sim = SimCluster(scenario="tutorial", bookmark_interval=0.5).start()
    try:
        yield sim
    finally:
        sim.stop()


async def test_scaling_the_deployment_and_unready_pods(tutorial, tmp_path, xdg):
    apps, v1 = AppsV1Api(tutorial.api_client()), CoreV1Api(tutorial.api_client())
    app = make_app(tutorial.write_kubeconfig(tmp_path / "kubeconfig"))
    async with app.run_test(size=SIZE) as pilot:
        main = await synced(pilot)
        services, endpoints = main.services, main.endpoints
        assert names(services) == ["service-clusterip", "service-headliness", "service-nodeport"]
        await until(pilot, lambda: cells(services, "endpoints") == ["3/3"] * 3, "three ready pods behind each")
        assert cells(services, "ports") == ["80/TCP", "80/TCP", "80:30002/TCP"]
        assert cells(services, "clusterIP")[1] == "None"  # headless
        await until(pilot, lambda: endpoints.total_count == 3, "service-clusterip's endpoints")
        assert all(t.startswith("Pod/pc-deployment-") for t in cells(endpoints, "target"))

        apps.patch_namespaced_deployment_scale("pc-deployment", "dev", {"spec": {"replicas": 5}})
        await until(pilot, lambda: cells(services, "endpoints") == ["5/5"] * 3, "scaled up to 5")
        await until(pilot, lambda: endpoints.total_count == 5, "five endpoint rows")
        pods = sorted(t.removeprefix("Pod/") for t in cells(endpoints, "target"))
        listed = sorted(p.metadata.name for p in v1.list_namespaced_pod("dev", label_selector="app=nginx-pod").items)
        assert pods == listed

        # one pod turns unready: counted, coloured, and its row says so
        v1.patch_namespaced_pod(pods[0], "dev", {"metadata": {"annotations": {READY_ANNOTATION: "false"}}})
        await until(pilot, lambda: cells(services, "endpoints")[0] == "4/5", "one unready")
        assert services.row(("dev", "service-clusterip")).level == "warning"
        row = next(k for k in endpoints.visible_keys() if endpoints.row(k).cells[8] == f"Pod/{pods[0]}")
        assert endpoints.row(row).cells[2] == "false" and endpoints.row(row).level == "error"

        apps.patch_namespaced_deployment_scale("pc-deployment", "dev", {"spec": {"replicas": 1}})
        await until(pilot, lambda: cells(services, "endpoints")[0] in ("1/1", "0/1"), "scaled down to 1",
                    timeout=60)
        await until(pilot, lambda: endpoints.total_count == 1, "one endpoint row left", timeout=60)

        v1.delete_namespaced_service("service-headliness", "dev")
        await until(pilot, lambda: names(services) == ["service-clusterip", "service-nodeport"], "the deletion")
        # the controller garbage-collects the slices of a deleted Service: nothing of it stays in the state
        await until(pilot, lambda: not main.state.slices_of(("dev", "service-headliness")), "its slices gone")
