"""API errors as the apiserver reports them: each becomes a `Status` object with the same code, reason and words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One `details.causes[]` entry: reason is FieldValueInvalid, FieldValueRequired, ..."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    name: str | None = None
    kind: str | None = None
    group: str | None = None
    causes: list[Cause] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if details:
            out["details"] = details
        out["code"] = self.code
        return out


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{what} "{name}" not found', name=name, kind=plural, group=group or None)


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(409, "AlreadyExists", f'{what} "{name}" already exists', name=name, kind=plural,
                    group=group or None)


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        name=name, kind=plural, group=group or None,
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 with the apiserver's message: one error inline, several as `[e1, e2]`."""
    parts = [f"{c.field}: {c.message}" for c in causes]
    body = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    what = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{what} "{name}" is invalid: {body}', name=name, kind=kind,
                    group=group or None, causes=causes)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(user: str, verb: str, plural: str, group: str, namespace: str | None, name: str | None = None,
              subresource: str | None = None) -> ApiError:
    """The authorizer's words: `services "web" is forbidden: User "x" cannot get resource "services" in API group ""
    in the namespace "dev"` (`at the cluster scope` without a namespace)."""
    what = f"{plural}.{group}" if group else plural
    subject = f'{what} "{name}"' if name else what
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403, "Forbidden",
        f'{subject} is forbidden: User "{user}" cannot {verb} resource '
        f'"{plural}{"/" + subresource if subresource else ""}" in API group "{group}"{scope}',
        name=name, kind=plural, group=group or None,
    )
