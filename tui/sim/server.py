"""The simulated cluster's HTTP API: an aiohttp app that answers as a kube-apiserver does, for the types we serve.

One catch-all route parses the path itself (`/api/v1/...`, `/apis/{group}/{version}/...`, the legacy `/watch/`
prefix), so that any path, known or not, gets a proper `Status` answer and never an HTML page or a traceback.
Every write goes through `admission` (defaulting, validation, allocation) and then the store; every read comes
from the store. Watches are streaming responses, one JSON event per line, fed by a store subscription.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import logging
import random
import string
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import yaml
from aiohttp import web

from tui.kube import selectors
from tui.sim import admission, discovery, errors, fields, patch, protobuf, tables
from tui.sim.faults import Faults
from tui.sim.jsoncache import EncodedObjects
from tui.sim.rbac import DEMO_USER, RbacRules
from tui.sim.resources import RESOURCES, ResourceType
from tui.sim.store import Obj, Store
from tui.sim.watch import WatchOptions, WatchStream, dump, int_param, truthy

log = logging.getLogger(__name__)

JSON = "application/json"
# Bearer tokens the sim knows, and the user each one authenticates; any other token is 401 Unauthorized (as an
# expired one). A request without credentials is the demo user: kubectl never sends a token over plain HTTP.
TOKENS: dict[str, str] = {"svcscope-demo-token": DEMO_USER, "svcscope-other-token": "svcscope-other"}

# Field selectors the apiserver supports per kind, besides metadata.name and metadata.namespace.
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "Service": ("spec.clusterIP", "spec.type"),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "EndpointSlice": ("addressType",),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"),
}
# Subresources served, per kind: status (get/update/patch of .status) and scale (kubectl scale).
SUBRESOURCES: dict[str, tuple[str, ...]] = {"Service": ("status",), "Pod": ("status",), "Namespace": ("status",),
                                            "Node": ("status",), "DaemonSet": ("status",),
                                            "Deployment": ("status", "scale")}
# DELETE answers with the deleted object for these (their registries set ReturnDeletedObject); others get a Status.
RETURNS_DELETED_OBJECT = {"Service", "Pod", "Namespace"}

_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def status_response(err: errors.ApiError) -> web.Response:
    return web.Response(status=err.code, body=dump(err.status()), content_type=JSON)


def json_response(obj: Any, status: int = 200, warnings: list[str] | tuple[str, ...] = ()) -> web.Response:
    resp = web.Response(status=status, body=dump(obj), content_type=JSON)
    for w in warnings:  # as the apiserver's Warning headers, which kubectl prints as "Warning: ..."
        resp.headers.add("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return resp


def _decode(request: web.Request, t: "Target", obj: Obj) -> fields.Decoded:
    """Type errors and unknown fields, before anything else looks at the object (the apiserver's decoder)."""
    try:
        return fields.decode(t.res.kind, t.res.api_version, obj, request.query.get("fieldValidation", ""))
    except fields.DecodeError as exc:
        raise errors.bad_request(str(exc)) from None


@dataclass
class Target:
    """A parsed resource path."""

    res: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_prefix: bool = False


@dataclass
class _Snapshot:
    res: ResourceType
    rv: int
    items: list[Obj]


class SimServer:
    """The request handlers; `app()` builds the aiohttp application around them."""

    def __init__(self, store: Store, faults: Faults, rbac: RbacRules | None = None,
                 bookmark_interval: float = 5.0) -> None:
        self.store = store
        self.faults = faults
        self.rbac = rbac
        self.bookmark_interval = bookmark_interval
        self._snapshots: collections.OrderedDict[str, _Snapshot] = collections.OrderedDict()
        self._snapshot_seq = 0
        self._watches: set[WatchStream] = set()
        self.encoded = EncodedObjects(store)
        # The last requests as (method, path with query): tests assert on what a client really asked.
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=1000)
        faults.on_expire(self._snapshots.clear)
        self._by_gv: dict[str, dict[str, ResourceType]] = {}
        for r in RESOURCES:
            self._by_gv.setdefault(r.api_version, {})[r.plural] = r

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    def stop_watches(self) -> None:
        """End every open watch stream cleanly (server shutdown)."""
        for w in list(self._watches):
            w.stop()

    def abort_watches(self) -> None:
        for w in list(self._watches):
            w.drop(None, True)

    @property
    def open_watches(self) -> int:
        return len(self._watches)

    # -- middleware: faults, errors ------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        delay = self.faults.delay_seconds
        if delay:
            await asyncio.sleep(delay)
        injected = self.faults.match_answer(request.method, request.path, request.path_qs)
        if injected is not None:
            return status_response(injected)
        try:
            return await handler(request)
        except errors.ApiError as err:
            return status_response(err)
        except patch.PatchError as err:
            reason = {400: "BadRequest", 415: "UnsupportedMediaType"}.get(err.code, "Invalid")
            return status_response(errors.ApiError(err.code, reason, str(err)))
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug in the sim must still answer like an apiserver, not with a traceback
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            return status_response(errors.ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    # -- routing ----------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET":
            doc = self._non_resource(parts)
            if doc is not None:
                return doc
        target = self._parse_target(parts)
        if target is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource",
                                  causes=[errors.Cause("UnexpectedServerResponse", "404 page not found", "")])
        return await self._serve(request, target, user)

    def _non_resource(self, parts: list[str]) -> web.StreamResponse | None:
        if not parts:
            return json_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2",
                                            "/openapi/v3", "/readyz", "/version"] +
                                  [f"/apis/{gv}" for gv in discovery.group_versions() if "/" in gv]})
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return web.Response(text="ok", content_type="text/plain")
        if parts == ["version"]:
            return json_response(discovery.VERSION)
        if parts == ["api"]:
            return json_response(discovery.api_versions())
        if parts == ["apis"]:
            return json_response(discovery.api_group_list())
        if len(parts) == 2 and parts[0] == "apis":
            group = discovery.api_group(parts[1])
            if group is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(group)
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            gv = "v1" if parts[0] == "api" else f"{parts[1]}/{parts[2]}"
            doc = discovery.resource_list(gv)
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        if parts[:1] == ["openapi"]:
            if parts == ["openapi", "v2"]:
                return json_response(discovery.openapi_v2())
            if parts == ["openapi", "v3"]:
                return json_response(discovery.openapi_v3_root())
            if parts[:2] == ["openapi", "v3"]:
                doc = discovery.openapi_v3("/".join(parts[2:]))
                if doc is not None:
                    return json_response(doc)
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        return None

    def _parse_target(self, parts: list[str]) -> Target | None:
        if parts[:2] == ["api", "v1"]:
            gv, rest = "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        kinds = self._by_gv.get(gv)
        if not kinds or not rest:
            return None
        watch_prefix = rest[0] == "watch"
        if watch_prefix:
            rest = rest[1:]
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in kinds and kinds[rest[2]].namespaced:
            res, ns, tail = kinds[rest[2]], rest[1], rest[3:]
        elif len(rest) >= 2 and rest[0] == "namespaces" and rest[1] == "":
            return None
        elif rest[0] in kinds:
            res, ns, tail = kinds[rest[0]], None, rest[1:]
        else:
            return None
        if len(tail) > 2:
            return None
        name = tail[0] if tail else None
        sub = tail[1] if len(tail) > 1 else None
        if sub is not None and sub not in SUBRESOURCES.get(res.kind, ()):
            return None
        if res.namespaced and ns is None and name is not None:
            return None  # a namespaced object is only addressable inside its namespace
        return Target(res, ns, name, sub, watch_prefix)

    # -- request handling ----------------------------------------------------------------------------------------

    @staticmethod
    def _user(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return DEMO_USER
        user = TOKENS.get(auth[7:].strip()) if auth.startswith("Bearer ") else None
        if user is None:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        return user

    @staticmethod
    def _verb(request: web.Request, t: Target) -> str:
        q = request.query
        if request.method == "GET":
            if t.watch_prefix or truthy(q.get("watch")):
                return "watch"
            return "get" if t.name else "list"
        if request.method == "DELETE":
            return "delete" if t.name else "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(request.method, request.method.lower())

    async def _serve(self, request: web.Request, t: Target, user: str) -> web.StreamResponse:
        verb = self._verb(request, t)
        if self.rbac is not None:
            self.rbac.check(user, verb, t.res.group, t.res.plural, t.namespace, t.name, t.subresource)
        if (verb not in t.res.verbs and not t.subresource) or (t.subresource and verb not in ("get", "update", "patch")):
            raise errors.ApiError(405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested resource")
        q = request.query
        if verb in ("create", "update", "patch", "delete", "deletecollection"):
            self._check_write_params(q)
        if t.subresource == "scale":
            return await self._scale(request, t, verb)
        if verb == "watch":
            return await self._watch(request, t)
        if verb == "list":
            return self._list(request, t)
        if verb == "get":
            obj = self.store.require(t.res, t.namespace, t.name or "")
            if self._wants_table(request) and not t.subresource:
                return json_response(tables.table(t.res.kind, [obj], self.store.clock(),
                                                  resource_version=obj["metadata"].get("resourceVersion", ""),
                                                  include_object=q.get("includeObject", "Metadata")))
            return web.Response(body=self.encoded.encode(obj), content_type=JSON)
        if verb == "create":
            if t.name is not None:
                raise errors.ApiError(405, "MethodNotAllowed",
                                      "the server does not allow this method on the requested resource")
            return await self._create(request, t)
        if verb == "update":
            return await self._update(request, t)
        if verb == "patch":
            return await self._patch(request, t)
        if verb == "delete":
            return await self._delete(request, t)
        if verb == "deletecollection":
            return await self._delete_collection(request, t)
        raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @staticmethod
    def _check_write_params(q: Any) -> None:
        for value in q.getall("dryRun", []):
            if value != "All":
                raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        fv = q.get("fieldValidation", "")
        if fv not in ("", "Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation: Unsupported value: "{fv}": supported values: '
                                     '"Ignore", "Warn", "Strict"')

    @staticmethod
    def _dry_run(request: web.Request, body: Mapping[str, Any] | None = None) -> bool:
        if "All" in request.query.getall("dryRun", []):
            return True
        return isinstance(body, Mapping) and "All" in (body.get("dryRun") or [])

    @staticmethod
    def _wants_table(request: web.Request) -> bool:
        accept = request.headers.get("Accept", "")
        return any("as=Table" in part for part in accept.split(","))

    # -- bodies ---------------------------------------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request, allow_empty: bool = False) -> Any:
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        raw = await request.read()
        if "protobuf" in ctype:
            try:  # kubectl's imperative `create namespace|configmap|service|deployment` sends only protobuf
                return protobuf.decode(raw)
            except protobuf.UnsupportedProtobuf as exc:
                raise errors.ApiError(
                    415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"application/json, application/yaml ({exc}; the simulated cluster decodes protobuf only for "
                    f"namespaces, configmaps, services and deployments: pipe `kubectl create ... "
                    f"--dry-run=client -o yaml` into `kubectl create -f -`)") from None
        if "cbor" in ctype:
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: application/json, application/yaml")
        if not raw.strip():
            if allow_empty:
                return None
            raise errors.bad_request("the body of the request was empty")
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
        if ctype.startswith("application/apply-patch"):
            raise errors.ApiError(
                415, "UnsupportedMediaType",
                "server-side apply is not supported by the simulated cluster: use kubectl apply without "
                "--server-side, or kubectl patch")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    def _object_body(self, body: Any, t: Target) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"couldn't get version/kind; json parse error: expected a JSON object, got {type(body).__name__}")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version not in (None, "", t.res.api_version):
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version ({t.res.api_version})")
        if kind not in (None, "", t.res.kind):
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({t.res.kind})")
        meta = body.get("metadata")
        if meta is None:
            body["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if t.res.namespaced:
            ns = meta.get("namespace") or t.namespace
            if t.namespace and ns != t.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        return body

    def _require_namespace(self, namespace: str | None) -> None:
        ns_res = self._by_gv["v1"]["namespaces"]
        if namespace and self.store.get(ns_res, None, namespace) is None:
            raise errors.not_found("namespaces", namespace)

    # -- writes --------------------------------------------------------------------------------------------------

    async def _create(self, request: web.Request, t: Target) -> web.Response:
        if t.res.namespaced and not t.namespace:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        body = await self._body(request)
        decoded = _decode(request, t, self._object_body(body, t))
        obj = decoded.obj
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "selfLink", "generation"):
            meta.pop(key, None)
        self._require_namespace(meta.get("namespace") if t.res.namespaced else None)
        dry = self._dry_run(request)
        with self.store.lock:
            obj = admission.admit(self.store, t.res, obj, None, dry)
            created = self.store.create(t.res, obj, dry_run=dry)
        return json_response(created, 201, decoded.warnings)

    async def _update(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request)
        decoded = _decode(request, t, self._object_body(body, t))
        obj = decoded.obj
        name = obj["metadata"].get("name")
        if name != t.name:
            raise errors.bad_request(f"the name of the object ({name}) does not match the name on the URL ({t.name})")
        dry = self._dry_run(request)
        with self.store.lock:
            old = self.store.require(t.res, t.namespace, t.name or "")
            if t.subresource == "status":
                obj = {**old, "status": obj.get("status"),
                       "metadata": {**old["metadata"], "resourceVersion": obj["metadata"].get("resourceVersion")}}
            else:
                obj = admission.admit(self.store, t.res, obj, old, dry)
            updated = self.store.update(t.res, obj, dry_run=dry)
        return json_response(updated, warnings=decoded.warnings)

    async def _patch(self, request: web.Request, t: Target) -> web.Response:
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = await self._body(request)
        if ctype not in (patch.MERGE, patch.STRATEGIC, patch.JSON_PATCH):
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  f'the body of the request was in an unknown format - accepted media types include: '
                                  f'{patch.JSON_PATCH}, {patch.MERGE}, {patch.STRATEGIC}')
        dry = self._dry_run(request)
        with self.store.lock:
            old = self.store.require(t.res, t.namespace, t.name or "")
            patched = patch.apply(ctype, old, body, t.res.kind)
            meta = patched.get("metadata")
            if not isinstance(meta, dict) or meta.get("name") != t.name:
                raise errors.invalid(t.res.kind, t.name or "", [errors.Cause(
                    "FieldValueInvalid", f'Invalid value: "{(meta or {}).get("name") if isinstance(meta, dict) else meta}": field is immutable',
                    "metadata.name")], t.res.group)
            if t.res.namespaced and meta.get("namespace") != t.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            patched["apiVersion"], patched["kind"] = t.res.api_version, t.res.kind
            decoded = _decode(request, t, patched)
            patched = decoded.obj
            if t.subresource == "status":
                patched = {**old, "status": patched.get("status")}
            else:
                patched = admission.admit(self.store, t.res, patched, old, dry)
            updated = self.store.update(t.res, patched, dry_run=dry)
        return json_response(updated, warnings=decoded.warnings)

    @staticmethod
    def _as_scale(obj: Obj) -> Obj:
        """autoscaling/v1 Scale of a Deployment, as its /scale subresource shows it."""
        meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": status.get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}

    async def _scale(self, request: web.Request, t: Target, verb: str) -> web.Response:
        if verb == "get":
            return json_response(self._as_scale(self.store.require(t.res, t.namespace, t.name or "")))
        body = await self._body(request)
        dry = self._dry_run(request)
        with self.store.lock:
            old = self.store.require(t.res, t.namespace, t.name or "")
            scale = self._as_scale(old)
            if verb == "patch":
                ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
                scale = patch.apply(ctype, scale, body, "Scale")
            else:
                scale = body if isinstance(body, dict) else {}
            replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale.get("spec"), dict) else None
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid("Scale", t.name or "", [errors.Cause(
                    "FieldValueInvalid", f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "spec.replicas")], "autoscaling")
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            obj = {**old, "spec": {**(old.get("spec") or {}), "replicas": replicas},
                   "metadata": {**old["metadata"], "resourceVersion": rv or old["metadata"]["resourceVersion"]}}
            obj = admission.admit(self.store, t.res, obj, old, dry)
            updated = self.store.update(t.res, obj, dry_run=dry)
        return json_response(self._as_scale(updated))

    async def _delete(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request, allow_empty=True)
        options = body if isinstance(body, dict) else {}
        dry = self._dry_run(request, options)
        with self.store.lock:
            old = self.store.require(t.res, t.namespace, t.name or "")
            pre = options.get("preconditions") or {}
            if isinstance(pre, dict):
                for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                    want, have = pre.get(key), old["metadata"].get(key)
                    if want and want != have:
                        raise errors.ApiError(
                            409, "Conflict",
                            f'Operation cannot be fulfilled on {self._what(t.res)} "{t.name}": Precondition failed: '
                            f"{label} in precondition: {want}, {label} in object meta: {have}",
                            name=t.name, kind=t.res.plural, group=t.res.group or None)
            gone = admission.delete(self.store, t.res, t.namespace, t.name or "", dry)
            still_there = not dry and self.store.get(t.res, t.namespace, t.name or "") is not None
        if t.res.kind in RETURNS_DELETED_OBJECT or still_there:
            return json_response(gone, 202 if still_there else 200)
        details: dict[str, Any] = {"name": t.name, "kind": t.res.plural, "uid": gone["metadata"].get("uid", "")}
        if t.res.group:
            details["group"] = t.res.group
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": details})

    async def _delete_collection(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request, allow_empty=True)
        dry = self._dry_run(request, body if isinstance(body, dict) else None)
        where = self._filter(request, t)
        with self.store.lock:
            items, rv = self.store.list(t.res, t.namespace, where)
            gone = [admission.delete(self.store, t.res, o["metadata"].get("namespace"), o["metadata"]["name"], dry)
                    for o in list(items)]
        return json_response({"kind": t.res.list_kind, "apiVersion": t.res.api_version,
                              "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": gone})

    @staticmethod
    def _what(res: ResourceType) -> str:
        return f"{res.plural}.{res.group}" if res.group else res.plural

    # -- reads ------------------------------------------------------------------------------------------------

    def _filter(self, request: web.Request, t: Target) -> Callable[[Obj], bool] | None:
        q = request.query
        try:
            label_reqs = selectors.parse_label_selector(q.get("labelSelector"))
            field_text = q.get("fieldSelector")
            allowed = ("metadata.name", "metadata.namespace") + FIELD_LABELS.get(t.res.kind, ())
            for key in selectors.field_selector_keys(field_text):
                if key not in allowed:
                    raise errors.bad_request(f'field label not supported: {key}')
            field_match = selectors.parse_field_selector(field_text)
        except selectors.SelectorError as exc:
            raise errors.bad_request(f"unable to parse requirement: {exc}") from None
        name = t.name
        if not label_reqs and not field_text and name is None:
            return None

        def where(obj: Obj) -> bool:
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            if name is not None and meta.get("name") != name:
                return False
            return selectors.match_labels(label_reqs, meta.get("labels")) and field_match(obj)

        return where

    def _list(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        limit = int_param(q, "limit", 0)
        token = q.get("continue")
        if token:
            snap_id, start = self._decode_continue(token)
            snap = self._snapshots.get(snap_id)
            if snap is None or snap.res is not t.res or snap.rv < self.store.history_floor(t.res):
                raise errors.ApiError(410, "Expired", _EXPIRED_CONTINUE)
            items, rv = snap.items, snap.rv
        else:
            items, rv = self.store.list(t.res, t.namespace, self._filter(request, t))
            start, snap_id = 0, ""
        page = items[start:start + limit] if limit > 0 else items[start:]
        end = start + len(page)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if end < len(items):
            if not snap_id:
                snap_id = self._remember(_Snapshot(t.res, rv, items))
            meta["continue"] = self._encode_continue(snap_id, end, rv)
            meta["remainingItemCount"] = len(items) - end
        shape = self.faults.take_malformed(t.res.plural, "list")
        one_off = None
        if shape and page:
            one_off = self.faults.malform(page[0], shape)
            page = [one_off] + list(page[1:])
        if self._wants_table(request):
            return json_response(tables.table(t.res.kind, page, self.store.clock(), resource_version=str(rv),
                                              continue_=meta.get("continue", ""),
                                              include_object=q.get("includeObject", "Metadata")))
        head = {"kind": t.res.list_kind, "apiVersion": t.res.api_version, "metadata": meta}
        return web.Response(body=self.encoded.encode_list(head, page, one_off), content_type=JSON)

    def _remember(self, snap: _Snapshot) -> str:
        self._snapshot_seq += 1
        key = str(self._snapshot_seq)
        self._snapshots[key] = snap
        while len(self._snapshots) > 256:
            self._snapshots.popitem(last=False)
        return key

    @staticmethod
    def _encode_continue(snap_id: str, start: int, rv: int) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start, "snapshot": snap_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _decode_continue(token: str) -> tuple[str, int]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return str(data["snapshot"]), int(data["start"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                     "(version meta.k8s.io/v1)") from None

    # -- watch -----------------------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        opts = WatchOptions.parse(request.query, t.res, t.namespace, self._filter(request, t),
                                  self._wants_table(request))
        stream = WatchStream(self.store, self.faults, opts, self.bookmark_interval, self.encoded)
        self._watches.add(stream)
        try:
            return await stream.serve(request)
        finally:
            self._watches.discard(stream)
