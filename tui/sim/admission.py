"""What the apiserver does to an object between the request and storage: defaulting, validation, allocation.

Interface (the HTTP server calls these; owned by the sim-semantics work):
    admit(store, res, obj, old, dry_run) -> obj    create when old is None, update otherwise; raises ApiError
    delete(store, res, namespace, name, dry_run) -> obj   deletes (or starts a graceful deletion of a pod: sets
                                                  deletionTimestamp, removed later by the controllers) and frees
                                                  what the object held (ClusterIPs, NodePorts); returns the object
Allocation on a dry run must commit nothing.
"""

from __future__ import annotations

from typing import Any

from tui.sim.resources import ResourceType
from tui.sim.store import Store

Obj = dict[str, Any]


def admit(store: Store, res: ResourceType, obj: Obj, old: Obj | None, dry_run: bool) -> Obj:
    return obj  # placeholder until Service defaulting/validation/allocation lands


def delete(store: Store, res: ResourceType, namespace: str | None, name: str, dry_run: bool) -> Obj:
    return store.delete(res, namespace, name, dry_run=dry_run)
