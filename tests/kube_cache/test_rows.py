"""Rows and kubectl's formats: cells from the shared models, tabwriter layout, AGE, why a Service is empty."""

from datetime import datetime, timedelta, timezone

import pytest

from tui.kube.models import PodView, ServiceView, SliceView, human_age
from tui.kube.rows import (KUBECTL_SERVICE_COLUMNS, KUBECTL_SLICE_COLUMNS, SERVICE_COLUMNS, Health, columns,
                           endpoint_rows, format_table, kubectl_slice_row, service_row, table, why_empty)

NOW = datetime(2024, 5, 10, 12, 0, 0, tzinfo=timezone.utc)
CREATED = "2024-05-05T12:00:00Z"  # five days before NOW


def svc(name="web", ns="dev", type_="ClusterIP", ports=None, selector=None, **spec):
    body = {"type": type_, "ports": ports if ports is not None else [{"port": 80, "protocol": "TCP",
                                                                       "targetPort": 80}]}
    if selector is not None:
        body["selector"] = selector
    body.update(spec)
    return ServiceView.from_api({"metadata": {"name": name, "namespace": ns, "creationTimestamp": CREATED,
                                              "resourceVersion": "1"}, "spec": body})


def eps(name, addresses, ports=None, service="web", ns="dev", **conds):
    return SliceView.from_api({
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": CREATED,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": ports if ports is not None else [{"name": "", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": dict(conds) or {"ready": True}, "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "name": f"pod-{i}", "namespace": ns}}
                      for i, a in enumerate(addresses)],
    })


# -- Go's tabwriter as kubectl sets it up ----------------------------------------------------------------------

def test_format_table_pads_each_column_to_widest_plus_three_and_leaves_the_last_unpadded():
    out = format_table(["NAME", "TYPE", "AGE"], [["a-long-name", "ClusterIP", "5d"], ["b", "NodePort", "12m"]])
    assert out == (
        "NAME          TYPE        AGE\n"
        "a-long-name   ClusterIP   5d\n"
        "b             NodePort    12m\n"
    )


def test_format_table_minimum_width_is_six():
    # a column whose widest cell is 2 characters is still 6 wide (tabwriter minwidth), not 2 + 3
    assert format_table(["A", "B"], [["xy", "z"]]) == "A     B\nxy    z\n"


# -- AGE: apimachinery's HumanDuration -----------------------------------------------------------------------

@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (130, "2m10s"), (599, "9m59s"),
    (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60 * 5, "3h5m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"), (729 * 86400, "729d"),
    (730 * 86400, "2y"), (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y"),
])
def test_age_matches_kubectl(seconds, text):
    assert human_age(NOW - timedelta(seconds=seconds), NOW) == text


def test_age_of_a_missing_timestamp_is_unknown():
    assert human_age(None, NOW) == "<unknown>"


# -- Services --------------------------------------------------------------------------------------------------

def test_service_cells_in_kubectl_formats():
    view = svc(type_="NodePort", selector={"app": "nginx-pod", "tier": "web"},
               ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30002},
                      {"name": "dns", "port": 53, "protocol": "UDP"}],
               clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"], sessionAffinity="ClientIP",
               sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    row = service_row(view, (2, 3), NOW)
    assert row.cells["ports"] == "80:30002/TCP,53/UDP"
    assert row.cells["clusterIP"] == "10.96.0.20"
    assert row.cells["externalIP"] == "<none>"
    assert row.cells["selector"] == "app=nginx-pod,tier=web"
    assert row.cells["endpoints"] == "2/3"
    assert row.cells["affinity"] == "ClientIP(600s)"
    assert row.cells["age"] == "5d"
    assert row.health is Health.PARTIAL


@pytest.mark.parametrize("type_, extra, status, expected", [
    ("LoadBalancer", {}, {}, "<pending>"),
    ("LoadBalancer", {"externalIPs": ["1.2.3.4"]}, {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"},
                                                                                 {"ip": "8.8.8.8"}]}},
     "8.8.8.8,9.9.9.9,1.2.3.4"),
    ("LoadBalancer", {}, {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}, "lb.example.com"),
    ("ClusterIP", {"externalIPs": ["5.6.7.8", "1.1.1.1"]}, {}, "5.6.7.8,1.1.1.1"),
    ("ExternalName", {"externalName": "db.example.com"}, {}, "db.example.com"),
])
def test_external_ip_cell_as_kubectl(type_, extra, status, expected):
    obj = {"metadata": {"name": "x", "namespace": "dev"}, "spec": {"type": type_, "ports": [], **extra},
           "status": status}
    assert service_row(ServiceView.from_api(obj), (0, 0), NOW).cells["externalIP"] == expected


def test_headless_and_portless_cells():
    row = service_row(svc(clusterIP="None", clusterIPs=["None"], ports=[]), (0, 0), NOW)
    assert row.cells["clusterIP"] == "None"
    assert row.cells["ports"] == "<none>"
    assert row.cells["selector"] == "<none>"
    assert row.health is Health.NO_ENDPOINTS


def test_health_flags_what_the_api_shows_wrong():
    assert service_row(svc(selector={"a": "b"}), (0, 2), NOW).health is Health.NONE_READY
    assert service_row(svc(type_="LoadBalancer"), (1, 1), NOW).health is Health.LB_PENDING
    assert service_row(svc(), (3, 3), NOW).health is Health.OK
    ext = service_row(svc(type_="ExternalName", externalName="x.example"), (0, 0), NOW)
    assert ext.health is Health.NOT_APPLICABLE and ext.cells["endpoints"] == "-"


def test_kubectl_service_table_wide_and_all_namespaces_columns():
    wide = columns(KUBECTL_SERVICE_COLUMNS, all_namespaces=True, wide=True)
    assert [c.title for c in wide] == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                                       "SELECTOR"]
    narrow = columns(KUBECTL_SERVICE_COLUMNS, all_namespaces=False, wide=False)
    assert [c.title for c in narrow] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    pane = columns(SERVICE_COLUMNS, all_namespaces=False)
    assert [c.title for c in pane] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "ENDPOINTS",
                                       "AFFINITY", "SELECTOR", "AGE"]
    views = [svc("service-clusterip", clusterIPs=["10.96.1.1"], selector={"app": "nginx-pod"}),
             svc("service-nodeport", type_="NodePort", clusterIPs=["10.96.1.2"], selector={"app": "nginx-pod"},
                 ports=[{"port": 80, "protocol": "TCP", "nodePort": 30002}])]
    out = table(columns(KUBECTL_SERVICE_COLUMNS, False), (service_row(v, (0, 0), NOW) for v in views))
    assert out == (
        "NAME                TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE   SELECTOR\n"
        "service-clusterip   ClusterIP   10.96.1.1    <none>        80/TCP         5d    app=nginx-pod\n"
        "service-nodeport    NodePort    10.96.1.2    <none>        80:30002/TCP   5d    app=nginx-pod\n"
    )


# -- EndpointSlices ----------------------------------------------------------------------------------------------

def test_kubectl_slice_cells_show_three_then_more():
    view = eps("web-abc", ["10.244.1.1", "10.244.1.2", "10.244.2.1", "10.244.2.2", "10.244.3.1"],
               ports=[{"port": p, "protocol": "TCP"} for p in (80, 81, 82, 83)])
    row = kubectl_slice_row(view, NOW)
    assert row.cells["endpoints"] == "10.244.1.1,10.244.1.2,10.244.2.1 + 2 more..."
    assert row.cells["ports"] == "80,81,82 + 1 more..."
    assert row.cells["age"] == "5d"
    assert [c.title for c in columns(KUBECTL_SLICE_COLUMNS, True)] == ["NAMESPACE", "NAME", "ADDRESSTYPE", "PORTS",
                                                                        "ENDPOINTS", "AGE"]


def test_kubectl_slice_cells_when_unset():
    empty = eps("web-x", [], ports=[])
    assert kubectl_slice_row(empty, NOW).cells["endpoints"] == "<unset>"
    assert kubectl_slice_row(empty, NOW).cells["ports"] == "<unset>"
    # a port with no number shows its name, and `*` when it has no name either
    named = eps("web-y", [], ports=[{"name": "http", "protocol": "TCP"}, {"protocol": "TCP"}])
    assert kubectl_slice_row(named, NOW).cells["ports"] == "http,*"


def test_endpoint_rows_one_per_endpoint_with_conditions():
    a = eps("web-b", ["10.244.2.7"], ready=False, serving=True, terminating=True)
    b = eps("web-a", ["10.244.1.5", "10.244.1.6"], ports=[{"name": "http", "port": 8080, "protocol": "TCP"}])
    rows = endpoint_rows([a, b])
    assert [r.cells["address"] for r in rows] == ["10.244.1.5", "10.244.1.6", "10.244.2.7"]
    first, last = rows[0].cells, rows[-1].cells
    assert first["ports"] == "http:8080/TCP" and first["slice"] == "web-a" and first["target"] == "Pod/pod-0"
    # unset serving/terminating show their defaults, marked: serving follows ready, terminating is false
    assert (first["ready"], first["serving"], first["terminating"]) == ("true", "true*", "false*")
    assert (last["ready"], last["serving"], last["terminating"]) == ("false", "true", "true")
    assert rows[-1].health is Health.NONE_READY
    assert first["node"] == "node-1" and first["zone"] == "<none>" and first["hostname"] == "<none>"


# -- why a Service has no endpoints --------------------------------------------------------------------------------

def pod(name, labels, ip="10.244.1.9"):
    return PodView.from_api({"metadata": {"name": name, "namespace": "dev", "labels": labels},
                             "spec": {"nodeName": "node-1"}, "status": {"podIP": ip} if ip else {}})


def test_why_empty_names_the_cause():
    sel = svc(selector={"app": "web"})
    assert why_empty(svc(), [], []) .startswith("web has no selector, so no EndpointSlice is made for it")
    assert why_empty(sel, [], []) == "The selector app=web matches no pod in namespace dev."
    assert why_empty(sel, [], [pod("p", {"app": "web"})]) == (
        "1 pod matches the selector app=web, but no EndpointSlice exists yet: the EndpointSlice controller has "
        "not created it.")
    assert "none has an IP address yet" in why_empty(sel, [eps("web-a", [])], [pod("p", {"app": "web"}, ip="")])
    assert why_empty(sel, [], None) == "No EndpointSlice exists for web yet."
    assert "ExternalName" in why_empty(svc(type_="ExternalName", externalName="x.example"), [], None)
    assert why_empty(sel, [eps("web-a", ["10.244.1.1"])], []) is None


def test_sort_keys_order_age_endpoints_and_ips_by_value():
    old = ServiceView.from_api({"metadata": {"name": "old", "namespace": "dev", "creationTimestamp":
                                             "2024-01-01T00:00:00Z"}, "spec": {"clusterIP": "10.96.0.10",
                                                                              "clusterIPs": ["10.96.0.10"]}})
    young = svc("young", clusterIP="10.96.0.9", clusterIPs=["10.96.0.9"])
    headless = svc("headless", clusterIP="None", clusterIPs=["None"])
    rows = {v.name: service_row(v, c, NOW) for v, c in ((old, (10, 10)), (young, (2, 9)), (headless, (0, 0)))}
    by = lambda col: [name for name, _ in sorted(rows.items(), key=lambda kv: kv[1].sort_key(col))]
    assert by("age")[-1] == "old"  # youngest first, as the AGE column reads
    assert by("endpoints") == ["headless", "young", "old"]
    assert by("clusterIP") == ["headless", "young", "old"]  # 10.96.0.9 < 10.96.0.10 numerically, not as text
    assert by("name") == ["headless", "old", "young"]


def test_filter_substring_inverse_and_label_selector():
    from tui.kube.rows import parse_filter
    from tui.kube.selectors import SelectorError

    a = service_row(svc("web", selector={"app": "web"}, type_="NodePort"), (1, 1), NOW)
    b = service_row(ServiceView.from_api({"metadata": {"name": "db", "namespace": "dev",
                                                       "labels": {"tier": "data", "app": "db"}},
                                          "spec": {"type": "ClusterIP"}}), (0, 0), NOW)
    keep = lambda text: [r.cells["name"] for r in (a, b) if parse_filter(text)(r)]
    assert keep("") == ["web", "db"]
    assert keep("nodeport") == ["web"]
    assert keep("!nodeport") == ["db"]
    assert keep("-l tier=data") == ["db"]
    assert keep("-l tier!=data") == ["web"]
    with pytest.raises(SelectorError):
        parse_filter("-l a in (b")
