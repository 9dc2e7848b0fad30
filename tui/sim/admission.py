"""What the apiserver does to an object between the request and storage: defaulting, validation, allocation.

Interface (the HTTP server calls these; owned by the sim-semantics work):
    admit(store, res, obj, old, dry_run) -> obj    create when old is None, update otherwise; raises ApiError
    on_delete(store, res, obj, dry_run) -> None    frees what the object held (ClusterIPs, NodePorts)
Allocation on a dry run must commit nothing.
"""

from __future__ import annotations

from typing import Any

from tui.sim.resources import ResourceType
from tui.sim.store import Store

Obj = dict[str, Any]


def admit(store: Store, res: ResourceType, obj: Obj, old: Obj | None, dry_run: bool) -> Obj:
    return obj  # placeholder until Service defaulting/validation/allocation lands


def on_delete(store: Store, res: ResourceType, obj: Obj, dry_run: bool) -> None:
    return None
