"""Scenarios: the objects a simulated cluster starts with, as data files, and a generator of large clusters.

Interface (SimCluster calls these; owned by the sim-semantics work):
    load_into(store, name_or_path)                         "tutorial" (default), "empty", another bundled name, or a
                                                           YAML file path; raises ValueError naming the choices
    generate_into(store, services, pods_per_service)       a large cluster for benchmarks
    NAMES                                                  the bundled scenario names
"""

from __future__ import annotations

from tui.sim.store import Store

NAMES: tuple[str, ...] = ("empty",)


def load_into(store: Store, name_or_path: str) -> None:
    if name_or_path == "empty":
        return
    raise ValueError(f"unknown scenario {name_or_path!r}: choose one of {', '.join(NAMES)} or a YAML file")


def generate_into(store: Store, services: int, pods_per_service: int) -> None:
    raise ValueError("the large-cluster generator is not available yet")
