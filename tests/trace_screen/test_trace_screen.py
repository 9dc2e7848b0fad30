"""The trace screen on the demo cluster, driven like a user at 80x24: a healthy Service traces all OK; faults made
live (a Deployment scaled to zero, kube-proxy lagging, a stale real server, a ready endpoint at weight 0) appear as
the finding that names them and disappear once fixed; headless and service-proxy-name Services raise no false
alarm; the cursor and what was folded survive the updates; and the Services pane's DIAGNOSIS says, Service by
Service, what `svcscope check -o json` says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kubernetes.client import AppsV1Api, CoreV1Api
from textual.widgets import Tree

from tests.panes.conftest import cells, until
from tests.trace_screen.conftest import NODE, codes, flat, open_trace, settled_main, trace_until
from tui.screens.main import MainScreen
from tui.screens.trace import TraceScreen
from tui.sim.kubeproxy import Knobs
from tui.sim.resources import BY_KIND

ROOT = Path(__file__).resolve().parents[2]
SIZE = (80, 24)


def pod_ips(demo, ns: str = "dev") -> set[str]:
    pods, _ = demo.sim.store.list(BY_KIND["Pod"], ns)
    return {p["status"]["podIP"] for p in pods if (p.get("status") or {}).get("podIP")}


async def test_healthy_service_traces_all_ok(tutorial, tmp_path):
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "service-nodeport")
        # DNS is asked in the background: wait for its answer to be part of the trace
        await trace_until(pilot, screen, lambda s: s.trace.dns_lines, "the DNS answers")
        assert codes(screen, "error", "warning") == [], flat(screen.lines)
        text = flat(screen.lines)
        assert text[0].startswith("✓ OK  Service dev/service-nodeport  NodePort")
        assert "✓ every check passes" in str(screen.query_one("#trace-status").render())
        vs = [line.strip() for line in text if "ClusterIP: TCP" in line or "NodePort on" in line]
        assert len(vs) == 2 and all(line.startswith("✓") for line in vs)
        assert any("NodePort on 192.168.10.11: TCP 192.168.10.11:30002" in line for line in vs)
        real = [line.strip() for line in text if "weight 1, endpoint ready" in line]
        assert len(real) == 6 and all("-> pod dev/pc-deployment-" in line for line in real)  # 3 x 2 vs
        assert any("CHECK service-nodeport.dev.svc.cluster.local. A: OK" in line for line in text)
        assert text[-1].strip() == "compared with: node node1, kube-proxy mode ipvs; IPVS from emulated"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_scaling_to_zero_and_back(tutorial, tmp_path):
    apps = AppsV1Api(tutorial.sim.api_client())
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "service-clusterip")
        assert codes(screen, "error", "warning") == []
        apps.patch_namespaced_deployment_scale("pc-deployment", "dev", {"spec": {"replicas": 0}})
        await trace_until(pilot, screen, lambda s: {"no-pods", "none-ready"} & set(codes(s, "error")),
                          "no pod (or none ready) after scaling to 0")
        await trace_until(pilot, screen, lambda s: "no-pods" in codes(s, "error"), "no pod left at all")
        assert any("✗ ERROR no-pods: selector app=nginx-pod matches no pod in namespace dev" in line
                   for line in flat(screen.lines))
        assert screen.lines.text.startswith("✗ ERROR")
        await pilot.press("escape")
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: cells(main.services, "diagnosis")[0] == "✗ no-pods", "DIAGNOSIS says it")
        assert main.services.row(("dev", "service-clusterip")).level == "error"
        apps.patch_namespaced_deployment_scale("pc-deployment", "dev", {"spec": {"replicas": 3}})
        await until(pilot, lambda: cells(main.services, "diagnosis") == ["OK", "OK", "OK"], "healthy again", 40)


async def test_emulator_faults_appear_and_disappear(tutorial, tmp_path):
    """kube-proxy behind (lag), a missed delete (keep_stale), a ready endpoint at weight 0 (#92019)."""
    sim, emulator = tutorial.sim, tutorial.emulator
    apps = AppsV1Api(sim.api_client())
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "service-clusterip")
        # weight 0 on a ready endpoint
        victim = sorted(pod_ips(tutorial))[0]
        sim.call(emulator.set_knobs, Knobs(zero_weight=frozenset({victim})))
        found = await trace_until(pilot, screen, lambda s: [f for f in s.trace.all_findings
                                                            if f.code == "ready-weight-0"], "weight 0 named")
        assert victim in found[0].subject and "92019" in found[0].cause
        assert any(f"✗ ERROR ready-weight-0" in line for line in flat(screen.lines))
        sim.call(emulator.set_knobs, Knobs())
        await trace_until(pilot, screen, lambda s: codes(s, "error", "warning") == [], "weight restored")
        # kube-proxy behind: a new endpoint is missing from IPVS until it catches up
        before = pod_ips(tutorial)
        sim.call(emulator.set_knobs, Knobs(lag=3600))
        apps.patch_namespaced_deployment_scale("pc-deployment", "dev", {"spec": {"replicas": 4}})
        found = await trace_until(pilot, screen, lambda s: [f for f in s.trace.all_findings
                                                            if f.code == "missing-real-server"], "lag named")
        new_ip = (pod_ips(tutorial) - before).pop()
        assert new_ip in found[0].subject and "kube-proxy is behind" in found[0].cause
        sim.call(emulator.set_knobs, Knobs())  # kube-proxy catches up
        await trace_until(pilot, screen, lambda s: codes(s, "error", "warning") == [], "lag over")
        # a missed delete leaves a stale real server
        sim.call(emulator.set_knobs, Knobs(keep_stale=True))
        pods, _ = sim.store.list(BY_KIND["Pod"], "dev")
        gone = pods[0]
        from tui.sim import admission  # a force delete: the endpoint goes without a terminating phase

        admission.delete(sim.store, BY_KIND["Pod"], "dev", gone["metadata"]["name"], dry_run=False, grace_period=0)
        ip = gone["status"]["podIP"]
        await trace_until(pilot, screen, lambda s: any(f.code == "stale-real-server" and ip in f.subject
                                                       for f in s.trace.all_findings), "stale real server named")
        sim.call(emulator.set_knobs, Knobs())  # kube-proxy restarted: a full sync removes it
        await trace_until(pilot, screen, lambda s: "stale-real-server" not in codes(s), "stale server gone")


async def test_headless_and_other_proxy_raise_no_false_alarm(tutorial, tmp_path):
    v1 = CoreV1Api(tutorial.sim.api_client())
    v1.create_namespaced_service("dev", {
        "metadata": {"name": "other-proxy", "labels": {"service.kubernetes.io/service-proxy-name": "cilium"}},
        "spec": {"selector": {"app": "nginx-pod"}, "ports": [{"port": 80, "targetPort": 80}]}})
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE) as pilot:
        main = await settled_main(pilot)
        await until(pilot, lambda: len(main.services.visible_keys()) == 4, "the extra Service")
        assert cells(main.services, "diagnosis") == ["OK"] * 4
        for name in ("service-headliness", "other-proxy"):
            screen = await open_trace(pilot, name)
            assert codes(screen, "error", "warning") == [] and codes(screen) == ["not-proxied"]
            assert any(line.strip().startswith("i INFO not-proxied") for line in flat(screen.lines))
            assert screen.lines.text.startswith("✓ OK")
            await pilot.press("escape")


async def test_cursor_and_folds_survive_updates(tutorial, tmp_path):
    sim, emulator = tutorial.sim, tutorial.emulator
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_trace(pilot, "service-clusterip")
        tree = screen.query_one(Tree)
        pods = next(n for n in tree.root.children if n.data == "pods")
        pods.collapse()
        vs = next(n for n in tree.root.children[0].children if str(n.data).startswith("port:")
                  ) if False else tree.root.children[0].children[0]
        await pilot.pause()
        tree.move_cursor(vs)
        await pilot.pause()
        held = tree.cursor_node.data
        shown = screen.updates
        victim = sorted(pod_ips(tutorial))[0]
        sim.call(emulator.set_knobs, Knobs(zero_weight=frozenset({victim})))  # a new line (the finding) appears
        await trace_until(pilot, screen, lambda s: "ready-weight-0" in codes(s) and s.updates > shown,
                          "the update")
        await pilot.pause()
        assert tree.cursor_node is not None and tree.cursor_node.data == held
        assert not next(n for n in tree.root.children if n.data == "pods").is_expanded


async def test_trace_command_and_unknown_name(tutorial, tmp_path):
    messages: list = []
    app = tutorial.app("dev")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settled_main(pilot)
        await pilot.press("colon", *"trace nope", "enter")
        await pilot.pause()
        said = [str(getattr(m, "notification", None) and m.notification.message) for m in messages]
        assert any("No Service named nope in namespace dev." in s for s in said)
        await pilot.press("colon", *"trace dev/service-clusterip", "enter")
        screen = await until(pilot, lambda: isinstance(app.screen, TraceScreen) and app.screen.trace is not None
                             and app.screen, "the trace from :trace")
        assert screen.key == ("dev", "service-clusterip")
        await pilot.press("escape")
        await pilot.press("t")  # t on the selected Service
        assert isinstance(app.screen, TraceScreen)


async def test_diagnosis_matches_check_json_on_the_broken_scenario(broken, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "tui", "check", "--demo", "--scenario", "broken", "-n", "broken",
                          "-o", "json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    assert report["node"] == NODE and report["ipvs"] == "emulated"
    expected = {}
    for svc in report["services"]:
        worst = svc["worst"] if svc["worst"] in ("error", "warning") else None
        hits = [f["code"] for f in svc["findings"] if f["level"] == worst]
        sym = {"error": "✗", "warning": "!"}.get(worst or "", "")
        expected[svc["name"]] = f"{sym} {hits[0]}" + (f" +{len(hits) - 1}" if len(hits) > 1 else "") if worst \
            else "OK"
    assert expected["no-pods"] == "✗ no-pods" and expected["pending-lb"] == "! lb-pending"  # what check says
    app = broken.app("broken")
    async with app.run_test(size=(160, 48)) as pilot:
        main = await settled_main(pilot)
        await until(pilot, lambda: "✗ none-ready" in cells(main.services, "diagnosis"), "the unready pods")
        got = {k[1]: main.services.row(k).cells[[c.key for c in main.services.SPEC].index("diagnosis")]
               for k in main.services.visible_keys()}
        assert got == expected
        # DIAGNOSIS sorts (errors first) and filters like the other columns
        main.services.set_sort("diagnosis")
        await pilot.pause()
        assert [c[:1] for c in cells(main.services, "diagnosis")] == ["✗", "✗", "✗", "!", "O"]
        main.services.apply_filter("lb-pending")
        await pilot.pause()
        assert [k[1] for k in main.services.visible_keys()] == ["pending-lb"]
