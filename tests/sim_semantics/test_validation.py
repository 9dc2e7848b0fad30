"""Every Service validation rule with the apiserver's exact field path and words (kubernetes v1.32).

Each case is a manifest a user could send and the full list of errors the apiserver prints for it, after the
apiserver's defaulting (`default_service`), as `kubectl create -f` shows them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.kube import validation as v

DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
           "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
           "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
DNS1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
                 "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
               "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
               "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
PORT_RANGE = "must be between 1 and 65535, inclusive"
IP_HINT = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "dev"}, "spec": base}


def errors_of(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(e) for e in v.validate_service(v.default_service(obj, old), old)]


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid clusterip", svc(), []),
    ("tutorial nodeport", svc("service-nodeport", type="NodePort", ports=[{"port": 80, "targetPort": 80,
                                                                           "nodePort": 30002}]), []),
    ("name uppercase", svc("Web"), [f'metadata.name: Invalid value: "Web": {DNS1035}']),
    ("name starts with digit", svc("1web"), [f'metadata.name: Invalid value: "1web": {DNS1035}']),
    ("name with dot", svc("web.v1"), [f'metadata.name: Invalid value: "web.v1": {DNS1035}']),
    ("name too long", svc("a" * 64),
     [f'metadata.name: Invalid value: "{"a" * 64}": must be no more than 63 characters']),
    ("name missing", svc(""), ["metadata.name: Required value: name or generateName is required"]),
    ("type unsupported", svc(type="Foo"),
     ['spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
      '"NodePort"']),
    ("affinity unsupported", svc(sessionAffinity="Sticky"),
     ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']),
    ("ports required", svc(ports=[]), ["spec.ports: Required value"]),
    ("ports not required when headless", svc(clusterIP="None", ports=[]), []),
    ("ports not required for ExternalName", svc(type="ExternalName", externalName="db.example.com", ports=[]), []),
    ("names required with two ports", svc(ports=[{"port": 80}, {"port": 443}]),
     ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
    ("port name not a DNS label", svc(ports=[{"name": "HTTP", "port": 80}]),
     [f'spec.ports[0].name: Invalid value: "HTTP": {DNS1123_LABEL}']),
    ("port names unique", svc(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]),
     ['spec.ports[1].name: Duplicate value: "http"']),
    ("port zero", svc(ports=[{"port": 0}]),
     [f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}", f"spec.ports[0].targetPort: Invalid value: 0: {PORT_RANGE}"]),
    ("port too big", svc(ports=[{"port": 70000, "targetPort": 80}]),
     [f"spec.ports[0].port: Invalid value: 70000: {PORT_RANGE}"]),
    ("protocol unsupported", svc(ports=[{"port": 80, "protocol": "ICMP"}]),
     ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']),
    ("targetPort too big", svc(ports=[{"port": 80, "targetPort": 70000}]),
     [f"spec.ports[0].targetPort: Invalid value: 70000: {PORT_RANGE}"]),
    ("targetPort name charset", svc(ports=[{"port": 80, "targetPort": "http_alt"}]),
     ['spec.ports[0].targetPort: Invalid value: "http_alt": must contain only alpha-numeric characters (a-z, 0-9), '
      'and hyphens (-)']),
    ("targetPort name without letter", svc(ports=[{"port": 80, "targetPort": "8080"}]),
     ['spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)']),
    ("targetPort name consecutive hyphens", svc(ports=[{"port": 80, "targetPort": "web--alt"}]),
     ['spec.ports[0].targetPort: Invalid value: "web--alt": must not contain consecutive hyphens']),
    ("targetPort name edge hyphen", svc(ports=[{"port": 80, "targetPort": "-web"}]),
     ['spec.ports[0].targetPort: Invalid value: "-web": must not begin or end with a hyphen']),
    ("targetPort name too long", svc(ports=[{"port": 80, "targetPort": "abcdefghijklmnop"}]),
     ['spec.ports[0].targetPort: Invalid value: "abcdefghijklmnop": must be no more than 15 characters']),
    ("targetPort named ok", svc(ports=[{"port": 80, "targetPort": "http-web"}]), []),
    ("duplicate protocol and port", svc(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
     ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
      'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
    ("same port on two protocols", svc(ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                                              {"name": "dns-tcp", "port": 53}]), []),
    ("duplicate nodePort", svc(type="NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30080},
                                                        {"name": "b", "port": 81, "nodePort": 30080}]),
     ["spec.ports[1].nodePort: Duplicate value: 30080"]),
    ("same nodePort on two protocols", svc(type="NodePort", ports=[
        {"name": "a", "port": 53, "protocol": "UDP", "nodePort": 30053},
        {"name": "b", "port": 53, "nodePort": 30053}]), []),
    ("headless NodePort", svc(type="NodePort", clusterIP="None"),
     ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]),
    ("headless LoadBalancer", svc(type="LoadBalancer", clusterIP="None"),
     ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for LoadBalancer services"]),
    ("ExternalName required", svc(type="ExternalName", ports=[]), ["spec.externalName: Required value"]),
    ("ExternalName bad host", svc(type="ExternalName", externalName="Bad_Host", ports=[]),
     [f'spec.externalName: Invalid value: "Bad_Host": {DNS1123_SUBDOMAIN}']),
    ("ExternalName one trailing dot", svc(type="ExternalName", externalName="db.example.com.", ports=[]), []),
    ("ExternalName two trailing dots", svc(type="ExternalName", externalName="db.example.com..", ports=[]),
     [f'spec.externalName: Invalid value: "db.example.com.": {DNS1123_SUBDOMAIN}']),
    ("ExternalName with clusterIP", svc(type="ExternalName", externalName="db.example.com", clusterIP="10.96.0.50"),
     ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]),
    ("ExternalName with families", svc(type="ExternalName", externalName="db.example.com", ipFamilies=["IPv4"],
                                       ipFamilyPolicy="SingleStack"),
     ["spec.ipFamilies: Forbidden: may not be set for ExternalName services",
      "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services"]),
    ("nodePort on ClusterIP", svc(ports=[{"port": 80, "nodePort": 30080}]),
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ("ClientIP timeout zero", svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}),
     ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than "
      "86400"]),
    ("ClientIP timeout too long", svc(sessionAffinity="ClientIP",
                                      sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86401}}),
     ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less "
      "than 86400"]),
    ("ClientIP timeout bounds", svc(sessionAffinity="ClientIP",
                                    sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86400}}), []),
    ("externalIP not an IP", svc(externalIPs=["1.2.3"]), [f'spec.externalIPs[0]: Invalid value: "1.2.3": {IP_HINT}']),
    ("externalIP loopback", svc(externalIPs=["127.0.0.1"]),
     ['spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)']),
    ("externalIP unspecified", svc(externalIPs=["0.0.0.0"]),
     ['spec.externalIPs[0]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)']),
    ("externalIP link-local", svc(externalIPs=["169.254.1.1"]),
     ['spec.externalIPs[0]: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, '
      'fe80::/10)']),
    ("externalIP link-local multicast", svc(externalIPs=["224.0.0.5"]),
     ['spec.externalIPs[0]: Invalid value: "224.0.0.5": may not be in the link-local multicast range '
      '(224.0.0.0/24, ff02::/10)']),
    ("externalIP ok", svc(externalIPs=["192.168.10.100", "2001:db8::1"]), []),
    ("source range not a CIDR", svc(type="LoadBalancer", loadBalancerSourceRanges=["10.0.0.0/33"]),
     ['spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. '
      '10.9.8.0/24 or 2001:db8::/64)']),
    ("source range space padded", svc(type="LoadBalancer", loadBalancerSourceRanges=[" 10.0.0.0/8 "]), []),
    ("source range on ClusterIP", svc(loadBalancerSourceRanges=["10.0.0.0/8"]),
     ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
    ("external policy unsupported", svc(type="NodePort", externalTrafficPolicy="Global"),
     ['spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"']),
    ("external policy on ClusterIP", svc(externalTrafficPolicy="Local"),
     ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']),
    ("internal policy unsupported", svc(internalTrafficPolicy="Node"),
     ['spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"']),
    ("selector value", svc(selector={"app": "web server"}), [f'spec.selector: Invalid value: "web server": {LABEL_VALUE}']),
    ("allocateLoadBalancerNodePorts on NodePort", svc(type="NodePort", allocateLoadBalancerNodePorts=False),
     ["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
    ("loadBalancerClass on ClusterIP", svc(loadBalancerClass="example.com/lb"),
     ["spec.loadBalancerClass: Forbidden: may only be used when service type is 'LoadBalancer'"]),
    ("healthCheckNodePort without Local", svc(type="NodePort", healthCheckNodePort=30100),
     ["spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is 'LoadBalancer' and "
      "`externalTrafficPolicy` is 'Local'"]),
    ("clusterIPs first must match", svc(clusterIP="10.96.0.5", clusterIPs=["10.96.0.6"]),
     ['spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`']),
    ("clusterIPs without clusterIP", svc(clusterIPs=["10.96.0.6"]),
     ['spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: must be empty when `clusterIP` is not specified']),
    ("clusterIP not an IP", svc(clusterIP="10.96.0.300"),
     [f'spec.clusterIPs[0]: Invalid value: "10.96.0.300": {IP_HINT}']),
    ("ipFamilies unsupported", svc(ipFamilies=["IPv5"]),
     ['spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"']),
    ("ipFamilyPolicy unsupported", svc(ipFamilyPolicy="DualStack"),
     ['spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: "PreferDualStack", '
      '"RequireDualStack", "SingleStack"']),
    ("trafficDistribution unsupported", svc(trafficDistribution="Nearest"),
     ['spec.trafficDistribution: Unsupported value: "Nearest": supported values: "PreferClose"']),
    ("appProtocol", svc(ports=[{"port": 80, "appProtocol": "-http"}]),
     ["spec.ports[0].appProtocol: Invalid value: \"-http\": name part must consist of alphanumeric characters, '-', "
      "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ("label key prefix", {**svc(), "metadata": {"name": "web", "namespace": "dev", "labels": {"Bad_/x": "y"}}},
     [f'metadata.labels: Invalid value: "Bad_/x": prefix part {DNS1123_SUBDOMAIN}']),
]


@pytest.mark.parametrize("obj,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_service_rule(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(obj) == expected


def test_affinity_config_forbidden_without_client_ip() -> None:
    # The apiserver's defaulting clears the config when affinity is None, so only a caller that validates an
    # undefaulted object (the wizard) can hit this rule.
    obj = v.default_service(svc())
    obj["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 60}}
    assert [str(e) for e in v.validate_service(obj)] == [
        "spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"]
    assert "sessionAffinityConfig" not in v.default_service(obj)["spec"]


def test_client_ip_timeout_defaults_to_three_hours() -> None:
    spec = v.default_service(svc(sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_cluster_ip_is_immutable_on_update() -> None:
    old = v.default_service(svc(clusterIP="10.96.0.5"))
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.6"  # an old client changes only the singular field
    assert errors_of(new, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set']


def test_update_that_omits_cluster_ip_keeps_it() -> None:
    old = v.default_service(svc(clusterIP="10.96.0.5"))
    new = svc()
    assert v.default_service(new, old)["spec"]["clusterIPs"] == ["10.96.0.5"]
    assert errors_of(new, old) == []


def test_cause_reasons() -> None:
    obj = v.default_service(svc(type="Foo", ports=[{"name": "a", "port": 80}, {"name": "a", "port": 81}]))
    obj["spec"]["sessionAffinity"] = ""
    reasons = {e.field: e.reason for e in v.validate_service(obj)}
    assert reasons == {"spec.type": "FieldValueNotSupported", "spec.ports[1].name": "FieldValueDuplicate",
                       "spec.sessionAffinity": "FieldValueRequired"}


def test_one_error_inline_several_in_brackets() -> None:
    one = v.validate_service(v.default_service(svc(ports=[{"port": 70000, "targetPort": 80}])))
    assert v.error_message("Service", "web", one) == (
        f'Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: {PORT_RANGE}')
    two = v.validate_service(v.default_service(svc("Web", type="Foo")))
    assert v.error_message("Service", "Web", two) == (
        f'Service "Web" is invalid: [metadata.name: Invalid value: "Web": {DNS1035}, spec.type: Unsupported value: '
        '"Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]')


def test_repeated_error_printed_once_but_kept_as_cause() -> None:
    errs = [v.required("spec.ports"), v.required("spec.ports")]
    err = v.to_api_error("Service", "web", errs)
    assert err.message == 'Service "web" is invalid: spec.ports: Required value'
    assert len(err.status()["details"]["causes"]) == 2


@pytest.mark.parametrize("kind,name,expected", [
    ("Service", "web-1", []),
    ("Service", "web_1", [f'metadata.name: Invalid value: "web_1": {DNS1035}']),
    ("Namespace", "Dev", [f'metadata.name: Invalid value: "Dev": {DNS1123_LABEL}']),
    ("ConfigMap", "kube-proxy.v1", []),
    ("ConfigMap", "a_b", [f'metadata.name: Invalid value: "a_b": {DNS1123_SUBDOMAIN}']),
    ("Pod", "", ["metadata.name: Required value: name or generateName is required"]),
])
def test_validate_name(kind: str, name: str, expected: list[str]) -> None:
    assert [str(e) for e in v.validate_name(kind, name)] == expected


def test_field_helpers_for_the_wizard() -> None:
    assert [str(e) for e in v.validate_port_number(0, "port")] == [f"port: Invalid value: 0: {PORT_RANGE}"]
    assert v.validate_target_port("http", "t") == []
    assert [e.message for e in v.validate_target_port("HTTP", "t")] == [
        'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'Invalid value: "HTTP": must contain at least one letter (a-z)']
    assert v.validate_external_name("example.com.") == []
    assert [str(e) for e in v.validate_external_name("")] == ["spec.externalName: Required value"]
    assert [e.message for e in v.validate_affinity_timeout(0)] == [
        "Invalid value: 0: must be greater than 0 and less than 86400"]
    assert v.validate_affinity_timeout(1) == []


def test_node_port_check_for_the_wizard() -> None:
    assert v.check_node_port(30002, "spec.ports[0].nodePort", taken={30080}) == []
    assert [str(e) for e in v.check_node_port(30080, "spec.ports[0].nodePort", taken={30080})] == [
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"]
    assert [str(e) for e in v.check_node_port(80, "spec.ports[0].nodePort")] == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid "
        "ports is 30000-32767"]


def test_go_quoting_of_odd_values() -> None:
    assert v.go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert str(v.go_strings(None)) == "[]string(nil)"
    assert str(v.go_strings([])) == "[]string{}"


# -- properties ---------------------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-100000, 100000) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
SPEC_KEYS = st.sampled_from(["type", "clusterIP", "clusterIPs", "ports", "selector", "sessionAffinity",
                             "sessionAffinityConfig", "externalIPs", "externalName", "loadBalancerSourceRanges",
                             "externalTrafficPolicy", "internalTrafficPolicy", "healthCheckNodePort", "ipFamilies",
                             "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass"])
PORT = st.dictionaries(st.sampled_from(["name", "port", "targetPort", "nodePort", "protocol", "appProtocol"]),
                       JSONISH, max_size=6)


@settings(max_examples=200, deadline=None)
@given(spec=st.dictionaries(SPEC_KEYS, JSONISH | st.lists(PORT, max_size=3), max_size=8),
       meta=st.dictionaries(st.sampled_from(["name", "namespace", "labels", "annotations", "generateName"]), JSONISH,
                            max_size=4))
def test_validation_never_raises_on_arbitrary_objects(spec: dict[str, Any], meta: dict[str, Any]) -> None:
    obj = {"metadata": meta, "spec": spec}
    v.decode_errors(obj)
    errs = v.validate_service(v.default_service(obj))
    errs_old = v.validate_service(v.default_service(obj, obj), obj)
    for e in errs + errs_old:
        assert isinstance(e, v.FieldError) and e.field is not None and e.message


NAMES = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(name=NAMES, ports=st.lists(st.integers(1, 65535), min_size=1, max_size=4, unique=True),
       stype=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
def test_well_formed_services_are_valid(name: str, ports: list[int], stype: str) -> None:
    obj = svc(name, type=stype, ports=[{"name": f"p{i}", "port": p} for i, p in enumerate(ports)])
    assert errors_of(obj) == []
