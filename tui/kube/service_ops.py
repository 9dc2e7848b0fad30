"""Creating and deleting Services over the API, each as a tui.kube.guard Mutation, and the server's refusals in
words the wizard can put next to the field they name.

A create is: preview (the exact YAML of ServiceSpec.manifest) -> server-side dry run (`dryRun=All`: the server
validates, defaults and allocates, commits nothing, and answers with what it filled in) -> create. Every call
returns an `Outcome` and never raises for API or network errors; `--read-only` stops them in Guard.check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tui.kube.client import explain_error
from tui.kube.guard import Guard, Mutation, StepResult
from tui.kube.service_spec import ServiceSpec

TIMEOUT = (5.0, 30.0)


@dataclass(frozen=True)
class Outcome:
    """What the server answered: the object (dry run or created), or why not (a sentence, plus the 422 causes by
    their apiserver path, for the wizard to put on its fields)."""

    ok: bool
    message: str
    obj: dict[str, Any] | None = None
    status: int | None = None
    reason: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def step(self, detail: str = "") -> StepResult:
        return StepResult(self.ok, self.message, detail)


def _target(spec: ServiceSpec, default_namespace: str) -> str:
    return spec.namespace or default_namespace or "default"


def create(api: k8s.ApiClient, spec: ServiceSpec, namespace: str, dry_run: bool,
           guard: Guard = Guard()) -> Outcome:
    """POST the manifest to NAMESPACE (the spec's own namespace wins); `dry_run` adds dryRun=All."""
    ns = _target(spec, namespace)
    what = f"Service {ns}/{spec.name}"
    guard.check(f"creating {what}")
    kw: dict[str, Any] = {"_request_timeout": TIMEOUT, "_preload_content": False}
    if dry_run:
        kw["dry_run"] = "All"
    try:
        resp = k8s.CoreV1Api(api).create_namespaced_service(ns, spec.manifest(), **kw)
        obj = json.loads(resp.data)
    except ApiException as exc:
        return refused(exc, "the server-side dry run of" if dry_run else "creating", what, ns)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return Outcome(False, explain_error(exc))
    if dry_run:
        return Outcome(True, f"The API server accepts {what} (server-side dry run, nothing was created).", obj)
    return Outcome(True, f"service/{spec.name} created in namespace {ns}.", obj)


def delete(api: k8s.ApiClient, namespace: str, name: str, guard: Guard = Guard()) -> Outcome:
    what = f"Service {namespace}/{name}"
    guard.check(f"deleting {what}")
    try:
        resp = k8s.CoreV1Api(api).delete_namespaced_service(name, namespace, _request_timeout=TIMEOUT,
                                                             _preload_content=False)
        obj = json.loads(resp.data)
    except ApiException as exc:
        return refused(exc, "deleting", what, namespace)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return Outcome(False, explain_error(exc))
    return Outcome(True, f'service "{name}" deleted from namespace {namespace}.', obj)


def create_mutation(api: k8s.ApiClient, spec: ServiceSpec, namespace: str, guard: Guard = Guard()) -> Mutation:
    """The create as the guarded path's steps (the one-shot and tests drive it with Guard.run)."""
    ns = _target(spec, namespace)
    return Mutation(
        title=f"creating Service {ns}/{spec.name}",
        preview=spec.to_yaml(),
        dry_run=lambda: create(api, spec, namespace, True, guard).step(),
        apply=lambda: create(api, spec, namespace, False, guard).step(),
    )


def status_of(exc: ApiException) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    return doc if isinstance(doc, dict) else {}


def refused(exc: ApiException, verb: str, what: str, namespace: str) -> Outcome:
    """The server's no as one sentence, with the 422 causes by field (for the wizard to show in place)."""
    status = status_of(exc)
    message = str(status.get("message") or exc.reason or "no reason given").strip()
    reason = str(status.get("reason") or exc.reason or "")
    code = exc.status
    fields: dict[str, str] = {}  # the apiserver's paths, as ServiceSpec.validate keys them
    details = status.get("details")
    for cause in (details.get("causes") if isinstance(details, dict) else None) or []:
        if isinstance(cause, dict) and cause.get("field"):
            path = str(cause["field"])
            text = str(cause.get("message", ""))
            fields[path] = f"{fields[path]}; {text}" if path in fields else text
    if code == 409:
        fields.setdefault("metadata.name", message)
        sentence = f"{message}: pick another name, or delete the existing Service first."
    elif code == 422:
        sentence = f"The API server refused {what} ({message}); fix the fields it names and try again."
    elif code == 403:
        sentence = (f"The API server does not allow {verb} {what} (403 Forbidden: {message}); ask a cluster admin "
                    f"for the create and delete verbs on services in namespace {namespace}.")
    elif code == 404:
        if message.startswith("namespaces "):
            fields.setdefault("metadata.namespace", message)
        sentence = f"{message[:1].upper() + message[1:]}: check the namespace and the name."
    else:
        sentence = explain_error(exc, None, (verb, what, namespace))
    return Outcome(False, sentence, None, code, reason, fields)
