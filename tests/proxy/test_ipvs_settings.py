"""The kube-proxy screen's ipvs line: unset durations (absent, empty, or zero as kubeadm writes them) read as what
kube-proxy uses then, "default" (syncPeriod 30s; a zero timeout leaves the kernel's), not "0s"."""

from __future__ import annotations

import pytest

from tui.kube.proxy_config import duration_unset, parse

KUBEADM = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
mode: ipvs
"""


@pytest.mark.parametrize("text", ["", "0", "0s", "0m0s", "0h0m0s", "0.0s", " 0s "])
def test_zero_and_empty_durations_are_unset(text):
    assert duration_unset(text)


@pytest.mark.parametrize("text", ["30s", "1m0s", "0.5s", "100ms", "1h", "10"])
def test_any_other_duration_is_set(text):
    assert not duration_unset(text)


def test_kubeadm_zeroes_read_as_kube_proxys_defaults():
    assert parse(KUBEADM).ipvs_settings == "sync default 30s (min default) · timeouts default (the kernel's)"


def test_absent_ipvs_section_is_the_same_as_zeroes():
    assert parse("kind: KubeProxyConfiguration\n").ipvs_settings == parse(KUBEADM).ipvs_settings


def test_set_values_show_as_written_and_the_rest_default():
    text = KUBEADM.replace("syncPeriod: 0s", "syncPeriod: 1m0s").replace("minSyncPeriod: 0s", "minSyncPeriod: 5s")
    text = text.replace("tcpTimeout: 0s", "tcpTimeout: 900s")
    assert parse(text).ipvs_settings == "sync 1m0s (min 5s) · timeouts tcp 900s tcpFin default udp default"
