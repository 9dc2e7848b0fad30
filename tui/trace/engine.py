"""Diagnoses kept up to date incrementally: the state a trace needs (Services, their EndpointSlices, pods, this
node's context and IPVS table, DNS verdicts) held by key, and each Service's Diagnosis recomputed only when
something it depends on changed.

What makes a Service dirty: its own object or its slices changed (by key); a pod its selector matches came, went
or changed (found through gather.PodIndex's label index, not by scanning); the node's mode, scheduler or IPs
changed (every Service); the IPVS table changed in the virtual servers this Service owns (each Service's share
of the table is fingerprinted, so a new table that differs in one Service recomputes one Service); its DNS
verdicts changed. A 10,000-Service cluster pays the full price once, at the first table; then O(changed).

Pure and single-owner (not thread-safe): the TUI runs one in a worker thread (tui.trace_feed), tests call it
directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping, Sequence

from tui.dns.verdict import Verdict
from tui.ipvs.model import IPVSTable, VirtualServer
from tui.kube.models import PodView, ServiceView, SliceView
from tui.trace.gather import PodIndex
from tui.trace.join import NodeContext, ServiceState, table_index, trace_service
from tui.trace.model import NODE_CODES, Diagnosis, Trace, diagnose

Key = tuple[str, str]
Obj = Mapping[str, Any]


def _rv(obj: Obj) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, Mapping) else ""


def _vs_print(vs: VirtualServer | None) -> tuple | None:
    """What the trace reads of a virtual server (not its traffic counters, which change on every read)."""
    if vs is None:
        return None
    return (vs.scheduler, vs.flags, vs.timeout,
            tuple((rs.address, rs.port, rs.weight, rs.active_conns > 0 or rs.inactive_conns > 0)
                  for rs in vs.real_servers))


class TraceEngine:
    def __init__(self, node: NodeContext | None = None) -> None:
        self.services: dict[Key, ServiceView] = {}
        self._slices: dict[Key, dict[Key, Obj]] = {}  # Service -> its slices (raw) by slice key
        self._slice_views: dict[Key, tuple[str, SliceView]] = {}  # slice key -> (resourceVersion, view)
        self.pods = PodIndex()
        self.node = node or NodeContext("", (), table_error="the node's context is not known yet")
        self._pods_error = ""  # why the pods cannot be read (a 403): no pod-based verdict is claimed meanwhile
        self._dns: dict[Key, tuple[Verdict, ...]] = {}
        self._dns_notes: dict[Key, str] = {}  # why DNS could not be asked
        self._prints: dict[Key, tuple] = {}  # each Service's share of the IPVS table, as last diagnosed
        self.results: dict[Key, Diagnosis] = {}
        self.dirty: set[Key] = set()
        self._by_selector: dict[tuple[str, str, str], set[Key]] = {}  # (ns, label, value) -> Services selecting it

    # -- inputs ----------------------------------------------------------------------------------------------

    def set_services(self, upserts: Iterable[ServiceView] = (), deletes: Iterable[Key] = ()) -> None:
        for key in deletes:
            old = self.services.pop(key, None)
            if old is not None:
                self._unindex(old)
            self.results.pop(key, None)
            self._prints.pop(key, None)
            self._dns.pop(key, None)
            self._dns_notes.pop(key, None)
            self.dirty.discard(key)
        for view in upserts:
            old = self.services.get(view.key)
            if old is view:
                continue
            if old is not None:
                self._unindex(old)
            self.services[view.key] = view
            self._index(view)
            self.dirty.add(view.key)

    def set_slices(self, service: Key, slices: Mapping[Key, Obj]) -> None:
        """All the EndpointSlices of one Service now (raw, by slice key)."""
        old = self._slices.get(service, {})
        if old.keys() == slices.keys() and all(old[k] is o or _rv(old[k]) == _rv(o) for k, o in slices.items()):
            return
        if slices:
            self._slices[service] = dict(slices)
        else:
            self._slices.pop(service, None)
        for key in set(old) - set(slices):
            self._slice_views.pop(key, None)
        self.dirty.add(service)

    def set_pods(self, upserts: Iterable[PodView] = (), deletes: Iterable[Key] = (), reset: bool = False) -> None:
        upserts = list(upserts)
        if reset:
            keep = {p.key for p in upserts}
            deletes = [*deletes, *(k for k in self.pods.pods if k not in keep)]
        for key in deletes:
            old = self.pods.remove(key)
            if old is not None:
                self._touch_pod(old)
        for pod in upserts:
            old = self.pods.put(pod)
            if old is not None and old.resource_version == pod.resource_version and old.raw is pod.raw:
                continue
            self._touch_pod(pod)
            if old is not None and old.labels != pod.labels:
                self._touch_pod(old)

    def set_pods_error(self, error: str) -> None:
        """The pods cannot be read (one sentence), or "" once they can: while they cannot, the Services with a
        selector say so (join's pods-unknown) instead of "no pod matches" from an empty pod list."""
        if error != self._pods_error:
            self._pods_error = error
            self.dirty.update(k for k, svc in self.services.items() if svc.selector)

    def set_node(self, node: NodeContext) -> None:
        before = self.node
        self.node = node
        if (before.name, before.ips, before.proxy_mode, before.scheduler, before.table_error,
                before.table is None) != (node.name, node.ips, node.proxy_mode, node.scheduler, node.table_error,
                                          node.table is None):
            self.dirty.update(self.services)
            return
        if node.table is not None and node.table is not before.table:
            self.dirty.update(k for k in self.services if k not in self.dirty and self._print(k) != self._prints.get(k))

    def set_table(self, table: IPVSTable | None, error: str = "") -> None:
        self.set_node(replace(self.node, table=table, table_error=error))

    def set_dns(self, service: Key, verdicts: Sequence[Verdict], note: str = "") -> None:
        """The DNS verdicts on this Service's names, or (none and) why DNS could not be asked."""
        verdicts = tuple(verdicts)
        if self._dns.get(service) != verdicts or self._dns_notes.get(service, "") != note:
            self._dns[service] = verdicts
            self._dns_notes[service] = note
            self.dirty.add(service)

    # -- results ---------------------------------------------------------------------------------------------

    def state(self, key: Key) -> ServiceState | None:
        svc = self.services.get(key)
        if svc is None:
            return None
        pods = None if self._pods_error else self.pods.selected(svc)
        return ServiceState(svc, self._slice_list(key), pods, self._dns.get(key, ()), self._pods_error)

    def trace(self, key: Key) -> Trace | None:
        """Trace one Service now (clean or not), keeping its Diagnosis."""
        state = self.state(key)
        if state is None:
            return None
        trace = trace_service(state, self.node)
        if self._dns_notes.get(key):
            trace = replace(trace, dns_lines=(f"not asked: {self._dns_notes[key]}",))
        self.dirty.discard(key)
        self._prints[key] = self._print(key)
        self.results[key] = diagnose(trace.all_findings, NODE_CODES)
        return trace

    def run(self, keys: Iterable[Key] | None = None, limit: int | None = None) -> dict[Key, Diagnosis]:
        """Recompute the dirty Services (only these of them, at most `limit`); returns the Diagnoses that changed."""
        todo = list(self.dirty if keys is None else self.dirty & set(keys))
        changed: dict[Key, Diagnosis] = {}
        for key in todo[:limit]:
            before = self.results.get(key)
            if self.trace(key) is not None and self.results[key] != before:
                changed[key] = self.results[key]
        return changed

    # -- internals -------------------------------------------------------------------------------------------

    def _slice_list(self, key: Key) -> list[SliceView]:
        # Built per trace, not kept: kept, 10,000 Services' views held ~14 MB (bench/pane_populate.py's memory
        # budget), and a Service is traced again only when dirty, its few views rebuilt in ~20 us.
        return [SliceView.from_api(obj) for _, obj in sorted(self._slices.get(key, {}).items())]

    def _print(self, key: Key) -> tuple:
        """This Service's share of the current table: every virtual server it could own, as the trace reads it."""
        svc, table = self.services.get(key), self.node.table
        if svc is None or table is None or not svc.proxied:
            return ()
        by_key = table_index(table).by_key
        out = []
        for port in svc.ports:
            addresses = [*svc.cluster_ips, *svc.external_ips, *svc.lb_ingress]
            out += [_vs_print(by_key.get((port.protocol, ip, port.port))) for ip in addresses]
            if port.node_port:
                out += [_vs_print(by_key.get((port.protocol, ip, port.node_port))) for ip in self.node.ips]
        return tuple(out)

    def _index(self, svc: ServiceView) -> None:
        for k, v in svc.selector:
            self._by_selector.setdefault((svc.namespace, k, v), set()).add(svc.key)

    def _unindex(self, svc: ServiceView) -> None:
        for k, v in svc.selector:
            keys = self._by_selector.get((svc.namespace, k, v))
            if keys is not None:
                keys.discard(svc.key)
                if not keys:
                    del self._by_selector[(svc.namespace, k, v)]

    def _touch_pod(self, pod: PodView) -> None:
        """Dirty the Services whose selector matches this pod (its label index gives the candidates)."""
        labels = dict(pod.labels)
        for k, v in pod.labels:
            for key in self._by_selector.get((pod.namespace, k, v), ()):
                svc = self.services.get(key)
                if svc is not None and all(labels.get(sk) == sv for sk, sv in svc.selector):
                    self.dirty.add(key)
