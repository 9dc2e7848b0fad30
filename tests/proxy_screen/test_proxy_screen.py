"""The kube-proxy screen against the demo cluster, driven by keys and dialogs as an admin would, with what it
claims checked through the kubernetes client: the ConfigMap, the pods and the mode each started with.

The demo's node1 is "this node" (preflight, leftovers); every node's kube-proxy answers /proxyMode and /configz on
loopback, so the screen reads the running mode the way it does on a real node.
"""

from __future__ import annotations

import asyncio

from kubernetes import client as k8s
from textual.widgets import DataTable

from tests.proxy_screen.flow import (
    SIZE,
    choose,
    configured,
    finish,
    kube_proxy_pods,
    open_proxy,
    press_button,
    running_pods,
    switch,
    to_confirm,
    to_preflight,
    wait_until,
)
from tui.screens.proxy import ProxyScreen
from tui.screens.proxy_dialogs import ConfirmDialog, PreflightDialog, SwitchDialog
from tui.sim.controllers.kubeproxy import KERNEL_MODULES_ANNOTATION, KERNEL_VERSION_ANNOTATION

NODES = ("node1", "node2", "node3")


def annotate_node(api: k8s.ApiClient, node: str, annotations: dict[str, str]) -> None:
    k8s.CoreV1Api(api).patch_node(node, {"metadata": {"annotations": annotations}})


def table_rows(screen: ProxyScreen) -> list[list[str]]:
    table = screen.query_one("#proxy-nodes", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def settled_status(pilot, screen: ProxyScreen, mode: str) -> None:
    """The status view caught up with the cluster: every node Ready and running `mode`."""
    await wait_until(pilot, lambda: screen.status is not None and screen.status.config.mode == mode and all(
        n.pod is not None and n.pod.ready and n.running_mode == mode for n in screen.status.nodes),
        f"{mode} everywhere")


async def test_status_view_shows_configured_running_and_pods(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        cfg = configured(api)
        assert screen.status.config.mode == cfg.mode == "ipvs"
        pods = {p.node_name: p for p in kube_proxy_pods(api) if not p.deleting}
        rows = table_rows(screen)
        assert [r[0] for r in rows] == list(NODES)
        for row in rows:
            pod = pods[row[0]]
            assert row[1:5] == [pod.name, "Running", str(pod.restarts), "ipvs/rr"]
            assert row[5] == ""  # configured and running agree
        config_text = str(screen.query_one("#proxy-config").render())
        assert "configured mode ipvs · scheduler rr · strictARP false" in config_text
        assert "this node  node1 (simulated) runs ipvs/rr" in config_text
        leftovers = str(screen.query_one("#proxy-leftovers").render())
        assert "nothing of another mode found on node1" in leftovers
        assert ("not checked: iptables chains, nftables tables (the simulated node has no iptables, nft or ipset)"
                in leftovers)
        assert screen.message.startswith("s: switch the mode, IPVS scheduler or strictARP")


async def test_switch_every_direction_through_the_screen(make_proxy_app, demo):
    """ipvs -> iptables (IPVS leftovers reported with kube-proxy's cleanup) -> ipvs -> nftables -> iptables."""
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        seen = {p.uid for p in kube_proxy_pods(api)}
        for target in ("iptables", "ipvs", "nftables", "iptables"):
            await switch(pilot, screen, mode=target)
            out = screen.flow.outcome
            assert out.ok, out.message
            assert screen.flow.outcome_line.startswith(f"Done: switched kube-proxy to mode {target}: kube-proxy runs "
                                                       f"{target} (3 node(s) confirmed by /proxyMode)")
            assert screen.flow.rollout is not None and screen.flow.rollout.done == screen.flow.rollout.total == 3
            assert configured(api).mode == target
            assert running_pods(api) == {n: (target, "rr" if target == "ipvs" else "") for n in NODES}
            uids = {p.uid for p in kube_proxy_pods(api) if not p.deleting}
            assert not uids & seen, "every kube-proxy pod was replaced"
            seen |= uids
            await pilot.press("escape")  # back to the status view, which reads the cluster again
            await settled_status(pilot, screen, target)
            assert [r[4] for r in table_rows(screen)] == [target if target != "ipvs" else "ipvs/rr"] * 3


async def test_leaving_ipvs_reports_its_leftovers_with_the_cleanup_command(make_proxy_app, demo):
    sim, _ = demo
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        await switch(pilot, screen, mode="iptables")
        report = screen.flow.leftovers
        assert report is not None and [lo.what for lo in report.leftovers] == ["IPVS virtual servers"]
        assert report.leftovers[0].cleanup == ("kube-proxy --cleanup --proxy-mode=ipvs", "ipvsadm --clear")
        assert "TCP 10.96.0.1:443 rr" in report.leftovers[0].items
        await pilot.press("escape")
        await settled_status(pilot, screen, "iptables")
        shown = str(screen.query_one("#proxy-leftovers").render())
        assert "IPVS virtual servers left by ipvs mode" in shown
        assert "kube-proxy --cleanup --proxy-mode=ipvs" in shown


async def test_scheduler_and_strict_arp_change(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        await switch(pilot, screen, scheduler="wrr", strict_arp=True)
        assert screen.flow.outcome.ok, screen.flow.outcome.message
        cfg = configured(api)
        assert (cfg.mode, cfg.scheduler, cfg.strict_arp) == ("ipvs", "wrr", True)
        assert running_pods(api) == {n: ("ipvs", "wrr") for n in NODES}
        await pilot.press("escape")
        await wait_until(pilot, lambda: [r[4] for r in table_rows(screen)] == ["ipvs/wrr"] * 3, "wrr everywhere")


async def test_failed_preflight_blocks_and_an_override_proceeds(make_proxy_app, demo):
    """node1 (this node) lacks ip_vs_sh: the preflight fails and offers only an override; overridden, the switch
    runs, node1's kube-proxy cannot start with sh, and the switch is rolled back."""
    sim, _ = demo
    api = sim.api_client()
    annotate_node(api, "node1", {KERNEL_MODULES_ANNOTATION: "ip_vs,ip_vs_rr,ip_set,nf_conntrack"})
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        before = configured(api)
        await choose(pilot, screen, scheduler="sh")
        dialog = await to_preflight(pilot)
        assert dialog.preflight.blocked
        assert [c.name for c in dialog.preflight.failed] == ["kernel module ip_vs_sh"]
        assert not dialog.query("#preflight-continue"), "a failed preflight offers no plain Continue"
        assert screen.message == "The preflight failed on 1 check(s): fix them, or override."
        await press_button(pilot, "#preflight-cancel")
        await wait_until(pilot, lambda: pilot.app.screen is screen, "back on the screen")
        assert screen.message == "Nothing was changed."
        assert configured(api) == before

        await choose(pilot, screen, scheduler="sh")
        await to_preflight(pilot)
        await to_confirm(pilot, "#preflight-override")
        await press_button(pilot, "#confirm-apply")
        await finish(pilot, screen)
        out = screen.flow.outcome
        assert not out.ok and out.rolled_back
        assert "kube-proxy on node1 is in CrashLoopBackOff" in out.message
        assert screen.flow.outcome_line.startswith("Rolled back: kube-proxy on node1 is in CrashLoopBackOff")
        assert screen.flow.title == "The switch failed and was rolled back"
        assert configured(api).scheduler == "rr"
        await wait_until(pilot, lambda: running_pods(api) == {n: ("ipvs", "rr") for n in NODES}, "rr again")


async def test_crashing_rollout_is_rolled_back_and_the_screen_says_so(make_proxy_app, demo):
    """node2's kernel is too old for nftables (the preflight runs on node1 and passes): node2 crash loops."""
    sim, _ = demo
    api = sim.api_client()
    annotate_node(api, "node2", {KERNEL_VERSION_ANNOTATION: "5.4.0"})
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        await switch(pilot, screen, mode="nftables")
        out = screen.flow.outcome
        assert not out.ok and out.rolled_back, out.message
        assert "kube-proxy on node2 is in CrashLoopBackOff" in out.message
        assert "rolled back to kube-proxy-backup-20240501-120000" in out.message
        steps = [s for s, _, _ in screen.flow.steps]
        assert "rollback" in steps and steps[-1] == "verify-rollback"
        assert screen.flow.steps[-1][2].ok
        assert configured(api).mode == "ipvs"
        await wait_until(pilot, lambda: running_pods(api) == {n: ("ipvs", "rr") for n in NODES}, "ipvs again")
        assert all(not p.crash_looping for p in kube_proxy_pods(api) if not p.deleting)


async def test_concurrent_edit_is_a_clear_conflict(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        theirs: list[str] = []

        async def someone_else_edits(confirm: ConfirmDialog) -> None:
            assert "+mode: iptables" in confirm.diff
            cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
            cm.data["config.conf"] = cm.data["config.conf"].replace("udpTimeout: 0s", "udpTimeout: 5s")
            theirs.append(cm.data["config.conf"])
            await asyncio.to_thread(core.replace_namespaced_config_map, "kube-proxy", "kube-system", cm)

        await switch(pilot, screen, mode="iptables", meanwhile=someone_else_edits)
        out = screen.flow.outcome
        assert out.conflict and not out.ok and not out.rolled_back
        assert screen.flow.outcome_line.startswith("Conflict: the kube-proxy ConfigMap was changed by someone else "
                                                   "since svcscope read it")
        assert "run the switch again to see their change in the diff" in screen.flow.outcome_line
        cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
        assert cm.data["config.conf"] == theirs[0]  # their edit is intact, ours was not written
        assert configured(api).mode == "ipvs"


async def test_declined_confirmation_changes_nothing(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        before = {p.uid for p in kube_proxy_pods(api)}
        await choose(pilot, screen, mode="nftables")
        await to_preflight(pilot)
        await to_confirm(pilot)
        await press_button(pilot, "#confirm-cancel")
        await finish(pilot, screen)
        assert screen.flow.outcome.declined
        assert screen.flow.outcome_line == "Cancelled: the switch was not confirmed; nothing was changed."
        assert configured(api).mode == "ipvs"
        assert {p.uid for p in kube_proxy_pods(api)} == before


async def test_rollback_on_demand(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await switch(pilot, screen, mode="iptables")
        assert screen.flow.outcome.ok
        await pilot.press("escape")
        await settled_status(pilot, screen, "iptables")
        await pilot.press("R")
        confirm = await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog) and pilot.app.screen,
                                   "the rollback's confirmation")
        assert confirm.title_text == "roll back kube-proxy to kube-proxy-backup-20240501-120000 (mode ipvs)"
        assert "+mode: ipvs" in confirm.diff
        await press_button(pilot, "#confirm-apply")
        await finish(pilot, screen)
        assert screen.flow.outcome.ok and screen.flow.outcome_line.startswith("Rolled back: kube-proxy runs ipvs again")
        assert configured(api).mode == "ipvs"
        await wait_until(pilot, lambda: running_pods(api) == {n: ("ipvs", "rr") for n in NODES}, "ipvs again")


async def test_read_only_blocks_with_the_reason(make_proxy_app, demo):
    sim, _ = demo
    api = sim.api_client()
    app = make_proxy_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        before = configured(api)
        await pilot.press("s")
        await pilot.pause(0.2)
        assert not isinstance(pilot.app.screen, SwitchDialog)
        assert screen.message == ("Switching kube-proxy's mode is blocked: svcscope was started with --read-only; "
                                  "nothing was changed.")
        await pilot.press("R")
        await pilot.pause(0.2)
        assert not isinstance(pilot.app.screen, (ConfirmDialog, PreflightDialog))
        assert screen.message == ("Rolling back kube-proxy's configuration is blocked: svcscope was started with "
                                  "--read-only; nothing was changed.")
        assert configured(api) == before


async def test_configured_and_running_differ_until_kube_proxy_restarts(make_proxy_app, demo):
    """An edit of the ConfigMap without a restart (kube-proxy does not reload it): the live status flags every node."""
    sim, _ = demo
    api = sim.api_client()
    core = k8s.CoreV1Api(api)
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        cm = core.read_namespaced_config_map("kube-proxy", "kube-system")
        cm.data["config.conf"] = cm.data["config.conf"].replace("mode: ipvs", "mode: nftables")
        await asyncio.to_thread(core.replace_namespaced_config_map, "kube-proxy", "kube-system", cm)
        # No ctrl+r: the ConfigMap watch brings the change.
        await wait_until(pilot, lambda: screen.status.config.mode == "nftables", "the edited ConfigMap")
        assert [(r[4], r[5]) for r in table_rows(screen)] == [("ipvs/rr", "differs")] * 3
        assert all(n.differs(screen.status.config) for n in screen.status.nodes)
        assert ("node1 (simulated) runs ipvs/rr  differs from configured nftables: restart kube-proxy"
                in str(screen.query_one("#proxy-config").render()))


async def test_missing_configmap_is_one_sentence(make_proxy_app, demo):
    sim, _ = demo
    k8s.CoreV1Api(sim.api_client()).delete_namespaced_config_map("kube-proxy", "kube-system")
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"proxy", "enter")
        screen = await wait_until(pilot, lambda: isinstance(pilot.app.screen, ProxyScreen) and pilot.app.screen,
                                  "the kube-proxy screen")
        shown = await wait_until(pilot, lambda: "ConfigMap" in str(screen.query_one("#proxy-config").render())
                                 and str(screen.query_one("#proxy-config").render()), "the error")
        assert shown == ("There is no ConfigMap kube-system/kube-proxy: svcscope changes kube-proxy's mode on "
                         "kubeadm-style clusters, where that ConfigMap holds config.conf.")
        await pilot.press("s")
        await pilot.pause(0.2)
        assert not isinstance(pilot.app.screen, SwitchDialog)
        assert screen.message.startswith("kube-proxy's configuration has not been read yet")


async def test_load_module_is_its_own_step_when_root(make_proxy_app, demo, tmp_path):
    """This node (a prepared tree, root) has ip_vs_wrr on disk but not loaded: the preflight offers to load it,
    modprobe runs, the preflight runs again and passes, and the scheduler switch goes through."""
    from tests.proxy.node_tree import add_tool, make_node
    from tui.kube.node_site import ProxySite

    sim, site = demo
    api = sim.api_client()
    root = tmp_path / "node1"
    loaded = ["ip_vs", "ip_vs_rr", "nf_conntrack", "ip_set", "ip_set_hash_ip", "ip_set_hash_ipport",
              "ip_set_hash_ipportip", "ip_set_hash_ipportnet", "ip_set_hash_net", "ip_set_bitmap_port"]
    env = make_node(root, loaded=loaded, files=["ip_vs_wrr"], tools={"ipset": "7.17"}, is_root=True)
    add_tool(root, "modprobe", "", script=f'echo "$2 1 0 - Live 0x0" >> {root}/proc/modules; exit 0')
    here = ProxySite(this_node="node1", node_env_of=lambda: env, locator=site.locator, leftovers=site.leftovers,
                     poll_interval=0.1)
    app = make_proxy_app(proxy_site=here)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await settled_status(pilot, screen, "ipvs")
        await choose(pilot, screen, scheduler="wrr")
        first = await to_preflight(pilot)
        check = next(c for c in first.preflight.checks if c.name == "kernel module ip_vs_wrr")
        assert check.status == "warn" and check.module == "ip_vs_wrr" and check.fix_command == "modprobe ip_vs_wrr"
        await press_button(pilot, "#preflight-load")
        second = await wait_until(pilot, lambda: isinstance(pilot.app.screen, PreflightDialog)
                                  and pilot.app.screen is not first and pilot.app.screen, "the preflight again")
        assert next(c for c in second.preflight.checks if c.name == "kernel module ip_vs_wrr").ok
        assert not second.query("#preflight-load")
        assert "ip_vs_wrr 1 0 - Live" in (root / "proc" / "modules").read_text()
        await to_confirm(pilot)
        await press_button(pilot, "#confirm-apply")
        await finish(pilot, screen)
        assert screen.flow.outcome.ok, screen.flow.outcome.message
        assert configured(api).scheduler == "wrr"


async def test_help_lists_the_screen_keys(make_proxy_app):
    from tui.screens.help import HelpScreen, KeyHelp, collect_keys

    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        keys = collect_keys(app, screen)
        assert KeyHelp("kube-proxy screen", "s", "switch mode") in keys
        assert KeyHelp("kube-proxy screen", "R", "roll back") in keys
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen")


async def test_rollback_without_a_backup_says_there_is_none(make_proxy_app, demo):
    sim, _ = demo
    app = make_proxy_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        await pilot.press("R")
        await finish(pilot, screen)
        assert not screen.flow.outcome.ok and not screen.flow.outcome.rolled_back
        assert screen.flow.outcome_line == ("Failed: there is no kube-proxy backup in kube-system (ConfigMaps labelled "
                                            "svcscope.io/backup-of=kube-proxy): nothing to roll back to.")
        assert configured(sim.api_client()).mode == "ipvs"
        await pilot.press("escape")  # the flow view closes; the status view is back
        assert not screen.has_class("-flow") and pilot.app.screen is screen
