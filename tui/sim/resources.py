"""The resource types the simulated cluster serves, with what discovery and routing need to know of each."""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
                 ("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",)),
    ResourceType("", "v1", "Pod", "pods", "pod", True, ("po",)),
    ResourceType("", "v1", "Service", "services", "service", True, ("svc",),
                 ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    ResourceType("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    # Served so that `kubectl describe` finds (no) events instead of a 404, as on a real cluster.
    ResourceType("", "v1", "Event", "events", "event", True, ("ev",)),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",)),
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",)),
)

BY_PLURAL: dict[tuple[str, str], ResourceType] = {(r.group, r.plural): r for r in RESOURCES}
BY_KIND: dict[str, ResourceType] = {r.kind: r for r in RESOURCES}


def lookup(group: str, plural: str) -> ResourceType | None:
    return BY_PLURAL.get((group, plural))
