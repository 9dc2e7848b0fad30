"""The wizard's logic without a screen: typed text to a spec, errors to the field to fix, the live suggestions."""

from __future__ import annotations

from tui.kube.models import PodView, ServiceView
from tui.kube.service_form import (FormValues, PortValues, by_field, check, field_id, label_choices, matching,
                                   named_ports, pod_count_text, server_filled, taken_node_ports, to_spec)


def pod(name: str, labels: dict[str, str], ready: bool = True, ports: list[dict] | None = None) -> PodView:
    return PodView.from_api({
        "metadata": {"namespace": "dev", "name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "ports": ports or []}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    })


def test_typed_text_becomes_the_spec_and_hidden_fields_are_dropped():
    values = FormValues(name=" web ", namespace="dev", kind="NodePort", selector="app=web, tier=front",
                        ports=[PortValues("http", "TCP", "80", "http-alt", "30080")],
                        external_ips="192.0.2.1 192.0.2.2",
                        load_balancer_source_ranges="10.0.0.0/8", load_balancer_class="x/y", timeout="60",
                        labels="team=ops")
    spec, errors = to_spec(values)
    assert errors == {}
    assert spec.name == "web" and spec.selector == {"app": "web", "tier": "front"}
    assert spec.ports[0].port == 80 and spec.ports[0].target_port == "http-alt" and spec.ports[0].node_port == 30080
    assert spec.external_ips == ["192.0.2.1", "192.0.2.2"]
    assert spec.load_balancer_source_ranges == [] and spec.load_balancer_class == ""  # not a LoadBalancer
    assert spec.affinity_timeout is None  # affinity None: the timeout field is hidden and not sent
    m = spec.manifest()
    assert "loadBalancerClass" not in m["spec"] and "sessionAffinityConfig" not in m["spec"]


def test_a_selector_that_is_not_key_value_is_an_error_on_the_selector():
    spec, errors = check(FormValues(name="web", selector="app", ports=[PortValues(port="80")]))
    assert list(errors) == ["spec.selector"] and "is not KEY=VALUE" in errors["spec.selector"]


def test_errors_go_to_the_field_the_user_edits():
    assert field_id("spec.ports[1]") == "port-1-port"  # a duplicate (protocol, port)
    assert field_id("spec.ports[0].nodePort") == "port-0-node-port"
    assert field_id("spec.ports[2].targetPort") == "port-2-target"
    assert field_id("spec.clusterIPs[0]") == "cluster-ip"
    assert field_id("spec.LoadBalancerSourceRanges[1]") == "lb-ranges"
    assert field_id("spec.externalIPs[0]") == "external-ips"
    assert field_id("spec.sessionAffinityConfig.clientIP.timeoutSeconds") == "timeout"
    assert field_id("metadata.name") == "name"
    assert field_id("spec.somethingNew") == "form"
    assert by_field({"spec.clusterIPs[0]": "Invalid value: \"None\""}) == {
        "cluster-ip": ['spec.clusterIPs[0]: Invalid value: "None"']}


def test_labels_counts_and_named_ports_from_the_pods():
    pods = [pod("a", {"app": "api", "pod-template-hash": "abc"}, ports=[{"name": "http", "containerPort": 8080}]),
            pod("b", {"app": "api", "pod-template-hash": "abc"}, ready=False,
                ports=[{"name": "http", "containerPort": 8080},
                       {"name": "dns", "containerPort": 53, "protocol": "UDP"}]),
            pod("c", {"app": "db"})]
    assert label_choices(pods) == [("app", "api", 2), ("app", "db", 1), ("pod-template-hash", "abc", 2)]
    assert [p.name for p in matching(pods, {"app": "api"})] == ["a", "b"]
    assert matching(pods, {}) == []
    assert pod_count_text(pods, {"app": "api"}, "dev") == "matches 2 pods in dev, 1 ready"
    assert pod_count_text(None, {"app": "api"}, "dev").startswith("pods of dev not listed")
    assert named_ports(matching(pods, {"app": "api"})) == [("dns", 53, "UDP"), ("http", 8080, "TCP")]


def test_taken_node_ports_include_health_check_ports():
    svc = ServiceView.from_api({"metadata": {"namespace": "dev", "name": "lb"},
                                "spec": {"type": "LoadBalancer", "healthCheckNodePort": 31000,
                                         "ports": [{"port": 80, "nodePort": 30080}]}})
    assert taken_node_ports([svc]) == {30080: "dev/lb", 31000: "dev/lb"}


def test_server_filled_lists_what_the_server_added():
    sent = {"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}}
    got = {"spec": {"type": "NodePort", "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"],
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30123}]}}
    assert server_filled(sent, got) == ["spec.clusterIP: 10.96.0.7", "spec.clusterIPs: 10.96.0.7",
                                        "spec.ports[0].targetPort: 80", "spec.ports[0].nodePort: 30123"]
