"""Fixtures for the kube-proxy tests: the sim's kube-proxy emulation, started with the `sim` cluster."""

from __future__ import annotations

import pytest

from tui.sim.cluster import SimCluster
from tui.sim.kubeproxy_pods import KubeProxyPods, ensure_kube_proxy


@pytest.fixture
def kp(sim: SimCluster) -> KubeProxyPods:
    sim.controllers.CRASH_TICK_SECONDS = 0.3  # crash-looping kube-proxies restart quickly (the kubelet's back-off)
    return ensure_kube_proxy(sim)
