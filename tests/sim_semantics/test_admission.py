"""The simulated apiserver's write path for Services: defaulting, allocation, validation, storage, in kube's order.

Driven as the HTTP server drives it: `admit` then the store write, under the store's lock.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.sim import admission, allocators, errors
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

SVC = BY_KIND["Service"]
POD = BY_KIND["Pod"]


def create(store: Store, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    with store.lock:
        return store.create(SVC, admission.admit(store, SVC, obj, None, dry_run), dry_run=dry_run)


def update(store: Store, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    with store.lock:
        old = store.require(SVC, obj["metadata"]["namespace"], obj["metadata"]["name"])
        return store.update(SVC, admission.admit(store, SVC, obj, old, dry_run), dry_run=dry_run)


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "dev"}, "spec": base}


def fails(store: Store, obj: dict[str, Any], fn: Any = create) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as info:
        fn(store, obj)
    return info.value


@pytest.fixture
def store() -> Store:
    return Store()


def test_tutorial_nodeport_gets_the_apiservers_defaults(store: Store) -> None:
    out = create(store, svc("service-nodeport", selector={"app": "nginx-pod"}, type="NodePort",
                            ports=[{"port": 80, "targetPort": 80, "nodePort": 30002}]))
    spec = out["spec"]
    ip = spec.pop("clusterIP")
    assert spec == {
        "selector": {"app": "nginx-pod"}, "type": "NodePort",
        "ports": [{"port": 80, "targetPort": 80, "nodePort": 30002, "protocol": "TCP"}],
        "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"], "clusterIPs": [ip]}
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    assert out["status"] == {"loadBalancer": {}}
    # dynamic allocations stay out of the low band kept for static addresses such as 10.96.0.10
    assert int(ipaddress.ip_address(ip)) - int(ipaddress.ip_address("10.96.0.0")) > 256


def test_load_balancer_defaults(store: Store) -> None:
    spec = create(store, svc(type="LoadBalancer", externalTrafficPolicy="Local"))["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767
    assert 30000 <= spec["healthCheckNodePort"] <= 32767 and spec["healthCheckNodePort"] != spec["ports"][0]["nodePort"]


def test_load_balancer_without_node_ports(store: Store) -> None:
    spec = create(store, svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False))["spec"]
    assert "nodePort" not in spec["ports"][0]


def test_headless_gets_no_address(store: Store) -> None:
    spec = create(store, svc("service-headliness", clusterIP="None"))["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"], spec["ipFamilies"]) == ("None", ["None"], ["IPv4"])
    selectorless = create(store, svc("ext-db", clusterIP="None", selector=None, ports=[]))["spec"]
    assert (selectorless["ipFamilyPolicy"], selectorless["ipFamilies"]) == ("RequireDualStack", ["IPv4", "IPv6"])


def test_external_name_gets_no_address_nor_families(store: Store) -> None:
    spec = create(store, svc("db", type="ExternalName", externalName="db.example.com", selector=None, ports=[]))["spec"]
    assert "clusterIP" not in spec and "ipFamilies" not in spec and "internalTrafficPolicy" not in spec


def test_same_port_on_tcp_and_udp_shares_one_node_port(store: Store) -> None:
    spec = create(store, svc("dns", type="NodePort", ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                                                            {"name": "dns-tcp", "port": 53}]))["spec"]
    assert spec["ports"][0]["nodePort"] == spec["ports"][1]["nodePort"]


def test_requested_cluster_ip_taken_or_out_of_range(store: Store) -> None:
    create(store, svc("kube-dns", clusterIP="10.96.0.10"))
    err = fails(store, svc("other", clusterIP="10.96.0.10"))
    assert (err.code, err.message) == (422, 'Service "other" is invalid: spec.clusterIPs: Invalid value: '
                                             '[]string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP '
                                             'is already allocated')
    assert err.status()["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
        "message": 'Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already '
                   'allocated'}]
    err = fails(store, svc("other", clusterIP="10.0.0.5"))
    assert err.message == ('Service "other" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed '
                           'to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range '
                           'of valid IPs is 10.96.0.0/12')
    # the network address is not a host of the range
    assert "not in the valid range" in fails(store, svc("other", clusterIP="10.96.0.0")).message


def test_node_port_out_of_range_and_taken(store: Store) -> None:
    err = fails(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 3000}]))
    assert err.message == ('Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 3000: provided port is '
                           'not in the valid range. The range of valid ports is 30000-32767')
    create(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    err = fails(store, svc("web2", type="NodePort", ports=[{"name": "a", "port": 81},
                                                          {"name": "b", "port": 80, "nodePort": 30080}]))
    assert err.message == ('Service "web2" is invalid: spec.ports[1].nodePort: Invalid value: 30080: provided port '
                           'is already allocated')


def test_allocation_errors_come_before_validation_and_storage(store: Store) -> None:
    create(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    # an existing name with a taken nodePort: the allocator answers first (422), not storage (409)
    err = fails(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert err.code == 422 and "already allocated" in err.message
    # an invalid name and a taken port: only the allocation error, as kube's BeginCreate runs before validation
    err = fails(store, svc("Web", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert err.message == ('Service "Web" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is '
                           'already allocated')
    # an existing name, everything else valid: storage's 409
    err = fails(store, svc(type="NodePort"))
    assert (err.code, err.reason, err.message) == (409, "AlreadyExists", 'services "web" already exists')
    # an existing name and an invalid body: validation's 422
    assert fails(store, svc(type="Foo")).code == 422


def test_bad_json_types_are_a_bad_request(store: Store) -> None:
    err = fails(store, svc(ports=[{"port": "80"}]))
    assert (err.code, err.message) == (400, 'Service in version "v1" cannot be handled as a Service: json: cannot '
                                             'unmarshal string into Go struct field ServicePort.spec.ports.port of '
                                             'type int32')


def test_dry_run_fills_in_but_commits_nothing(store: Store) -> None:
    rv = store.resource_version
    out = create(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30002}]), dry_run=True)
    assert out["spec"]["clusterIP"] and out["spec"]["ports"][0]["nodePort"] == 30002
    assert store.resource_version == rv and store.get(SVC, "dev", "web") is None
    # nothing was held: the same request goes through for real, and so does another one for the same port
    create(store, svc("other", type="NodePort", ports=[{"port": 80, "nodePort": 30002}]))


def test_update_keeps_node_ports_the_client_left_out(store: Store) -> None:
    first = create(store, svc(type="NodePort", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}]))
    ports = {p["name"]: p["nodePort"] for p in first["spec"]["ports"]}
    again = svc(type="NodePort", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}],
                selector={"app": "web2"})
    out = update(store, again)
    assert {p["name"]: p["nodePort"] for p in out["spec"]["ports"]} == ports
    assert out["spec"]["clusterIP"] == first["spec"]["clusterIP"]


def test_cluster_ip_may_not_change(store: Store) -> None:
    first = create(store, svc())
    changed = copy.deepcopy(first)
    changed["spec"]["clusterIP"] = "10.96.5.5"
    err = fails(store, changed, update)
    assert err.message == ('Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.5.5"}: may '
                           'not change once set')


def test_stale_resource_version_is_a_conflict_before_validation(store: Store) -> None:
    first = create(store, svc())
    update(store, {**first, "spec": {**first["spec"], "selector": {"app": "x"}}})
    stale = copy.deepcopy(first)
    stale["spec"]["type"] = "Foo"
    err = fails(store, stale, update)
    assert (err.code, err.reason) == (409, "Conflict")


def test_type_changes_allocate_and_release(store: Store) -> None:
    first = create(store, svc())
    to_np = copy.deepcopy(first)
    to_np["spec"]["type"] = "NodePort"
    np = update(store, to_np)["spec"]["ports"][0]["nodePort"]
    assert 30000 <= np <= 32767
    back = copy.deepcopy(store.get(SVC, "dev", "web"))
    back["spec"]["type"] = "ClusterIP"
    out = update(store, back)
    assert "nodePort" not in out["spec"]["ports"][0] and "externalTrafficPolicy" not in out["spec"]
    create(store, svc("other", type="NodePort", ports=[{"port": 80, "nodePort": np}]))  # the port was freed
    to_ext = copy.deepcopy(store.get(SVC, "dev", "web"))
    to_ext["spec"].update(type="ExternalName", externalName="db.example.com")
    out = update(store, to_ext)
    assert "clusterIP" not in out["spec"] and "ipFamilies" not in out["spec"]
    create(store, svc("third", clusterIP=first["spec"]["clusterIP"]))  # and so was the address
    from_ext = copy.deepcopy(store.get(SVC, "dev", "web"))
    from_ext["spec"]["type"] = "ClusterIP"
    from_ext["spec"].pop("externalName")
    assert update(store, from_ext)["spec"]["clusterIP"] not in ("", None, first["spec"]["clusterIP"])


def test_delete_frees_address_and_port(store: Store) -> None:
    out = create(store, svc(type="NodePort", ports=[{"port": 80, "nodePort": 30500}], clusterIP="10.96.7.7"))
    with store.lock:
        admission.delete(store, SVC, "dev", "web", False)
    again = create(store, svc("new", type="NodePort", ports=[{"port": 80, "nodePort": 30500}], clusterIP="10.96.7.7"))
    assert again["spec"]["clusterIP"] == out["spec"]["clusterIP"]


def test_objects_loaded_straight_into_the_store_count(store: Store) -> None:
    alloc = allocators.for_store(store)
    store.create(SVC, {"metadata": {"name": "raw", "namespace": "dev"},
                       "spec": {"clusterIP": "10.96.3.3", "clusterIPs": ["10.96.3.3"], "type": "NodePort",
                                "ports": [{"port": 80, "nodePort": 31000}]}})
    assert alloc.node_port_in_use(31000)
    assert "already allocated" in fails(store, svc(clusterIP="10.96.3.3")).message


def test_generate_name(store: Store) -> None:
    obj = svc()
    obj["metadata"] = {"generateName": "web-", "namespace": "dev"}
    name = create(store, obj)["metadata"]["name"]
    assert name.startswith("web-") and len(name) == 9 and all(c in admission.NAME_ALPHABET for c in name[4:])


def test_pod_graceful_delete(store: Store) -> None:
    with store.lock:
        pod = admission.admit(store, POD, {"metadata": {"name": "p", "namespace": "dev"},
                                           "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]}},
                              None, False)
        store.create(POD, pod)
    admission.knobs(store).pod_grace_seconds = 30
    marked = admission.delete(store, POD, "dev", "p", False)
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30 and marked["metadata"]["deletionTimestamp"]
    assert store.get(POD, "dev", "p") is not None
    admission.delete(store, POD, "dev", "p", False, grace_period=0)
    assert store.get(POD, "dev", "p") is None


# -- properties -------------------------------------------------------------------------------------------------------

REQUEST = st.tuples(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
                    st.none() | st.integers(30000, 30040),
                    st.none() | st.integers(1, 40).map(lambda n: f"10.96.0.{n}"),
                    st.booleans())


@settings(max_examples=60, deadline=None)
@given(requests=st.lists(REQUEST, min_size=1, max_size=60))
def test_allocator_never_hands_out_a_duplicate(requests: list[tuple[str, int | None, str | None, bool]]) -> None:
    store = Store()
    for i, (stype, node_port, ip, delete_after) in enumerate(requests):
        spec: dict[str, Any] = {"type": stype, "ports": [{"port": 80}, ]}
        if node_port and stype != "ClusterIP":
            spec["ports"][0]["nodePort"] = node_port
        if ip:
            spec["clusterIP"] = ip
        try:
            create(store, svc(f"s{i}", **spec))
        except errors.ApiError as e:
            assert e.code == 422 and "already allocated" in e.message
            continue
        if delete_after and i % 3 == 0:
            admission.delete(store, SVC, "dev", f"s{i}", False)
    items = store.list(SVC)[0]
    ips = [s["spec"]["clusterIP"] for s in items]
    node_ports = [p["nodePort"] for s in items for p in s["spec"]["ports"] if "nodePort" in p]
    node_ports += [s["spec"]["healthCheckNodePort"] for s in items if "healthCheckNodePort" in s["spec"]]
    assert len(ips) == len(set(ips))
    assert len(node_ports) == len(set(node_ports))
