"""The three patch formats the apiserver applies: JSON merge patch (RFC 7386), strategic merge patch, JSON patch.

Strategic merge patch is what kubectl and the Python client send for built-in types: maps merge, `null` deletes,
and lists whose Go type declares a merge key (Service `spec.ports` by `port`, containers by `name`, ...) merge
element by element instead of being replaced. The merge keys below cover the types the simulated cluster serves;
any other list is replaced whole, as for a list without a patch strategy. The `$patch`, `$retainKeys`,
`$setElementOrder/` and `$deleteFromPrimitiveList/` directives that kubectl apply writes are honoured.

Errors raise PatchError; the server turns it into the apiserver's Status (422 for a patch that does not apply,
400 for one that is not a patch at all).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


class PatchError(ValueError):
    """A patch that cannot be applied. `code` is the HTTP status the apiserver answers with."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


# -- JSON merge patch -------------------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a map patch merges into a map target, `null` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# -- strategic merge patch --------------------------------------------------------------------------------------

# (path of the list without indexes, as dotted field names) -> merge key. A path ending is enough: pod specs sit
# under spec (Pod), spec.template.spec (Deployment, DaemonSet).
_MERGE_KEYS_BY_SUFFIX: tuple[tuple[str, str], ...] = (
    ("containers.ports", "containerPort"),
    ("initContainers.ports", "containerPort"),
    ("ephemeralContainers.ports", "containerPort"),
    ("containers", "name"),
    ("initContainers", "name"),
    ("ephemeralContainers", "name"),
    ("env", "name"),
    ("volumeMounts", "mountPath"),
    ("volumeDevices", "devicePath"),
    ("volumes", "name"),
    ("imagePullSecrets", "name"),
    ("hostAliases", "ip"),
    ("topologySpreadConstraints", "topologyKey"),
    ("resourceClaims", "name"),
    ("conditions", "type"),
    ("ownerReferences", "uid"),
    ("taints", "key"),
    ("addresses", "type"),  # Node status.addresses
    ("podIPs", "ip"),
    ("hostIPs", "ip"),
    ("containerStatuses", "name"),
    ("initContainerStatuses", "name"),
    ("images", "names"),
)
# Lists of scalars whose patch strategy is merge (set union), not replace.
_MERGED_SCALAR_LISTS: tuple[str, ...] = ("metadata.finalizers",)


def merge_key_for(kind: str, path: str) -> str | None:
    if kind == "Service" and path == "spec.ports":
        return "port"
    if kind == "EndpointSlice":
        return None  # endpoints and ports are atomic lists
    for suffix, key in _MERGE_KEYS_BY_SUFFIX:
        if path == suffix or path.endswith("." + suffix):
            return key
    return None


def strategic_merge_patch(original: Obj, patch: Obj, kind: str) -> Obj:
    if not isinstance(patch, dict):
        raise PatchError("the body of a strategic merge patch must be a JSON object", 400)
    return _smp_map(original, patch, kind, "")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _smp_map(original: Any, patch: Obj, kind: str, path: str) -> Obj:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    out = dict(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [x for x in out[field] if x not in value]
            continue
        sub = _join(path, key)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = _smp_map(out.get(key), value, kind, sub)
        elif isinstance(value, list):
            out[key] = _smp_list(out.get(key), value, kind, sub)
        else:
            out[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _apply_order(out[field], order, merge_key_for(kind, _join(path, field)))
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(original: Any, patch: list[Any], kind: str, path: str) -> list[Any]:
    key = merge_key_for(kind, path)
    base = list(original) if isinstance(original, list) else []
    if key is None:
        if path in _MERGED_SCALAR_LISTS:
            return base + [x for x in patch if x not in base]
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return copy.deepcopy(patch)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    out = list(base)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"{path}: expected an object in a list merged by {key!r}, got {item!r}")
        if key not in item:
            raise PatchError(f"{path}: map in the list does not contain the merge key {key!r}")
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_smp_map({}, item, kind, path))
        else:
            out[idx] = _smp_map(out[idx], item, kind, path)
    return out


def _apply_order(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """`$setElementOrder`: items named in `order` come first, in that order; the rest keep their place after."""
    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    ranked = [x for w in wanted for x in items if ident(x) == w]
    rest = [x for x in items if ident(x) not in wanted]
    return ranked + rest


# -- JSON patch -------------------------------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}", 400)
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return cur


def _add(doc: Any, parts: list[str], value: Any, path: str, replace: bool) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path!r}")
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = copy.deepcopy(value)
            else:
                parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchError(f"index out of range in {path!r}")
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"remove operation does not apply: doc is missing path: {path!r}")


def json_patch(original: Obj, ops: Any) -> Obj:
    """RFC 6902 operations applied in order to a copy; any failing operation fails the whole patch."""
    if not isinstance(ops, list):
        raise PatchError("the body of a JSON patch must be a JSON array of operations", 400)
    doc: Any = copy.deepcopy(original)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}", 400)
        kind, path = op["op"], op.get("path")
        parts = _pointer(path)
        if kind == "add":
            doc = _add(doc, parts, op.get("value"), path, replace=False)
        elif kind == "replace":
            doc = _add(doc, parts, op.get("value"), path, replace=True)
        elif kind == "remove":
            _remove(doc, parts, path)
        elif kind in ("move", "copy"):
            src = op.get("from")
            value = copy.deepcopy(_resolve(doc, _pointer(src), src))
            if kind == "move":
                _remove(doc, _pointer(src), src)
            doc = _add(doc, parts, value, path, replace=False)
        elif kind == "test":
            if _resolve(doc, parts, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}", 400)
    if not isinstance(doc, dict):
        raise PatchError("the patched document is not an object")
    return doc


def apply(content_type: str, original: Obj, body: Any, kind: str) -> Obj:
    """Apply a patch by its Content-Type (without parameters)."""
    if content_type == MERGE:
        if not isinstance(body, dict):
            raise PatchError("the body of a merge patch must be a JSON object", 400)
        return merge_patch(original, body)
    if content_type == STRATEGIC:
        return strategic_merge_patch(original, body, kind)
    if content_type == JSON_PATCH:
        return json_patch(original, body)
    raise PatchError(f"unsupported patch type {content_type!r}", 415)
