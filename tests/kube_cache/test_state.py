"""ClusterState from synthetic batches: incremental counts and indexes, resets that leave nothing stale."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.kube.cache import Batch
from tui.kube.state import ClusterState


def service(name, ns="dev", rv="1", selector=None):
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv},
            "spec": {"type": "ClusterIP", "selector": selector or {"app": name},
                     "ports": [{"port": 80, "protocol": "TCP"}]}}


def slice_(name, svc, ready, not_ready=0, ns="dev", rv="1"):
    eps = [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": True}} for i in range(ready)]
    eps += [{"addresses": [f"10.0.1.{i}"], "conditions": {"ready": False}} for i in range(not_ready)]
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": rv,
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": eps, "ports": [{"port": 80, "protocol": "TCP"}]}


def pod(name, labels, ns="dev"):
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {},
            "status": {"podIP": "10.244.0.1"}}


def key(obj):
    return (obj["metadata"]["namespace"], obj["metadata"]["name"])


def batch(resource, added=(), modified=(), deleted=()):
    return Batch(resource, {key(o): o for o in added}, {key(o): o for o in modified}, {key(o): o for o in deleted})


def reset(resource, objs, rv="100"):
    snap = {key(o): o for o in objs}
    return Batch(resource, snap, {}, {}, reset=True, snapshot=snap, resource_version=rv)


def test_counts_follow_slice_changes_and_only_touched_services_are_reported():
    state = ClusterState()
    state.apply(reset("services", [service("web"), service("api")]))
    change = state.apply(batch("endpointslices", added=[slice_("web-1", "web", 2, 1), slice_("web-2", "web", 1)]))
    assert change.services_touched == {("dev", "web")}
    assert state.endpoint_counts(("dev", "web")) == (3, 4)
    assert [s.name for s in state.slices_of(("dev", "web"))] == ["web-1", "web-2"]
    change = state.apply(batch("endpointslices", modified=[slice_("web-1", "web", 0, 3, rv="2")]))
    assert state.endpoint_counts(("dev", "web")) == (1, 4)
    state.apply(batch("endpointslices", deleted=[slice_("web-2", "web", 1)]))
    assert state.endpoint_counts(("dev", "web")) == (0, 3)
    state.apply(batch("endpointslices", deleted=[slice_("web-1", "web", 0, 3)]))
    assert state.endpoint_counts(("dev", "web")) == (0, 0) and state.slices_of(("dev", "web")) == []
    assert state.endpoint_counts(("dev", "api")) == (0, 0)


def test_a_slice_relabelled_to_another_service_moves_its_endpoints():
    state = ClusterState()
    state.apply(batch("endpointslices", added=[slice_("s", "web", 2)]))
    change = state.apply(batch("endpointslices", modified=[slice_("s", "api", 2, rv="2")]))
    assert change.services_touched == {("dev", "web"), ("dev", "api")}
    assert state.endpoint_counts(("dev", "web")) == (0, 0)
    assert state.endpoint_counts(("dev", "api")) == (2, 2)


def test_a_small_batch_leaves_every_other_model_untouched():
    state = ClusterState()
    state.apply(reset("services", [service(f"s{i}") for i in range(1000)]))
    before = dict(state.services)
    change = state.apply(batch("services", modified=[service("s5", rv="2")], deleted=[service("s7")]))
    assert change.modified == {("dev", "s5")} and change.deleted == {("dev", "s7")}
    assert ("dev", "s7") not in state.services
    same = [k for k in state.services if state.services[k] is before[k]]
    assert len(same) == 998  # only the changed one was rebuilt


def test_reset_replaces_by_snapshot_so_nothing_stale_survives():
    state = ClusterState()
    state.apply(reset("services", [service("a"), service("b"), service("c")]))
    state.apply(reset("endpointslices", [slice_("a-1", "a", 1), slice_("b-1", "b", 2)]))
    # a relist (or a cache for another scope) whose diff the state has not seen: b is gone, a changed, d is new
    change = state.apply(reset("services", [service("a", rv="9"), service("c"), service("d")], rv="200"))
    assert change.reset and change.deleted == {("dev", "b")} and change.added == {("dev", "d")}
    assert change.modified == {("dev", "a")}
    assert sorted(k[1] for k in state.services) == ["a", "c", "d"]
    state.apply(reset("endpointslices", [slice_("a-1", "a", 1)]))
    assert state.endpoint_counts(("dev", "b")) == (0, 0)
    assert state.resource_versions["services"] == "200" and state.synced == {"services", "endpointslices"}


def test_pods_selected_uses_the_namespace_index():
    state = ClusterState()
    state.apply(reset("pods", [pod("p1", {"app": "web"}), pod("p2", {"app": "api"}),
                               pod("p3", {"app": "web"}, ns="prod")]))
    web = state.apply(reset("services", [service("web")])) and state.service(("dev", "web"))
    assert [p.name for p in state.pods_selected(web)] == ["p1"]
    state.apply(batch("pods", deleted=[pod("p1", {"app": "web"})]))
    assert state.pods_selected(web) == []


def test_service_views_in_etcd_key_order():
    state = ClusterState()
    state.apply(reset("services", [service("a", ns="dev"), service("a", ns="dev-2"), service("b", ns="dev")]))
    # etcd orders `dev-2/a` before `dev/a` ('-' < '/'), and that is the order kubectl prints
    assert [(v.namespace, v.name) for v in state.service_views()] == [("dev-2", "a"), ("dev", "a"), ("dev", "b")]


ops = st.lists(st.tuples(st.sampled_from(["upsert", "delete"]), st.integers(0, 5), st.sampled_from(["x", "y"]),
                         st.integers(0, 3), st.integers(0, 3)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_incremental_counts_equal_a_recount(operations):
    state = ClusterState()
    held: dict = {}
    for n, (op, i, svc, ready, not_ready) in enumerate(operations):
        name = f"sl{i}"
        obj = slice_(name, svc, ready, not_ready, rv=str(n))
        if op == "upsert":
            state.apply(batch("endpointslices", **{"modified" if name in held else "added": [obj]}))
            held[name] = (svc, ready, not_ready)
        elif name in held:
            state.apply(batch("endpointslices", deleted=[obj]))
            del held[name]
    for svc in ("x", "y"):
        ready = sum(r for s, r, _ in held.values() if s == svc)
        total = sum(r + nr for s, r, nr in held.values() if s == svc)
        assert state.endpoint_counts(("dev", svc)) == (ready, total)
        assert {s.name for s in state.slices_of(("dev", svc))} == {k for k, v in held.items() if v[0] == svc}


conditions = st.one_of(st.none(), st.just("not-a-dict"),
                       st.fixed_dictionaries({}, optional={"ready": st.one_of(st.booleans(), st.none(), st.just("x")),
                                                           "serving": st.booleans()}))
endpoint = st.one_of(st.just("junk"), st.builds(lambda c: {"addresses": ["10.0.0.1"]} | ({} if c is None else
                                                                                       {"conditions": c}), conditions))


@settings(max_examples=200, deadline=None)
@given(st.lists(endpoint, max_size=8))
def test_counts_from_json_agree_with_the_models(endpoints):
    from tui.kube.models import SliceView
    from tui.kube.state import slice_counts

    obj = slice_("s", "web", 0)
    obj["endpoints"] = endpoints
    view = SliceView.from_api(obj)
    assert slice_counts(obj) == ("web", sum(e.is_ready for e in view.endpoints), len(view.endpoints))


def test_models_built_by_the_cache_are_used_as_they_are():
    from tui.kube.models import ServiceView

    obj = service("web")
    view = ServiceView.from_api(obj)
    state = ClusterState()
    state.apply(Batch("services", {key(obj): obj}, {}, {}, models={key(obj): view}))
    assert state.service(key(obj)) is view
    other = service("web", rv="2")  # a model of another object is not trusted
    state.apply(Batch("services", {}, {key(other): other}, {}, models={key(other): view}))
    assert state.service(key(obj)) is not view and state.service(key(obj)).resource_version == "2"
