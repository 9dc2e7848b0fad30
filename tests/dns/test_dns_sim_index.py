"""The sim DNS recomputes only the Services that changed; after any sequence of store changes its index must be
the one a fresh server builds from the same store, and a frozen copy must not move."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dnskit import endpoint, port, service_obj, slice_obj
from tui.sim.dns_server import SimDns
from tui.sim.resources import BY_KIND
from tui.sim.store import Store

SVC, SLICE, NS = BY_KIND["Service"], BY_KIND["EndpointSlice"], BY_KIND["Namespace"]
NAMES = ["a", "b"]  # few names, so changes collide: a slice moves between Services, a Service changes type
NAMESPACES = ["x"]

op = st.one_of(
    st.tuples(st.just("svc"), st.sampled_from(NAMESPACES), st.sampled_from(NAMES),
              st.sampled_from(["clusterip", "headless", "external", "delete"]), st.integers(1, 250)),
    st.tuples(st.just("slice"), st.sampled_from(NAMESPACES), st.sampled_from(["s1", "s2"]),
              st.sampled_from(NAMES + ["delete"]),
              st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.sampled_from([None, "h0", "h1"])),
                       max_size=4)),
    st.tuples(st.just("ns"), st.sampled_from(NAMESPACES), st.booleans()),
)


def _apply(store: Store, step: tuple) -> None:
    kind = step[0]
    if kind == "svc":
        _, ns, name, what, n = step
        exists = store.get(SVC, ns, name) is not None
        if what == "delete":
            if exists:
                store.delete(SVC, ns, name)
            return
        obj = (service_obj(ns, name, f"10.96.0.{n}", [port("http", 80)]) if what == "clusterip" else
               service_obj(ns, name, "None", [port("http", 80), port("", 81)]) if what == "headless" else
               service_obj(ns, name, type_="ExternalName", external_name=f"e{n}.example.com"))
        store.update(SVC, obj) if exists else store.create(SVC, obj)
    elif kind == "slice":
        _, ns, name, owner, eps = step
        exists = store.get(SLICE, ns, name) is not None
        if owner == "delete":
            if exists:
                store.delete(SLICE, ns, name)
            return
        obj = slice_obj(ns, owner, [endpoint(f"10.244.0.{i}", ready=r, hostname=h) for i, r, h in eps],
                        [port("http", 8080)], name=name)
        store.update(SLICE, obj) if exists else store.create(SLICE, obj)
    else:
        _, ns, present = step
        exists = store.get(NS, None, ns) is not None
        if present and not exists:
            store.create(NS, {"metadata": {"name": ns}})
        elif not present and exists:
            store.delete(NS, None, ns)


def _view(d: SimDns) -> tuple:
    idx = d.index()
    return ({k: sorted(v) for k, v in idx.records.items()}, dict(idx.refs))


@settings(max_examples=150, deadline=None)
@given(before=st.lists(op, max_size=12), after=st.lists(op, min_size=1, max_size=25))
# A slice handed from one Service to another: both Services change.
@example(before=[("svc", "x", "a", "headless", 1), ("slice", "x", "s1", "a", [(1, True, None)])],
         after=[("slice", "x", "s1", "b", [(1, True, None)])])
# A Service that turns headless picks up the slices it already had.
@example(before=[("slice", "x", "s1", "a", [(2, True, "h0")]), ("svc", "x", "a", "clusterip", 9)],
         after=[("svc", "x", "a", "headless", 9)])
def test_incremental_index_equals_a_fresh_one(before, after):
    store = Store()
    for step in before:
        _apply(store, step)
    live = SimDns(store, zone="cluster.local")
    live.follow_store()
    live.index()
    frozen = live.index().copy()
    frozen_view = ({k: sorted(v) for k, v in frozen.records.items()}, dict(frozen.refs))
    for i, step in enumerate(after):
        _apply(store, step)
        if i % 3 == 0:
            live.index()  # answer questions now and then, between changes
    fresh = SimDns(store, zone="cluster.local")
    fresh.follow_store()
    assert _view(live) == _view(fresh)
    assert ({k: sorted(v) for k, v in frozen.records.items()}, dict(frozen.refs)) == frozen_view
    live.stop()
    fresh.stop()
