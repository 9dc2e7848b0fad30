"""`--demo`'s "this node" for the kube-proxy screen: node1 of the simulated cluster, its files laid out for the
preflight, every node's emulated kube-proxy metrics address, and its emulated IPVS table for the leftovers report.
"""

from __future__ import annotations

from typing import Any

from tui.kube.leftovers import LeftoverEnv
from tui.kube.node_site import ProxySite
from tui.sim.kubeproxy import ensure_emulator
from tui.sim.kubeproxy_pods import ensure_kube_proxy

DEMO_NODE = "node1"
NO_TOOLS = "the simulated node has no iptables, nft or ipset"


def demo_proxy_site(sim: Any, node: str = DEMO_NODE, poll_interval: float = 0.2) -> ProxySite:
    """Adds the kube-proxy emulation to `sim` (once; before or after it starts) and describes `node` from it."""
    kp = ensure_kube_proxy(sim)
    emulator = ensure_emulator(sim, node)

    def leftovers() -> LeftoverEnv:
        table = sim.call(emulator.resync)  # on the sim's loop, as the emulator expects; read once per report
        return LeftoverEnv(ipvs=lambda: table, no_tools=NO_TOOLS)

    return ProxySite(this_node=node, node_env_of=lambda: kp.node_env(node), locator=kp.locator(), leftovers=leftovers,
                     poll_interval=poll_interval, simulated=True)
