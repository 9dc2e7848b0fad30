"""ServiceSpec.validate: the wizard's invalid inputs each get the apiserver's own words on the field to fix, and
the same spec sent to the simulated apiserver is refused with those words."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tui.kube.service_spec import (CLUSTER_IP, EXTERNAL_NAME, HEADLESS, LOAD_BALANCER, NODE_PORT, PortSpec,
                                   ServiceSpec)

RANGE = "must be between 1 and 65535, inclusive"


def web(**kw) -> ServiceSpec:
    base = dict(name="web", kind=CLUSTER_IP, selector={"app": "web"}, ports=[PortSpec(80, 8080)])
    base.update(kw)
    return ServiceSpec(**base)


INVALID = [
    ("bad name", web(name="Web"), "metadata.name",
     'Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with '
     "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used "
     "for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
    ("name starting with a digit", web(name="1web"), "metadata.name", 'Invalid value: "1web": a DNS-1035 label'),
    ("port 0", web(ports=[PortSpec(0, 8080)]), "spec.ports[0].port", f"Invalid value: 0: {RANGE}"),
    ("port 70000", web(ports=[PortSpec(70000, 8080)]), "spec.ports[0].port", f"Invalid value: 70000: {RANGE}"),
    ("port not a number", web(ports=[PortSpec("http", 8080)]), "spec.ports[0].port", f'Invalid value: "http": {RANGE}'),
    ("targetPort 70000", web(ports=[PortSpec(80, 70000)]), "spec.ports[0].targetPort",
     f"Invalid value: 70000: {RANGE}"),
    ("duplicate ports", web(ports=[PortSpec(80, 80, "a"), PortSpec(80, 81, "b")]), "spec.ports[1]",
     'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
     'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'),
    ("unnamed port among several", web(ports=[PortSpec(80, 80, "http"), PortSpec(443, 443)]), "spec.ports[1].name",
     "Required value"),
    ("nodePort below the range", web(kind=NODE_PORT, ports=[PortSpec(80, 80, node_port=8080)]),
     "spec.ports[0].nodePort",
     "Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"),
    ("nodePort above the range", web(kind=NODE_PORT, ports=[PortSpec(80, 80, node_port=32768)]),
     "spec.ports[0].nodePort",
     "Invalid value: 32768: provided port is not in the valid range. The range of valid ports is 30000-32767"),
    ("ExternalName bad host", ServiceSpec(name="ex", kind=EXTERNAL_NAME, external_name="Bad_Host"), "spec.externalName",
     'Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters'),
    ("ExternalName without host", ServiceSpec(name="ex", kind=EXTERNAL_NAME), "spec.externalName", "Required value"),
    ("ClientIP timeout 0", web(session_affinity="ClientIP", affinity_timeout=0),
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
     "Invalid value: 0: must be greater than 0 and less than 86400"),
    ("ClientIP timeout 86401", web(session_affinity="ClientIP", affinity_timeout=86401),
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
     "Invalid value: 86401: must be greater than 0 and less than 86400"),
    ("NodePort with clusterIP None", web(kind=NODE_PORT, cluster_ip="None"), "spec.clusterIPs[0]",
     "Invalid value: \"None\": may not be set to 'None' for NodePort services"),
    ("LoadBalancer with clusterIP None", web(kind=LOAD_BALANCER, cluster_ip="None"), "spec.clusterIPs[0]",
     "Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"),
    ("no ports", web(ports=[]), "spec.ports", "Required value"),
    ("bad selector value", web(selector={"app": "web server"}), "spec.selector", 'Invalid value: "web server"'),
    ("bad source range", web(kind=LOAD_BALANCER, load_balancer_source_ranges=["10.0.0.0/33"]),
     "spec.LoadBalancerSourceRanges[0]", 'Invalid value: "10.0.0.0/33": must be a valid CIDR value'),
    ("loopback externalIP", web(external_ips=["127.0.0.1"]), "spec.externalIPs[0]",
     'Invalid value: "127.0.0.1": may not be in the loopback range'),
]


@pytest.mark.parametrize("what,spec,field,message", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_inputs_get_the_apiservers_words_on_their_field(what, spec, field, message):
    errors = spec.validate()
    assert field in errors, errors
    assert errors[field].startswith(message)
    assert not spec.is_valid()


def test_a_taken_node_port_is_caught_before_sending():
    spec = web(kind=NODE_PORT, ports=[PortSpec(80, 80, node_port=30002)])
    assert spec.validate() == {}
    assert spec.validate(taken_node_ports={30002}) == {
        "spec.ports[0].nodePort": "Invalid value: 30002: provided port is already allocated"}


def test_a_blank_target_port_is_not_blamed_for_a_bad_port():
    errors = web(ports=[PortSpec(0)]).validate()
    assert list(errors) == ["spec.ports[0].port"]


@pytest.mark.parametrize("kind", [CLUSTER_IP, HEADLESS, NODE_PORT, LOAD_BALANCER, EXTERNAL_NAME])
def test_every_kind_valid_with_its_fields(kind):
    spec = web(kind=kind, session_affinity="ClientIP", affinity_timeout=600, external_ips=["192.0.2.10"],
               load_balancer_source_ranges=["10.0.0.0/8"], load_balancer_class="example.com/lb",
               external_name="db.example.com", publish_not_ready_addresses=True, external_traffic_policy="Local",
               internal_traffic_policy="Local", labels={"tier": "web"}, annotations={"note": "made by svcscope"})
    assert spec.validate() == {}
    m = spec.manifest()["spec"]
    assert ("loadBalancerSourceRanges" in m) == (kind == LOAD_BALANCER) == ("loadBalancerClass" in m)
    assert ("externalName" in m) == (kind == EXTERNAL_NAME)
    assert m.get("clusterIP") == ("None" if kind == HEADLESS else None)
    assert ("sessionAffinity" in m) == (kind != EXTERNAL_NAME)


# A port typed as text never reaches validation on the server: decoding the JSON refuses it first (400).
SENDABLE = [c for c in INVALID if c[0] != "port not a number"]


@pytest.mark.parametrize("what,spec,field,message", SENDABLE, ids=[c[0] for c in SENDABLE])
def test_the_simulated_apiserver_says_the_same(sim, what, spec, field, message):
    api = sim.api_client()
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "default"}})
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api).create_namespaced_service("default", spec.manifest())
    body = json.loads(caught.value.body)
    assert caught.value.status == 422
    causes = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert causes.get(field, "").startswith(message), causes
    api.close()
