"""Coalescing change batches and the reconnect backoff: pure logic, no server."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tui.kube.cache import ADDED, DELETED, MODIFIED, Backoff, Pending


def apply(view: dict, added: dict, modified: dict, deleted: dict) -> dict:
    out = dict(view)
    for key in deleted:
        assert key in out, "a deletion the consumer cannot apply"
        del out[key]
    for key, obj in modified.items():
        assert key in out, "a modification of a key the consumer has not got"
        out[key] = obj
    for key, obj in added.items():
        assert key not in out, "an addition of a key the consumer already has"
        out[key] = obj
    return out


# Events a watch can send for a handful of keys: each key's history alternates present/absent correctly.
@st.composite
def histories(draw):
    keys = [("dev", f"s{i}") for i in range(draw(st.integers(1, 5)))]
    start = {k: {"v": 0} for k in keys if draw(st.booleans())}
    present = set(start)
    events = []
    for n in range(draw(st.integers(0, 40))):
        key = draw(st.sampled_from(keys))
        if key in present:
            kind = draw(st.sampled_from([MODIFIED, DELETED]))
        else:
            kind = ADDED
        if kind == DELETED:
            present.discard(key)
        else:
            present.add(key)
        events.append((kind, key, {"v": n + 1}))
    cut = draw(st.integers(0, len(events)))
    return start, events, cut


@settings(max_examples=300, deadline=None)
@given(histories())
def test_coalesced_batches_leave_the_consumer_where_every_event_would(history):
    start, events, cut = history
    truth = dict(start)
    for kind, key, obj in events:
        if kind == DELETED:
            del truth[key]
        else:
            truth[key] = obj
    # two batches (flushed at `cut`), each coalesced
    view = dict(start)
    for part in (events[:cut], events[cut:]):
        pending = Pending()
        for kind, key, obj in part:
            pending.put(kind, key, obj)
        added, modified, deleted = pending.take()
        assert not (set(added) & set(modified)) and not (set(added) & set(deleted))
        view = apply(view, added, modified, deleted)
    assert view == truth


def test_a_burst_on_one_key_is_one_change():
    pending = Pending()
    key = ("dev", "web")
    pending.put(ADDED, key, {"v": 1})
    for v in range(2, 500):
        pending.put(MODIFIED, key, {"v": v})
    added, modified, deleted = pending.take()
    assert added == {key: {"v": 499}} and not modified and not deleted
    pending.put(ADDED, key, {"v": 1})
    pending.put(DELETED, key, {"v": 1})
    assert pending.take() == ({}, {}, {})  # the consumer never needs to hear of it


def test_backoff_grows_exponentially_within_jitter_and_caps():
    backoff = Backoff(initial=0.5, cap=30.0, factor=2.0, jitter=0.2, rng=random.Random(7))
    delays = [backoff.next() for _ in range(12)]
    for n, d in enumerate(delays):
        base = min(30.0, 0.5 * 2 ** n)
        assert base * 0.8 <= d <= min(30.0, base * 1.2)
    assert max(delays) <= 30.0 and delays[-1] >= 24.0
    backoff.reset()
    assert 0.4 <= backoff.next() <= 0.6


def test_backoff_jitter_spreads_clients():
    firsts = {round(Backoff(rng=random.Random(seed)).next(), 6) for seed in range(20)}
    assert len(firsts) > 10
