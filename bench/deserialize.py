"""The kubernetes client's model deserialisation vs raw JSON, for the same 10,000 Services from the simulated cluster.

Why: the watch caches (tui/kube/cache.py) must choose; reference §1 says the models are slow at scale. Both ways
list the same Services over real HTTP with kubectl's paging (limit=500 + continue), best of several rounds, side by
side in one run; then the parsing alone, from the same bytes. Prints the times and the ratios (raw / models).
Run: python bench/deserialize.py [N]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run the checkout this script is in

from kubernetes import client

from tui.sim.cluster import SimCluster
from tui.sim.resources import BY_KIND

ROUNDS = 3


def service(i: int) -> dict[str, Any]:
    """A Service as a real cluster stores it: defaults, allocated ClusterIP, a NodePort for one in four."""
    ns = f"ns-{i % 50:02d}"
    name = f"svc-{i:05d}"
    node_port = i % 4 == 0
    port: dict[str, Any] = {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}
    if node_port:
        port["nodePort"] = 30000 + i % 2768
    ip = f"10.96.{(i // 250) % 256}.{i % 250 + 1}"
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name, "tier": "backend"},
                     "annotations": {"owner": "team-a"}},
        "spec": {"type": "NodePort" if node_port else "ClusterIP", "selector": {"app": name},
                 "ports": [port, {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}],
                 "clusterIP": ip, "clusterIPs": [ip], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                 **({"externalTrafficPolicy": "Cluster"} if node_port else {})},
        "status": {"loadBalancer": {}},
    }


def best(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def list_models(v1: client.CoreV1Api) -> int:
    n, cont = 0, None
    while True:
        page = v1.list_service_for_all_namespaces(limit=500, _continue=cont)
        n += len(page.items)
        cont = page.metadata._continue
        if not cont:
            return n


def list_raw(v1: client.CoreV1Api) -> int:
    n, cont = 0, None
    while True:
        kw = {"_continue": cont} if cont else {}
        resp = v1.list_service_for_all_namespaces(limit=500, _preload_content=False, **kw)
        page = json.loads(resp.data)
        n += len(page["items"])
        cont = page["metadata"].get("continue")
        if not cont:
            return n


def main(n: int) -> None:
    sim = SimCluster(scenario="empty").start()
    try:
        kind = BY_KIND["Service"]
        for i in range(n):
            sim.store.create(kind, service(i))
        api = sim.api_client()
        v1 = client.CoreV1Api(api)
        list_raw(v1)  # warm up the connection and the server
        t_models, count_m = best(lambda: list_models(v1))
        t_raw, count_r = best(lambda: list_raw(v1))
        assert count_m == count_r == n, (count_m, count_r, n)
        body = v1.list_service_for_all_namespaces(_preload_content=False).data
        t_parse_models, _ = best(lambda: api.deserialize(body.decode(), "V1ServiceList", "application/json"))
        t_parse_raw, _ = best(lambda: json.loads(body))
    finally:
        sim.stop()
    print(f"{n} Services over HTTP, paged by 500, best of {ROUNDS}:")
    print(f"  client models        {t_models * 1000:8.0f} ms")
    print(f"  raw JSON             {t_raw * 1000:8.0f} ms")
    print(f"  ratio raw/models     {t_raw / t_models:8.3f}")
    print(f"parsing only ({len(body) / 1e6:.1f} MB, one unpaged list):")
    print(f"  client models        {t_parse_models * 1000:8.0f} ms")
    print(f"  json.loads           {t_parse_raw * 1000:8.0f} ms")
    print(f"  ratio raw/models     {t_parse_raw / t_parse_models:8.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
