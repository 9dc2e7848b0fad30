"""Where svcscope runs, as the kube-proxy flow sees it: which node is "this node", where its facts are read, how
each node's kube-proxy is asked for its running mode, and where leftovers of an old mode are looked for.

On a real node every field keeps its default (this host's name, /proc and /sys, kube-proxy's metricsBindAddress,
the node's own tools); `--demo` fills them from the simulated cluster (tui.sim.demo_site), so the kube-proxy screen
and `svcscope proxy-mode` run the same code either way. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from tui.kube.leftovers import LeftoverEnv
from tui.kube.preflight import NodeEnv
from tui.kube.proxy_switch import MetricsLocator


@dataclass(frozen=True)
class ProxySite:
    this_node: str | None = None  # None: this host's name
    # Read at each use (a node's modules change when an admin loads one); None: this machine's /proc, /sys, ...
    node_env_of: Callable[[], NodeEnv] | None = None
    locator: MetricsLocator | None = None  # None: from metricsBindAddress (tui.kube.proxy_switch.default_locator)
    leftovers: Callable[[], LeftoverEnv] | None = None  # None: this node's tools and /proc/net/ip_vs
    poll_interval: float = 1.0  # how often a rollout is polled
    simulated: bool = False  # the node is the demo's emulation: the screen says so

    def node_env(self) -> NodeEnv:
        return self.node_env_of() if self.node_env_of is not None else NodeEnv()

    def leftover_env(self) -> LeftoverEnv:
        return self.leftovers() if self.leftovers is not None else LeftoverEnv()
