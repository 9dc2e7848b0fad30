"""The trace of one Service: its ports, the virtual servers this node should have for them, the real servers behind
each matched to EndpointSlice endpoints and pods, and every disagreement between those layers.

Pure: the caller gathers the state (ClusterState views, the node's IPVS table, DNS verdicts) and this module only
compares. What kube-proxy *should* have programmed comes from the same model of kube-proxy's ipvs proxier that the
simulated cluster uses (`tui.ipvs.expected`, per Service), so the trace and the emulator cannot drift apart; what it
*did* program is the table read from the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from tui.ipvs.expected import EmulatorConfig, service_virtual_servers
from tui.ipvs.model import IPVSTable, RealServer, VirtualServer
from tui.kube.models import SERVICE_PROXY_NAME_LABEL, PodView, ServicePort, ServiceView, SliceEndpoint, SliceView
from tui.kube.selectors import selector_matches
from tui.trace.model import Finding, PortTrace, RealServerLink, Trace, VirtualServerLink

if TYPE_CHECKING:  # the DNS verdicts come made; dnspython is imported only by those who ask DNS
    from tui.dns.verdict import Verdict

ISSUE_WEIGHT_0 = "kubernetes#92019, #108319"


@dataclass(frozen=True)
class NodeContext:
    """This node, as the trace sees it."""

    name: str
    ips: tuple[str, ...]  # the node's InternalIPs (NodePort virtual servers live on these)
    proxy_mode: str = "ipvs"  # the mode kube-proxy runs on this node (running if known, else configured)
    scheduler: str = ""  # kube-proxy's ipvs.scheduler; "" means rr
    table: IPVSTable | None = None  # None: not read (see table_error)
    table_error: str = ""  # why there is no table, in words


@dataclass(frozen=True)
class ServiceState:
    """The API side of one Service."""

    service: ServiceView
    slices: Sequence[SliceView] = ()
    # Pods of its namespace, or only the selected ones (gather.PodIndex); filtered here. None: not read, because its
    # slices answer every pod question (pods_needed) or, with pods_error, because reading them failed.
    pods: Sequence[PodView] | None = ()
    dns: Sequence[Verdict] = field(default=())
    pods_error: str = ""  # why the pods could not be read (a 403), one sentence


class _TableIndex:
    """A table's virtual servers by (protocol, address, port) and its addresses: IPVSTable.find scans the table,
    and a check of 10,000 Services looks up ~30,000 virtual servers."""

    def __init__(self, table: IPVSTable) -> None:
        self.table = table
        self.by_key = {(vs.protocol, vs.address, vs.port): vs for vs in reversed(table.virtual_servers)}
        self.addresses: dict[str, int] = {}
        for vs in table.virtual_servers:
            self.addresses[vs.address] = self.addresses.get(vs.address, 0) + 1


_last_index: list[_TableIndex] = []  # the last table's index (one node, one table at a time)


def table_index(table: IPVSTable) -> _TableIndex:
    last = _last_index[0] if _last_index else None
    if last is not None and last.table is table:
        return last
    index = _TableIndex(table)
    _last_index[:] = [index]
    return index


MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"


def _pod_slices(slices: Sequence[SliceView]) -> list[SliceView]:
    """The slices the endpointslice controller wrote from pods (not hand-made ones, which prove nothing of pods)."""
    return [sl for sl in slices if isinstance(sl.raw, Mapping)
            and ((sl.raw.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == SLICE_CONTROLLER
            and any(e.target_kind == "Pod" and e.target_name for e in sl.endpoints)]


def pods_needed(svc: ServiceView, slices: Sequence[SliceView]) -> bool:
    """Whether the pod-based verdicts need this Service's pods, or its EndpointSlices already answer them.

    The endpointslice controller writes an endpoint for each pod the selector matches, ready when the pod is Ready
    and not terminating, and resolves a named targetPort on each pod, leaving the port out of the slice for a pod
    that does not declare it. So a ready pod endpoint says "a pod matches" (no-pods) and "one is ready"
    (none-ready), and a slice port of that name with a number says "a selected pod declares the named targetPort"
    (target-port): those verdicts cannot fire, and the pods are not needed. Left open: no ready pod endpoint,
    publishNotReadyAddresses (endpoints ready whatever the pods), a named targetPort no slice resolved.

    Not answerable from slices: whether a *numeric* targetPort is declared by a container (slices carry the number
    either way). That warning is checked when the pods are read for the reasons above (or all of them, `svcscope
    check --all-pods`), not otherwise."""
    if svc.type == "ExternalName" or not svc.selector:
        return False  # _api_findings asks nothing of pods for these
    if svc.publish_not_ready:
        return True
    mine = _pod_slices(slices)
    if not any(e.ready is True and e.target_kind == "Pod" for sl in mine for e in sl.endpoints):
        return True
    for port in svc.ports:
        if isinstance(port.target_port, str) and not any(
                sp.name == port.name and sp.protocol == port.protocol and sp.port is not None
                for sl in mine for sp in sl.ports):
            return True
    return False


def _selected(svc: ServiceView, pods: Iterable[PodView]) -> list[PodView]:
    sel = svc.selector_dict
    return [p for p in pods if p.namespace == svc.namespace and selector_matches(sel, p.labels_dict)]


def _endpoints_for(port: ServicePort, slices: Sequence[SliceView]) -> tuple[list[SliceEndpoint], list[int]]:
    eps: list[SliceEndpoint] = []
    numbers: set[int] = set()
    for sl in slices:
        for sp in sl.ports:
            if sp.name == port.name and (sp.protocol or "TCP") == port.protocol and sp.port is not None:
                numbers.add(sp.port)
                eps.extend(sl.endpoints)
    return eps, sorted(numbers)


def _api_findings(svc: ServiceView, selected: list[PodView] | None, state: ServiceState) -> list[Finding]:
    """Findings from the Service object and its pods; `selected` None: the pods were not read."""
    out: list[Finding] = []
    if svc.type == "LoadBalancer" and not svc.lb_ingress:
        out.append(Finding("warning", "lb-pending", "", "LoadBalancer is pending: no ingress IP assigned",
                           "no load-balancer controller answered; check the cloud controller or MetalLB"))
    if svc.type == "ExternalName":
        out.append(Finding("info", "external-name", "", f"ExternalName: DNS answers a CNAME to {svc.external_name}; "
                                                        "there are no endpoints or IPVS rules"))
        return out
    if not svc.selector:
        out.append(Finding("info", "no-selector", "", "no selector: its EndpointSlices are managed by hand or by "
                                                      "another controller"))
        return out
    if selected is None:
        if state.pods_error:
            out.append(Finding("info", "pods-unknown", "", "pods could not be read, so the selector, readiness and "
                                                           "targetPorts are not checked against them: "
                                                           f"{state.pods_error}"))
        return out
    if not selected:
        out.append(Finding("error", "no-pods", "", f"selector {svc.kubectl_selector()} matches no pod in "
                                                   f"namespace {svc.namespace}",
                           "check the pods' labels (kubectl get pods --show-labels) against the selector"))
        return out
    ready = [p for p in selected if p.ready and not p.deleting]
    if not ready:
        out.append(Finding("error", "none-ready", "", f"{len(selected)} pod(s) match the selector but none is ready",
                           "look at the pods' readiness probes and events (kubectl describe pod)"))
    declared = {cp for p in selected for cp in p.container_ports}  # once, not per port (a check's hot spot)
    for port in svc.ports:
        if isinstance(port.target_port, str):
            if not any(name == port.target_port and proto == port.protocol for name, _, proto in declared):
                out.append(Finding("error", "target-port", f"port {port.port}/{port.protocol}",
                                   f"targetPort {port.target_port!r} is not a named port of any selected pod's "
                                   "containers, so no endpoint gets this port",
                                   "name the container port or use its number"))
        elif declared and not any(num == port.target_port and proto == port.protocol for _, num, proto in declared):
            out.append(Finding("warning", "target-port", f"port {port.port}/{port.protocol}",
                               f"targetPort {port.target_port} is not declared by any selected pod's containers",
                               "the pods may still listen there; if not, fix targetPort"))
    return out


def _role(vs: VirtualServer, svc: ServiceView, port: ServicePort) -> str:
    if vs.address in svc.cluster_ips:
        return "ClusterIP"
    if vs.address in svc.external_ips:
        return "externalIP"
    if vs.address in svc.lb_ingress:
        return "LoadBalancer"
    if port.node_port and vs.port == port.node_port:
        return f"NodePort on {vs.address}"
    return "virtual server"


def _rs_findings(subject: str, expected: RealServer | None, actual: RealServer | None,
                 ep: SliceEndpoint | None) -> list[Finding]:
    if actual is None:
        if expected is not None and expected.weight > 0:
            return [Finding("error", "missing-real-server", subject,
                            "ready endpoint is in the EndpointSlice but not in this node's IPVS table",
                            "kube-proxy is behind or broken on this node: check its pod's logs")]
        return []  # a terminating endpoint kube-proxy already dropped: nothing wrong
    draining = actual.weight == 0 and (actual.active_conns or actual.inactive_conns)
    if expected is None:
        if actual.weight > 0:
            return [Finding("error", "stale-real-server", subject,
                            f"real server at weight {actual.weight} has no endpoint in any EndpointSlice",
                            "a stale rule: kube-proxy did not remove it (restart kube-proxy on this node)")]
        if draining:
            return [Finding("info", "draining", subject, f"gone from the EndpointSlices, draining at weight 0 "
                                                         f"({actual.active_conns} active, "
                                                         f"{actual.inactive_conns} inactive connections)")]
        return [Finding("info", "draining", subject, "gone from the EndpointSlices, kept at weight 0 until its "
                                                     "connections end")]
    if expected.weight > 0 and actual.weight == 0:
        return [Finding("error", "ready-weight-0", subject, "ready endpoint is at weight 0 in IPVS: it gets no "
                                                            "new connections",
                        f"known kube-proxy bug after restarts ({ISSUE_WEIGHT_0}); restart kube-proxy")]
    if expected.weight == 0 and actual.weight > 0:
        what = "terminating" if ep is not None and ep.is_terminating else "unused"
        return [Finding("warning", "terminating-weighted", subject,
                        f"{what} endpoint still has weight {actual.weight}: new connections still reach it",
                        "kube-proxy has not synced since the endpoint started terminating")]
    if expected.weight == 0 and draining:
        return [Finding("info", "draining", subject, f"terminating endpoint draining at weight 0 "
                                                     f"({actual.active_conns} active connections)")]
    return []


def _vs_findings(role: str, endpoint: str, expected: VirtualServer, actual: VirtualServer | None,
                 svc: ServiceView) -> list[Finding]:
    if actual is None:
        if role.startswith("NodePort"):
            return [Finding("error", "nodeport-missing", endpoint, f"no virtual server for the {role}",
                            "kube-proxy has not programmed this NodePort on this node")]
        return [Finding("error", "vs-missing", endpoint, f"no virtual server for the {role}",
                        "kube-proxy has not programmed this Service on this node: check its pod and logs")]
    out = []
    if actual.scheduler != expected.scheduler:
        out.append(Finding("warning", "scheduler", endpoint,
                           f"scheduler is {actual.scheduler}, kube-proxy's ipvs.scheduler implies "
                           f"{expected.scheduler}",
                           "changed by hand, or kube-proxy has not restarted since the ConfigMap changed"))
    if actual.persistent != expected.persistent:
        want = f"ClientIP affinity ({svc.affinity_timeout or 10800} s)" if expected.persistent else "no affinity"
        got = f"persistent {actual.timeout} s" if actual.persistent else "not persistent"
        out.append(Finding("error", "persistence", endpoint,
                           f"virtual server is {got} but the Service asks for {want}",
                           "kube-proxy has not synced the Service's sessionAffinity"))
    elif expected.persistent and actual.timeout != expected.timeout:
        out.append(Finding("error", "persistence", endpoint,
                           f"persistence timeout is {actual.timeout} s, the Service's affinity timeout is "
                           f"{expected.timeout} s", "kube-proxy has not synced the Service's sessionAffinityConfig"))
    return out


def _pod_of(ep: SliceEndpoint | None) -> str:
    if ep is None or not ep.target_name:
        return ""
    return f"{ep.target_namespace or ep.namespace}/{ep.target_name}"


def _port_trace(svc: ServiceView, port: ServicePort, state: ServiceState, node: NodeContext,
                expected: list[VirtualServer] | None) -> PortTrace:
    eps, numbers = _endpoints_for(port, state.slices)
    links: list[VirtualServerLink] = []
    if expected is not None and node.table is not None:
        by_addr = {(e.addresses[0], n): e for e in eps if e.addresses for n in numbers}
        mine = [vs for vs in expected if vs.protocol == port.protocol and
                (vs.port == port.port and vs.address not in node.ips or
                 port.node_port is not None and vs.port == port.node_port and vs.address in node.ips)]
        index = table_index(node.table)
        for exp_vs in mine:
            act_vs = index.by_key.get((exp_vs.protocol, exp_vs.address, exp_vs.port))
            role, endpoint = _role(exp_vs, svc, port), exp_vs.endpoint
            vs_findings = _vs_findings(role, endpoint, exp_vs, act_vs, svc)
            rs_links: list[RealServerLink] = []
            if act_vs is not None:
                exp_rs = {rs.key: rs for rs in exp_vs.real_servers}
                act_rs = {rs.key: rs for rs in act_vs.real_servers}
                for key in sorted(set(exp_rs) | set(act_rs)):
                    ep = by_addr.get(key)
                    subject = f"{endpoint} -> {key[0]}:{key[1]}"
                    rs_links.append(RealServerLink(
                        key[0], key[1], act_rs.get(key), exp_rs[key].weight if key in exp_rs else None, ep,
                        _pod_of(ep), tuple(_rs_findings(subject, exp_rs.get(key), act_rs.get(key), ep))))
            links.append(VirtualServerLink(role, endpoint, act_vs, exp_vs, tuple(rs_links),
                                           tuple(vs_findings)))
    findings: list[Finding] = []
    if svc.type in ("NodePort", "LoadBalancer") and svc.external_traffic_policy == "Local" and port.node_port:
        local = [e for e in eps if e.node_name == node.name and e.is_ready]
        if not local:
            findings.append(Finding("warning", "etp-local-no-endpoint", f"port {port.port}/{port.protocol}",
                                    f"externalTrafficPolicy is Local and node {node.name} has no ready endpoint: "
                                    f"external traffic to this node's NodePort {port.node_port} has no local backend",
                                    "send external traffic only to nodes that run the pods, or use Cluster"))
    return PortTrace(port, tuple(eps), tuple(numbers), tuple(links), tuple(findings))


def _ipvs_layer(svc: ServiceView, node: NodeContext) -> tuple[list[Finding], str]:
    """Whether this Service should be in IPVS on this node, and which table the trace compares with."""
    if svc.type == "ExternalName":
        return [], ""
    if svc.headless:
        return [Finding("info", "not-proxied", "", "headless: rightly absent from IPVS (DNS answers with the "
                                                   "endpoints themselves)")], ""
    if SERVICE_PROXY_NAME_LABEL in svc.labels_dict:
        return [Finding("info", "not-proxied", "", f"labelled {SERVICE_PROXY_NAME_LABEL}: another proxy serves it, "
                                                   "rightly absent from kube-proxy's IPVS rules")], ""
    if node.proxy_mode and node.proxy_mode != "ipvs":
        index = table_index(node.table) if node.table else None
        leftovers = sum(index.addresses.get(ip, 0) for ip in svc.cluster_ips) if index else 0
        out = [Finding("info", "not-ipvs", "", f"kube-proxy runs {node.proxy_mode} on node {node.name}: the IPVS "
                                               "layer is not used")]
        if leftovers:
            out.append(Finding("warning", "leftover-rules", "", f"{leftovers} IPVS virtual server(s) for this "
                                                                "Service remain from an earlier ipvs mode",
                               "clean up with ipvsadm --clear once nothing uses IPVS (kube-proxy --cleanup)"))
        return out, f"kube-proxy mode {node.proxy_mode}"
    if node.table is None:
        return [Finding("warning", "no-ipvs-table", "", f"this node's IPVS table was not read: {node.table_error}")], \
            node.table_error
    return [], f"IPVS from {node.table.source}"


def trace_service(state: ServiceState, node: NodeContext) -> Trace:
    svc = state.service
    selected = _selected(svc, state.pods) if state.pods is not None else None
    findings = _api_findings(svc, selected, state)
    ipvs_findings, note = _ipvs_layer(svc, node)
    findings += ipvs_findings
    expected = None
    if svc.proxied and node.table is not None and (not node.proxy_mode or node.proxy_mode == "ipvs"):
        expected = service_virtual_servers(svc, state.slices, node.ips, node.name,
                                           EmulatorConfig(scheduler=node.scheduler, mode="ipvs"))
    ports = tuple(_port_trace(svc, p, state, node, expected) for p in svc.ports)
    dns_lines: list[str] = []
    for verdict in state.dns:
        dns_lines += verdict.lines()
        if verdict.ok is False:
            for d in verdict.differences:
                code = "dns-disagree" if d.kind == "disagree" else "dns"
                findings.append(Finding("error", code, f"DNS {verdict.expectation.qname} "
                                                       f"{verdict.expectation.qtype}", d.line().strip(),
                                        "CoreDNS is stale or misconfigured" if code == "dns" else
                                        "one CoreDNS pod answers differently: restart or inspect it"))
    everything = list(findings)
    for p in ports:
        everything += p.findings
        for vs in p.virtual_servers:
            everything += vs.findings
            for rs in vs.real_servers:
                everything += rs.findings
    return Trace(svc, tuple(selected or ()), ports, tuple(findings), note, tuple(dns_lines), tuple(everything))
