"""`:ctx` with the kube-proxy screen open: it reads and watches the new context's kube-proxy (its caches of the old
context's pods and ConfigMaps would otherwise go on showing the other cluster); `:ns` changes nothing there."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client as k8s

from tests.proxy_screen.conftest import FIXED_NOW
from tests.proxy_screen.flow import SIZE, open_proxy, wait_until
from tui.kube.proxy_config import CONFIG_KEY, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE
from tui.screens.proxy import ProxyScreen
from tui.sim.cluster import SimCluster


def two_contexts(path: Path, first: SimCluster, second: SimCluster) -> Path:
    """The demo's context and `other` (a second cluster), as an admin's kubeconfig holds several."""
    cfg = first.kubeconfig_dict("svcscope-demo", "dev")
    more = second.kubeconfig_dict("other", "dev")
    more["clusters"][0]["name"] = more["contexts"][0]["context"]["cluster"] = "other-cluster"
    cfg["clusters"] += more["clusters"]
    cfg["contexts"] += more["contexts"]
    path.write_text(yaml.safe_dump(cfg))
    return path


def edit_config(sim: SimCluster, old: str, new: str) -> None:
    v1 = k8s.CoreV1Api(sim.api_client())
    cm = v1.read_namespaced_config_map(CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
    text = cm.data[CONFIG_KEY]
    assert old in text, text
    v1.patch_namespaced_config_map(CONFIGMAP_NAME, CONFIGMAP_NAMESPACE,
                                   {"data": {CONFIG_KEY: text.replace(old, new, 1)}})


async def command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")


async def test_ctx_while_open_reads_and_watches_the_new_context(demo, start_sim, demo_app, tmp_path):
    sim, site = demo
    other = start_sim("tutorial")
    edit_config(other, "mode: ipvs", "mode: iptables")
    app = demo_app(sim, clock=lambda: FIXED_NOW, proxy_site=site,
                   kubeconfig=two_contexts(tmp_path / "two-contexts", sim, other))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_proxy(pilot)
        assert screen.status.config.mode == "ipvs"
        await command(pilot, "ns kube-system")  # kube-proxy lives in kube-system whatever is shown: no change
        await wait_until(pilot, lambda: app.scope.namespace == "kube-system", "the namespace")
        await pilot.pause()
        assert app.screen is screen and not screen.message.startswith("Now showing")
        await command(pilot, "ctx other")
        await wait_until(pilot, lambda: app.scope.context == "other", "the context switch")
        await wait_until(pilot, lambda: screen.status.config.mode == "iptables", "the other cluster's kube-proxy")
        assert app.screen is screen
        assert screen.message == "Now showing kube-proxy on context other."
        # live on the new context: an edit there shows without ctrl+r
        edit_config(other, 'scheduler: ""', "scheduler: wrr")
        await wait_until(pilot, lambda: screen.status.config.scheduler == "wrr", "the other cluster's edit")
        assert isinstance(app.screen, ProxyScreen)
