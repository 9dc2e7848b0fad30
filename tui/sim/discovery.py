"""Discovery documents: what kubectl and the Python client read before any resource request.

`/version` reports 1.32 because the kubectl on these machines is a dispatcher that picks `kubectl.1.NN` from the
server's minor version. The OpenAPI v3 documents are minimal on purpose: kubectl reads them only to learn that the
server validates fields itself (a PATCH operation per kind carrying a `fieldValidation` query parameter), after
which `kubectl create -f` leaves validation to the server.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tui.sim.resources import RESOURCES, ResourceType

VERSION: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "31",
    "gitVersion": "v1.32.4-svcscope-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# kubectl get all: the kinds in the "all" category.
_ALL_CATEGORY = {"Pod", "Service", "DaemonSet", "Deployment"}


def group_versions() -> dict[str, list[ResourceType]]:
    """'v1' -> core resources, 'apps/v1' -> ..., in registry order."""
    out: dict[str, list[ResourceType]] = {}
    for r in RESOURCES:
        out.setdefault(r.api_version, []).append(r)
    return out


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def api_group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for gv in group_versions():
        if "/" in gv:
            g, v = gv.split("/", 1)
            groups.setdefault(g, []).append(v)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
         "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
        for g, vs in groups.items()]}


def api_group(group: str) -> dict[str, Any] | None:
    for g in api_group_list()["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resource_list(group_version: str) -> dict[str, Any] | None:
    resources = group_versions().get(group_version)
    if resources is None:
        return None
    out = []
    for r in resources:
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.kind in _ALL_CATEGORY:
            entry["categories"] = ["all"]
        entry["storageVersionHash"] = _hash(r.api_version + r.kind)[:12]
        out.append(entry)
        if r.kind in ("Service", "Pod", "Namespace", "Node", "Deployment", "DaemonSet"):
            out.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if r.kind == "Deployment":
            out.append({"name": f"{r.plural}/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                        "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


# -- OpenAPI v3 ---------------------------------------------------------------------------------------------------

def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def _gv_doc(group_version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in group_versions()[group_version]:
        prefix = "/" + _gv_path(group_version)
        item = (f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced
                else f"{prefix}/{r.plural}/{{name}}")
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
        paths[item] = {
            "patch": {
                "operationId": f"patch{r.kind}",
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


def openapi_v3_root() -> dict[str, Any]:
    out = {}
    for gv in group_versions():
        doc = json.dumps(_gv_doc(gv), sort_keys=True)
        out[_gv_path(gv)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={_hash(doc).upper()}"}
    return {"paths": out}


def openapi_v3(path: str) -> dict[str, Any] | None:
    """`path` as in the root document: 'api/v1', 'apis/apps/v1'."""
    for gv in group_versions():
        if _gv_path(gv) == path:
            return _gv_doc(gv)
    return None


def openapi_v2() -> dict[str, Any]:
    """A valid, nearly empty Swagger 2.0 document for clients that still ask for v2 (kubectl falls back to it)."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]}, "paths": {},
            "definitions": {}}
