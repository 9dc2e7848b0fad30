"""`svcscope check` reads pods only where the EndpointSlices leave a pod question open (join.pods_needed): the
verdicts must be those of reading every pod, and a user who may not list pods gets no pod verdict, only a sentence.

The check runs in-process against a simulated cluster over real HTTP (the real client); this node's IPVS table is
the cluster's kube-proxy emulator's, handed in where a node would read netlink."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import wait_for
from tui import cli
from tui.commands import check
from tui.kube.models import ServiceView, SliceView
from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy import ensure_emulator
from tui.sim.rbac import READ_VERBS, RbacRules, Rule
from tui.trace.join import pods_needed

NODE = "node1"
POD_VERDICTS = {"no-pods", "none-ready", "target-port"}


def run_check(sim: SimCluster, emulator: Any, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    table = sim.call(emulator.resync)
    monkeypatch.setattr(check, "_read_table", lambda source: (table, ""))
    code = cli.main(["check", "--kubeconfig", str(kubeconfig), "--node", NODE, *args])
    return code, capsys.readouterr().out


def codes(report: dict) -> dict[str, set[str]]:
    return {s["name"]: {f["code"] for f in s["findings"]} for s in report["services"]}


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[tuple[SimCluster, Any, Path]]:
    """The broken scenario plus a Service whose numeric targetPort no container declares (its slices are healthy)."""
    sim = SimCluster(scenario="broken")
    emulator = ensure_emulator(sim, NODE)
    sim.start()
    try:
        from kubernetes import client as k8s

        k8s.CoreV1Api(sim.api_client()).create_namespaced_service("broken", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "undeclared-number"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8443, "targetPort": 8443}]}})
        yield sim, emulator, sim.write_kubeconfig(tmp_path / "kubeconfig")
    finally:
        sim.stop()


def settled(sim: SimCluster, emulator: Any, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> dict:
    def report() -> dict | None:
        _, out = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "-o", "json",
                           "--all-pods")
        got = json.loads(out)
        by_name = codes(got)
        return got if "none-ready" in by_name.get("all-unready", set()) and \
            "vs-missing" not in set().union(*by_name.values()) else None

    return wait_for(report, timeout=60, interval=0.5, message="the broken scenario never settled")


def test_shortcut_gives_the_same_verdicts_as_reading_every_pod(broken, monkeypatch, capsys) -> None:
    sim, emulator, kubeconfig = broken
    everything = settled(sim, emulator, kubeconfig, monkeypatch, capsys)
    code, out = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "-o", "json")
    shortcut = json.loads(out)
    assert code == 1
    by_name = codes(everything)
    # not vacuous: every pod-based verdict is there to be kept
    assert "no-pods" in by_name["no-pods"] and "none-ready" in by_name["all-unready"]
    assert "target-port" in by_name["wrong-port-name"]
    # the one answer the slices cannot give: a numeric targetPort no container declares, behind ready endpoints
    assert "target-port" in by_name["undeclared-number"]
    # ... which the report owns up to: with every pod read nothing is left unchecked; with the shortcut, the
    # Services behind ready endpoints with a numeric targetPort are counted (undeclared-number among them)
    assert everything.pop("numericTargetPortsUnchecked") == 0
    unchecked = shortcut.pop("numericTargetPortsUnchecked")
    assert unchecked >= 1
    expected = dict(everything, services=[s for s in everything["services"] if s["name"] != "undeclared-number"])
    got = dict(shortcut, services=[s for s in shortcut["services"] if s["name"] != "undeclared-number"])
    assert got == expected
    assert codes(shortcut)["undeclared-number"] == set()  # checked with --all-pods only (pods_needed's docstring)
    _, text = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken")
    assert f"numeric targetPorts of {unchecked} Service(s) not checked" in text.splitlines()[-1]
    _, text = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "--all-pods")
    assert "not checked" not in text
    # the same when the needed pods come as the namespace's whole list instead of one label-selected list each
    monkeypatch.setattr(check, "PER_SERVICE_LISTS", 0)
    _, out = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "-o", "json")
    namespace_wide = json.loads(out)
    assert namespace_wide.pop("numericTargetPortsUnchecked") == unchecked
    assert namespace_wide == shortcut


def test_a_user_who_cannot_list_pods_gets_no_pod_verdict_and_one_sentence(tmp_path, monkeypatch, capsys) -> None:
    everything_but_pods = ("services", "endpointslices", "nodes", "configmaps", "namespaces")
    sim = SimCluster(scenario="broken", rbac=RbacRules([Rule(READ_VERBS, everything_but_pods)]))
    emulator = ensure_emulator(sim, NODE)
    sim.start()
    try:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        wait_for(lambda: sim.call(emulator.resync).virtual_servers, timeout=30, interval=0.2,
                 message="node1's emulated IPVS table stayed empty")
        code, out = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "-o", "json")
        report = json.loads(out)
        by_name = codes(report)
        assert not POD_VERDICTS & set().union(*by_name.values()), by_name
        assert report["podsError"] and "pods" in report["podsError"] and "forbidden" in report["podsError"].lower()
        # the Services whose slices leave a pod question open say so; the others need no pods
        assert {"no-pods", "all-unready", "wrong-port-name"} <= {n for n, c in by_name.items() if "pods-unknown" in c}
        assert "pods-unknown" not in by_name["selectorless"]
        assert code == 0  # nothing found wrong is not an error; pending-lb stays a warning
        code, out = run_check(sim, emulator, kubeconfig, monkeypatch, capsys, "-n", "broken", "--all-pods")
        lines = out.splitlines()
        assert lines[1].startswith("pods not read: ") and len([ln for ln in lines if "pods not read" in ln]) == 1
        assert any("INFO    pods could not be read" in ln for ln in lines)
    finally:
        sim.stop()


def _svc(**spec: Any) -> ServiceView:
    return ServiceView.from_api({"metadata": {"name": "web", "namespace": "ns"},
                                 "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10", **spec}})


def _slice(ports: list[dict], ready: bool | None = True, managed: bool = True, kind: str = "Pod") -> SliceView:
    labels = {"kubernetes.io/service-name": "web"}
    if managed:
        labels["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io"
    endpoint: dict = {"addresses": ["10.244.1.2"], "targetRef": {"kind": kind, "name": "web-1", "namespace": "ns"}}
    if ready is not None:
        endpoint["conditions"] = {"ready": ready}
    return SliceView.from_api({"metadata": {"name": "web-abc", "namespace": "ns", "labels": labels},
                               "addressType": "IPv4", "ports": ports, "endpoints": [endpoint]})


HTTP = [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_pods_needed_only_where_the_slices_leave_a_question_open() -> None:
    named = _svc(ports=[{"name": "http", "port": 80, "targetPort": "http"}])
    numbered = _svc(ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    assert not pods_needed(named, [_slice(HTTP)])  # a ready pod endpoint, the name resolved on a pod
    assert not pods_needed(numbered, [_slice(HTTP)])
    assert pods_needed(named, [])  # no endpoint: does any pod match?
    assert pods_needed(named, [_slice(HTTP, ready=False)])  # none ready: are the pods there but unready?
    assert pods_needed(named, [_slice(HTTP, ready=None)])  # the server did not say: not proof of a ready pod
    assert pods_needed(named, [_slice([])])  # the name resolved on no pod
    assert pods_needed(named, [_slice([{"name": "http", "port": 8080, "protocol": "UDP"}])])
    assert pods_needed(named, [_slice(HTTP, managed=False)])  # hand-made slices prove nothing about pods
    assert pods_needed(named, [_slice(HTTP, kind="Node")])
    assert pods_needed(_svc(ports=[{"port": 80}], publishNotReadyAddresses=True), [_slice([{"port": 80}])])
    assert not pods_needed(ServiceView.from_api({"metadata": {"name": "db", "namespace": "ns"},
                                                 "spec": {"ports": [{"port": 5432}]}}), [])  # no selector
