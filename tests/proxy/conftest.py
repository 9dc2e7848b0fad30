"""Fixtures for the kube-proxy tests: the sim's kube-proxy emulation, started with the `sim` cluster."""

from __future__ import annotations

import pytest

from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import KubeProxyPods, ensure_kube_proxy


@pytest.fixture
def kp(sim: SimCluster) -> KubeProxyPods:
    return ensure_kube_proxy(sim, crash_interval=0.2)
