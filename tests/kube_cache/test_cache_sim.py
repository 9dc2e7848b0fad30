"""The list+watch cache against the simulated cluster over real HTTP: list, watch, bookmarks, and every fault."""

from __future__ import annotations

import random
import threading
import time

import pytest
from kubernetes import client

from tests.conftest import wait_for
from tui.kube.cache import ENDPOINTSLICES, SERVICES, Backoff, Batch, ListWatchCache
from tui.kube.connection import ConnectionState, Phase
from tui.kube.models import ServiceView
from tui.sim.cluster import SimCluster
from tui.sim.rbac import READ_VERBS, RbacRules, Rule
from tui.sim.resources import BY_KIND


class Consumer:
    """What a pane does with batches: apply them to its view (replacing it on reset), and remember states."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.view: dict = {}
        self.batches: list[Batch] = []
        self.states: list[ConnectionState] = []

    def on_batch(self, batch: Batch) -> None:
        with self.lock:
            self.batches.append(batch)
            if batch.reset:
                # the diff of a reset brings a consumer that applied every batch to exactly the snapshot
                diffed = {k: v for k, v in self.view.items() if k not in batch.deleted}
                diffed.update(batch.modified)
                diffed.update(batch.added)
                assert diffed == dict(batch.snapshot)
                self.view = dict(batch.snapshot)
                return
            for key in batch.deleted:
                assert key in self.view, f"deleted {key} the consumer never had"
                del self.view[key]
            for key, obj in batch.modified.items():
                assert key in self.view, f"modified {key} the consumer never had"
                self.view[key] = obj
            for key, obj in batch.added.items():
                assert key not in self.view, f"added {key} twice"
                self.view[key] = obj

    def on_state(self, state: ConnectionState) -> None:
        with self.lock:
            self.states.append(state)

    def names(self) -> set[str]:
        with self.lock:
            return {name for _, name in self.view}

    def phases(self) -> list[Phase]:
        with self.lock:
            return [s.phase for s in self.states]


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, cap=0.5, rng=random.Random(1))


def make_cache(sim: SimCluster, consumer: Consumer, namespace: str | None = "dev", resource=SERVICES,
               **kw) -> ListWatchCache:
    kw.setdefault("backoff", fast_backoff())
    return ListWatchCache(sim.api_client(), resource, namespace, on_batch=consumer.on_batch,
                          on_state=consumer.on_state, **kw)


def svc_body(name: str, ns: str = "dev", labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def ensure_ns(v1: client.CoreV1Api, *names: str) -> None:
    for ns in names:
        v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})


def store_svc(sim: SimCluster, name: str, ns: str = "dev") -> None:
    sim.store.create(BY_KIND["Service"], svc_body(name, ns))


@pytest.fixture
def v1(sim: SimCluster) -> client.CoreV1Api:
    api = client.CoreV1Api(sim.api_client())
    ensure_ns(api, "dev", "prod")
    return api


@pytest.fixture
def running():
    caches: list[ListWatchCache] = []
    yield caches.append
    for cache in caches:
        cache.stop()


def test_initial_list_pages_through_more_than_500(sim, v1, running):
    for i in range(1203):
        store_svc(sim, f"svc-{i:04d}", "dev" if i % 3 else "prod")
    consumer = Consumer()
    cache = make_cache(sim, consumer, namespace=None)
    pages = []
    page = cache.lister.page
    cache.lister.page = lambda cont=None, limit=500: pages.append(limit) or page(cont, limit)
    running(cache.start())
    assert cache.wait_synced(30)
    wait_for(lambda: consumer.batches, message="no batch delivered")
    first = consumer.batches[0]
    assert first.reset and len(first.added) == 1203 and len(first.snapshot) == 1203
    assert pages == [500, 500, 500], "kubectl's chunking: three pages of at most 500"
    listed, _ = sim.store.list(BY_KIND["Service"])
    assert consumer.names() == {o["metadata"]["name"] for o in listed}
    assert first.resource_version == cache.resource_version


def test_watch_follows_adds_modifies_and_deletes(sim, v1, running):
    v1.create_namespaced_service("dev", svc_body("before"))
    consumer = Consumer()
    cache = make_cache(sim, consumer)
    running(cache.start())
    wait_for(lambda: consumer.names() == {"before"}, message="initial list")
    wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected state")
    assert consumer.phases()[:2] == [Phase.CONNECTING, Phase.CONNECTED]
    v1.create_namespaced_service("dev", svc_body("web"))
    v1.create_namespaced_service("prod", svc_body("elsewhere", "prod"))  # another namespace: never seen
    wait_for(lambda: consumer.names() == {"before", "web"}, message="add")
    v1.patch_namespaced_service("web", "dev", {"metadata": {"labels": {"tier": "front"}}})
    wait_for(lambda: consumer.view.get(("dev", "web"), {}).get("metadata", {}).get("labels", {}).get("tier")
             == "front", message="modify")
    v1.delete_namespaced_service("before", "dev")
    wait_for(lambda: consumer.names() == {"web"}, message="delete")
    assert not any(b.reset for b in consumer.batches[1:]), "no relist while the watch is healthy"
    assert consumer.view[("dev", "web")] == cache.snapshot()[("dev", "web")]
    assert not cache.problems, [p.message for p in cache.problems]  # e.g. another namespace's object
    # every batch carries the ServiceViews of what it adds or changes, built in the cache's thread
    for b in consumer.batches:
        keys = set(b.snapshot) if b.reset else set(b.added) | set(b.modified)
        assert set(b.models) == keys
        objs = b.snapshot if b.reset else {**b.added, **b.modified}
        assert all(isinstance(m, ServiceView) and m.raw is objs[k] for k, m in b.models.items())


def test_a_burst_is_coalesced_into_few_batches(sim, v1, running):
    consumer = Consumer()
    cache = make_cache(sim, consumer, coalesce=0.2)
    running(cache.start())
    wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected")
    for i in range(300):
        store_svc(sim, f"burst-{i}")
    wait_for(lambda: len(consumer.names()) == 300, message="all 300 delivered")
    events = sum(len(b) for b in consumer.batches[1:])
    assert events == 300
    assert len(consumer.batches) - 1 < 100, f"{len(consumer.batches) - 1} batches for a 300-event burst"


def test_bookmarks_advance_the_resource_version(sim, v1, running):
    sim.bookmark_interval = 0.2
    consumer = Consumer()
    cache = make_cache(sim, consumer, namespace="dev")
    running(cache.start())
    assert cache.wait_synced(10)
    listed_rv = int(cache.resource_version)
    store_svc(sim, "noise", "prod")  # moves the global resourceVersion; the dev watch sees only a bookmark
    wait_for(lambda: int(cache.resource_version) >= sim.store.resource_version, message="bookmark followed")
    assert int(cache.resource_version) > listed_rv
    assert consumer.names() == set()


def test_expired_watch_relists_and_nothing_stale_survives(sim, v1, running):
    for name in ("keep", "doomed", "changed"):
        v1.create_namespaced_service("dev", svc_body(name))
    consumer = Consumer()
    cache = make_cache(sim, consumer)
    running(cache.start())
    wait_for(lambda: consumer.names() == {"keep", "doomed", "changed"}, message="initial list")
    sim.faults.stop_server()
    wait_for(lambda: Phase.DISCONNECTED in consumer.phases(), message="disconnected")
    # while we are away: a delete and a change we will never get as events, then a compaction
    sim.store.delete(BY_KIND["Service"], "dev", "doomed")
    changed = sim.store.get_copy(BY_KIND["Service"], "dev", "changed")
    changed["metadata"]["labels"] = {"app": "changed", "v": "2"}
    sim.store.update(BY_KIND["Service"], changed)
    sim.faults.expire_history()
    sim.faults.start_server()
    wait_for(lambda: consumer.names() == {"keep", "changed"}, timeout=20, message="relist removed the stale one")
    assert any(b.reset for b in consumer.batches[1:]), "the recovery is a reset batch"
    assert consumer.view[("dev", "changed")]["metadata"]["labels"]["v"] == "2"
    wait_for(lambda: consumer.phases()[-1] is Phase.CONNECTED, message="connected again")


def test_error_410_event_relists(sim, v1, running):
    v1.create_namespaced_service("dev", svc_body("a"))
    consumer = Consumer()
    cache = make_cache(sim, consumer)
    running(cache.start())
    wait_for(lambda: consumer.names() == {"a"}, message="initial list")
    sim.faults.drop_watches(abrupt=False)  # the watch ends cleanly; the resume then finds history compacted
    sim.store.delete(BY_KIND["Service"], "dev", "a")
    sim.faults.expire_history()
    store_svc(sim, "b")
    wait_for(lambda: consumer.names() == {"b"}, timeout=20, message="relisted after 410")
    resets = [b for b in consumer.batches if b.reset]
    assert len(resets) >= 2


def test_server_restart_reconnects_with_backoff_and_reports_states(sim, v1, running):
    consumer = Consumer()
    cache = make_cache(sim, consumer, backoff=Backoff(initial=0.1, cap=0.4, rng=random.Random(3)))
    running(cache.start())
    wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected")
    sim.faults.stop_server()
    down = wait_for(lambda: [s for s in consumer.states if s.phase is Phase.DISCONNECTED and s.retry_at],
                    message="disconnected with a retry time")
    assert "API server" in down[0].error
    time.sleep(1.0)  # several failed attempts, spaced by the capped backoff
    retries = [s for s in consumer.states if s.phase is Phase.DISCONNECTED]
    assert 2 <= len(retries) <= 15, f"{len(retries)} attempts in a second: backoff not applied"
    gaps = [(b.retry_at - b.since).total_seconds() for b in retries]
    assert max(gaps) <= 0.4 * 1.2 + 0.01
    first_down = consumer.phases().index(Phase.DISCONNECTED)
    assert Phase.CONNECTED not in consumer.phases()[first_down:], "no 'connected' between failed attempts"
    sim.faults.start_server()
    store_svc(sim, "after-restart")
    wait_for(lambda: "after-restart" in consumer.names(), timeout=20, message="recovered")
    assert consumer.phases()[-1] is Phase.CONNECTED


def test_5xx_is_retried(sim, v1, running):
    sim.faults.answer(503, "GET", "/api/v1/namespaces/dev/services", times=2)
    v1.create_namespaced_service("dev", svc_body("a"))
    consumer = Consumer()
    cache = make_cache(sim, consumer)
    running(cache.start())
    wait_for(lambda: consumer.names() == {"a"}, message="listed after two 503s")
    errors = [s.error for s in consumer.states if s.phase is Phase.DISCONNECTED]
    assert len(errors) == 2 and all("answered 503" in e and "services in namespace dev" in e for e in errors), errors


def test_forbidden_namespace_is_a_clear_state_not_a_crash_loop(running):
    rules = RbacRules([Rule(READ_VERBS, namespaces=("dev",))])
    sim = SimCluster(scenario="empty", rbac=rules).start()
    try:
        consumer = Consumer()
        cache = make_cache(sim, consumer, namespace="prod", forbidden_retry=30.0)
        calls = []
        page = cache.lister.page
        cache.lister.page = lambda cont=None, limit=500: calls.append(1) or page(cont, limit)
        running(cache.start())
        state = wait_for(lambda: [s for s in consumer.states if s.phase is Phase.DISCONNECTED],
                         message="forbidden state")[0]
        assert "to list services in namespace prod (403 Forbidden" in state.error, state.error
        assert cache.forbidden
        time.sleep(1.0)
        assert len(calls) == 1, "403 must not be retried at the reconnect rate"
        assert cache._thread is not None and cache._thread.is_alive()
        assert not consumer.batches
        # the allowed namespace works with the same credentials
        ok = Consumer()
        running(make_cache(sim, ok, namespace="dev").start())
        wait_for(lambda: ok.batches and ok.batches[0].reset, message="dev listed")
    finally:
        sim.stop()


def test_malformed_watch_event_is_reported_and_the_cache_continues(sim, v1, running):
    consumer = Consumer()
    cache = make_cache(sim, consumer)
    running(cache.start())
    wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected")
    sim.faults.send_malformed("services", "spec-string", where="watch")
    v1.create_namespaced_service("dev", svc_body("broken"))
    v1.create_namespaced_service("dev", svc_body("fine"))
    wait_for(lambda: "fine" in consumer.names(), message="the next event still arrives")
    assert "broken" not in consumer.names()
    problems = [p.message for p in cache.problems]
    assert any("dev/broken" in p and "spec is missing or not an object" in p for p in problems), problems
    assert any(p.resource == "services" for b in consumer.batches for p in b.problems)
    assert consumer.phases()[-1] is Phase.CONNECTED


@pytest.mark.parametrize("shape, resource", [("ports-not-list", SERVICES), ("metadata-missing", SERVICES),
                                             ("endpoints-not-list", ENDPOINTSLICES)])
def test_malformed_listed_object_is_left_out_and_reported(sim, v1, running, shape, resource):
    if resource is SERVICES:
        store_svc(sim, "a")
    else:
        sim.store.create(BY_KIND["EndpointSlice"], {
            "metadata": {"name": "a-x", "namespace": "dev", "labels": {"kubernetes.io/service-name": "a"}},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]})
    sim.faults.send_malformed(resource.plural, shape, where="list")
    consumer = Consumer()
    cache = make_cache(sim, consumer, resource=resource)
    running(cache.start())
    assert cache.wait_synced(10)
    wait_for(lambda: consumer.batches, message="first batch")
    assert consumer.view == {}
    assert any("left out" in p.message for p in cache.problems)


def test_stop_returns_promptly_with_a_watch_open(sim, v1, running):
    consumer = Consumer()
    cache = make_cache(sim, consumer, watch_timeout=(3600, 3600))
    cache.start()
    wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected")
    time.sleep(0.2)
    started = time.monotonic()
    cache.stop(join=10)
    assert not cache._thread.is_alive()
    assert time.monotonic() - started < 3


def test_over_https_lists_watches_and_stops_promptly(running):
    sim = SimCluster(scenario="empty", tls=True).start()
    try:
        v1 = client.CoreV1Api(sim.api_client())
        ensure_ns(v1, "dev")
        v1.create_namespaced_service("dev", svc_body("a"))
        consumer = Consumer()
        cache = make_cache(sim, consumer, watch_timeout=(3600, 3600))
        cache.start()
        wait_for(lambda: Phase.CONNECTED in consumer.phases(), message="connected over TLS")
        v1.create_namespaced_service("dev", svc_body("b"))
        wait_for(lambda: consumer.names() == {"a", "b"}, message="watched over TLS")
        started = time.monotonic()
        cache.stop(join=10)  # the reader is blocked in an SSL read: shutting the socket down must free it
        assert not cache._thread.is_alive() and time.monotonic() - started < 3
    finally:
        sim.stop()
