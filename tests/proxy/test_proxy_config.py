"""config.conf: read the settings an admin cares about, change one with a minimal edit, refuse what is unsafe."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.proxy.kubeadm_config import KUBEADM_CONFIG_CONF, with_mode
from tui.kube.proxy_config import (
    MODES,
    SCHEDULERS,
    ConfigChange,
    ProxyConfigError,
    apply_change,
    parse,
    parse_configmap,
    unified_diff,
)


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs that differ, for same-length files."""
    a, b = old.splitlines(), new.splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_parse_kubeadm_file() -> None:
    cfg = parse(KUBEADM_CONFIG_CONF)
    assert cfg.mode_raw == "" and cfg.mode == "iptables"
    assert cfg.scheduler_raw == "" and cfg.scheduler == "rr"
    assert cfg.strict_arp is False
    assert (cfg.sync_period, cfg.min_sync_period) == ("30s", "0s")
    assert (cfg.tcp_timeout, cfg.tcp_fin_timeout, cfg.udp_timeout) == ("900s", "0s", "0s")
    assert cfg.exclude_cidrs == ("10.103.0.0/16",)
    assert cfg.metrics_bind_address == "127.0.0.1:10249"
    assert cfg.metrics_url == "http://127.0.0.1:10249"


@pytest.mark.parametrize("addr,url", [
    ("0.0.0.0:10249", "http://127.0.0.1:10249"),
    ("192.168.1.5:9999", "http://192.168.1.5:9999"),
    ('"[::]:10249"', "http://127.0.0.1:10249"),
    ('"[fd00::5]:10249"', "http://[fd00::5]:10249"),
])
def test_metrics_url_follows_metrics_bind_address(addr: str, url: str) -> None:
    text = KUBEADM_CONFIG_CONF.replace('metricsBindAddress: ""', f"metricsBindAddress: {addr}")
    assert parse(text).metrics_url == url


def test_mode_switch_changes_one_value_and_keeps_the_comment() -> None:
    new = apply_change(KUBEADM_CONFIG_CONF, ConfigChange(mode="ipvs"))
    assert changed_lines(KUBEADM_CONFIG_CONF, new) == [
        ('mode: "" # iptables until the IPVS rollout (CHG-1042)',
         "mode: ipvs # iptables until the IPVS rollout (CHG-1042)"),
    ]
    assert parse(new).mode == "ipvs"


def test_scheduler_and_strict_arp_change_in_place() -> None:
    new = apply_change(KUBEADM_CONFIG_CONF, ConfigChange(scheduler="wrr", strict_arp=True))
    assert changed_lines(KUBEADM_CONFIG_CONF, new) == [
        ('  scheduler: "" # empty means rr', "  scheduler: wrr # empty means rr"),
        ("  strictARP: false", "  strictARP: true"),
    ]
    cfg = parse(new)
    assert (cfg.scheduler, cfg.strict_arp, cfg.mode) == ("wrr", True, "iptables")


def test_quoting_habit_is_kept_for_non_empty_values() -> None:
    text = with_mode('"ipvs"')
    assert 'mode: "ipvs"' in text
    new = apply_change(text, ConfigChange(mode="nftables"))
    assert 'mode: "nftables" # iptables until' in new
    single = text.replace('mode: "ipvs"', "mode: 'ipvs'")
    assert "mode: 'iptables' # iptables until" in apply_change(single, ConfigChange(mode="iptables"))


def test_back_to_default_mode_writes_an_empty_string() -> None:
    text = with_mode("ipvs")
    new = apply_change(text, ConfigChange(mode=""))
    assert 'mode: "" # iptables until' in new
    assert parse(new).mode == "iptables"


def test_missing_keys_are_inserted_as_one_line_in_the_right_block() -> None:
    text = ("# mine\nkind: KubeProxyConfiguration\nipvs:\n    syncPeriod: 30s\n    # keep me\n    udpTimeout: 0s\n"
            "clusterCIDR: 10.244.0.0/16\n")
    new = apply_change(text, ConfigChange(mode="ipvs", scheduler="lc"))
    assert new == ("# mine\nkind: KubeProxyConfiguration\nipvs:\n    syncPeriod: 30s\n    # keep me\n"
                   "    udpTimeout: 0s\n"
                   "    scheduler: lc\nclusterCIDR: 10.244.0.0/16\nmode: ipvs\n")


def test_missing_ipvs_section_and_flow_mappings() -> None:
    text = "kind: KubeProxyConfiguration\nmode: ipvs\n"
    assert apply_change(text, ConfigChange(strict_arp=True)) == text + "ipvs:\n  strictARP: true\n"
    flow = "kind: KubeProxyConfiguration\nipvs: {syncPeriod: 30s}\n"
    assert apply_change(flow, ConfigChange(scheduler="sh")) == (
        "kind: KubeProxyConfiguration\nipvs: {syncPeriod: 30s, scheduler: sh}\n")
    empty = "kind: KubeProxyConfiguration\nipvs:\nmode: ipvs\n"
    assert apply_change(empty, ConfigChange(scheduler="mh", strict_arp=False)) == (
        "kind: KubeProxyConfiguration\nipvs: {scheduler: mh, strictARP: false}\nmode: ipvs\n")


def test_crlf_and_missing_final_newline_are_respected() -> None:
    text = "kind: KubeProxyConfiguration\r\nipvs:\r\n  syncPeriod: 1s\r\nmode: \"\""
    new = apply_change(text, ConfigChange(mode="nftables", scheduler="wrr"))
    assert new == "kind: KubeProxyConfiguration\r\nipvs:\r\n  syncPeriod: 1s\r\n  scheduler: wrr\r\nmode: nftables"


@pytest.mark.parametrize("text,message", [
    ("kind: KubeProxyConfiguration\nmode: [ipvs\n", "config.conf is not valid YAML at line 3"),
    ("kind: KubeletConfiguration\nmode: ipvs\n", "has kind 'KubeletConfiguration', not KubeProxyConfiguration"),
    ("- mode: ipvs\n", "is not a YAML mapping"),
    ("kind: KubeProxyConfiguration\n---\nkind: KubeProxyConfiguration\n", "holds 2 YAML documents"),
    ("kind: KubeProxyConfiguration\nipvs: [rr]\n", "ipvs should be a mapping"),
    ("kind: KubeProxyConfiguration\nipvs:\n  strictARP: maybe\n", "ipvs.strictARP should be true or false"),
])
def test_malformed_files_give_one_clear_sentence(text: str, message: str) -> None:
    with pytest.raises(ProxyConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        apply_change(text, ConfigChange(mode="ipvs"))


def test_unsafe_edits_are_refused() -> None:
    block = "kind: KubeProxyConfiguration\nmode: |\n  ipvs\n"
    with pytest.raises(ProxyConfigError, match="mode is a block scalar; edit it by hand"):
        apply_change(block, ConfigChange(mode="iptables"))
    with pytest.raises(ProxyConfigError, match="unknown kube-proxy mode 'userspace'"):
        apply_change(KUBEADM_CONFIG_CONF, ConfigChange(mode="userspace"))
    with pytest.raises(ProxyConfigError, match="unknown IPVS scheduler 'fastest'"):
        apply_change(KUBEADM_CONFIG_CONF, ConfigChange(scheduler="fastest"))


def test_configmap_without_config_conf_key() -> None:
    with pytest.raises(ProxyConfigError, match="has no config.conf key \\(it has kubeconfig.conf\\)"):
        parse_configmap({"data": {"kubeconfig.conf": "apiVersion: v1\n"}})
    text, cfg = parse_configmap({"data": {"config.conf": KUBEADM_CONFIG_CONF}})
    assert text == KUBEADM_CONFIG_CONF and cfg.mode == "iptables"


def test_unified_diff_shows_the_one_line() -> None:
    new = apply_change(KUBEADM_CONFIG_CONF, ConfigChange(mode="ipvs"))
    diff = unified_diff(KUBEADM_CONFIG_CONF, new)
    assert diff.startswith("--- a/config.conf\n+++ b/config.conf\n@@ ")
    minus = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert minus == ['-mode: "" # iptables until the IPVS rollout (CHG-1042)']
    assert plus == ["+mode: ipvs # iptables until the IPVS rollout (CHG-1042)"]
    assert unified_diff(KUBEADM_CONFIG_CONF, KUBEADM_CONFIG_CONF) == ""


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(("",) + MODES + (None,)), scheduler=st.sampled_from(("",) + SCHEDULERS + (None,)),
       strict=st.sampled_from((True, False, None)), start=st.sampled_from(("", "ipvs", "nftables", '"iptables"')))
def test_any_change_touches_only_its_own_lines(mode: str | None, scheduler: str | None, strict: bool | None,
                                              start: str) -> None:
    text = with_mode(start)
    new = apply_change(text, ConfigChange(mode=mode, scheduler=scheduler, strict_arp=strict))
    before, after = yaml.safe_load(text), yaml.safe_load(new)
    if mode is not None:
        before["mode"] = mode
    if scheduler is not None:
        before["ipvs"]["scheduler"] = scheduler
    if strict is not None:
        before["ipvs"]["strictARP"] = strict
    assert after == before
    touched = {a.split(":")[0].strip() for a, _ in changed_lines(text, new)}
    assert touched <= {"mode", "scheduler", "strictARP"}
    # Every comment survives.
    assert [ln.split("#", 1)[1] for ln in new.splitlines() if "#" in ln] == \
           [ln.split("#", 1)[1] for ln in text.splitlines() if "#" in ln]
