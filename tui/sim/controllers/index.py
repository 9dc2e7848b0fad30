"""Indexes the controllers keep from store events, so that one pod or Service change costs O(its labels), not a
scan of 10,000 Services."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

from tui.kube.models import SERVICE_NAME_LABEL
from tui.kube.selectors import selector_matches

Key = tuple[str, str]
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}  # read-only: stored objects are never changed in place


def selector_of(svc: Mapping[str, Any]) -> dict[str, str]:
    sel = (svc.get("spec") or {}).get("selector")
    return {str(k): str(v) for k, v in sel.items()} if isinstance(sel, dict) else {}


class _PairIndex:
    """(namespace, key, value) -> names of the objects whose map (labels, or a selector) holds that pair."""

    def __init__(self) -> None:
        self._by_pair: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self._maps: dict[Key, Mapping[str, str]] = {}

    def put(self, ns: str, name: str, pairs: Mapping[str, str]) -> None:
        self.remove(ns, name)
        self._maps[(ns, name)] = pairs
        for k, v in pairs.items():
            self._by_pair[(ns, k, v)].add(name)

    def remove(self, ns: str, name: str) -> None:
        old = self._maps.pop((ns, name), None)
        for k, v in (old or {}).items():
            names = self._by_pair.get((ns, k, v))
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_pair[(ns, k, v)]


class LabelIndex(_PairIndex):
    """(namespace, key, value) -> names of the objects carrying that label."""

    def labels(self, ns: str, name: str) -> Mapping[str, str]:
        return self._maps.get((ns, name), {})

    def matching(self, ns: str, selector: Mapping[str, str]) -> set[str]:
        """Names whose labels contain every pair of `selector` (an empty selector selects nothing)."""
        if not selector:
            return set()
        sets = [self._by_pair.get((ns, k, v), set()) for k, v in selector.items()]
        smallest = min(sets, key=len)
        return {n for n in smallest if all(n in s for s in sets)}


class SelectorIndex(_PairIndex):
    """(namespace, key, value) -> names of the objects (Services) whose selector asks for that label."""

    def put(self, ns: str, name: str, selector: Mapping[str, str]) -> None:
        if selector:
            super().put(ns, name, dict(selector))
        else:  # an empty selector selects nothing: not indexed at all
            self.remove(ns, name)

    def selecting(self, ns: str, labels: Mapping[str, str]) -> set[str]:
        """Names whose selector is satisfied by `labels`."""
        candidates: set[str] = set()
        for k, v in labels.items():
            candidates |= self._by_pair.get((ns, k, v), set())
        return {name for name in candidates if selector_matches(self._maps[(ns, name)], labels)}


class ClusterIndex:
    """What the controllers look up: pods by label and by owner and node, Services by selector, managed slices by
    Service."""

    def __init__(self) -> None:
        self.pod_labels = LabelIndex()
        self.service_selectors = SelectorIndex()
        self.pods_by_owner: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (ns, kind, name) -> pods
        self.pods_by_node: dict[str, set[Key]] = defaultdict(set)
        self.slices_by_service: dict[Key, set[str]] = defaultdict(set)
        # (ns, kind, parent) -> owner names: a Deployment's ReplicaSets are named `<deployment>-<hash>`
        self._owners_by_parent: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self._pod_owner: dict[Key, tuple[str, str, str]] = {}
        self._pod_node: dict[Key, str] = {}
        self._slice_service: dict[Key, str] = {}

    # -- pods ----------------------------------------------------------------------------------------------------

    def put_pod(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        self.pod_labels.put(ns, name, _labels(pod))
        self._unlink_pod(ns, name)
        owner = controller_of(pod)
        if owner:
            self._pod_owner[(ns, name)] = (ns, owner[0], owner[1])
            self.pods_by_owner[(ns, owner[0], owner[1])].add(name)
            self._owners_by_parent[(ns, owner[0], parent_of(owner[0], owner[1]))].add(owner[1])
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._pod_node[(ns, name)] = node
            self.pods_by_node[node].add((ns, name))

    def remove_pod(self, ns: str, name: str) -> None:
        self.pod_labels.remove(ns, name)
        self._unlink_pod(ns, name)

    def _unlink_pod(self, ns: str, name: str) -> None:
        owner = self._pod_owner.pop((ns, name), None)
        if owner:
            pods = self.pods_by_owner.get(owner)
            if pods is not None:
                pods.discard(name)
                if not pods:
                    del self.pods_by_owner[owner]
                    parent = (owner[0], owner[1], parent_of(owner[1], owner[2]))
                    names = self._owners_by_parent.get(parent)
                    if names is not None:
                        names.discard(owner[2])
                        if not names:
                            del self._owners_by_parent[parent]
        node = self._pod_node.pop((ns, name), None)
        if node:
            keys = self.pods_by_node.get(node)
            if keys is not None:
                keys.discard((ns, name))
                if not keys:
                    del self.pods_by_node[node]

    def owned_pods(self, ns: str, kind: str, name: str) -> set[str]:
        return set(self.pods_by_owner.get((ns, kind, name), ()))

    def owners_of(self, ns: str, kind: str, parent: str) -> list[str]:
        """Owner names of `kind` derived from `parent` (a Deployment's ReplicaSets; a DaemonSet itself)."""
        return sorted(self._owners_by_parent.get((ns, kind, parent), ()))

    def all_owners(self) -> list[tuple[str, str, str]]:
        """(ns, kind, parent) of every owner that has pods."""
        return list(self._owners_by_parent)

    # -- Services and their slices -------------------------------------------------------------------------------

    def put_service(self, svc: Mapping[str, Any]) -> None:
        meta = svc.get("metadata") or {}
        self.service_selectors.put(meta.get("namespace", ""), meta.get("name", ""), selector_of(svc))

    def remove_service(self, ns: str, name: str) -> None:
        self.service_selectors.remove(ns, name)

    def put_slice(self, sl: Mapping[str, Any]) -> str | None:
        """Index a slice this controller manages; returns its Service's name (None for others' slices)."""
        meta = sl.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        labels = _labels(sl)
        self.remove_slice(ns, name)
        svc = labels.get(SERVICE_NAME_LABEL)
        if labels.get(MANAGED_BY_LABEL) != SLICE_CONTROLLER or not svc:
            return None
        self._slice_service[(ns, name)] = svc
        self.slices_by_service[(ns, svc)].add(name)
        return svc

    def remove_slice(self, ns: str, name: str) -> str | None:
        svc = self._slice_service.pop((ns, name), None)
        if svc is not None:
            names = self.slices_by_service.get((ns, svc))
            if names is not None:
                names.discard(name)
                if not names:
                    del self.slices_by_service[(ns, svc)]
        return svc

    def managed_slices(self, ns: str, svc: str) -> list[str]:
        return sorted(self.slices_by_service.get((ns, svc), ()))

    def load(self, pods: Iterable[Mapping[str, Any]], services: Iterable[Mapping[str, Any]],
             slices: Iterable[Mapping[str, Any]]) -> None:
        for p in pods:
            self.put_pod(p)
        for s in services:
            self.put_service(s)
        for sl in slices:
            self.put_slice(sl)


def parent_of(kind: str, owner: str) -> str:
    """The Deployment a ReplicaSet name belongs to (`pc-deployment-7d7dd5499b` -> `pc-deployment`)."""
    return owner.rsplit("-", 1)[0] if kind == "ReplicaSet" else owner


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(kind, name, uid) of the controlling ownerReference."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", "")), str(ref.get("uid", ""))
    return None
