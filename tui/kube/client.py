"""Connection configuration: which cluster, as whom, in which namespace; and errors an admin can act on.

kubectl's rules, read without the kubernetes package's global state: `--kubeconfig`, else every file in
`$KUBECONFIG` (colon-separated, first definition of a name wins, first current-context wins), else
`~/.kube/config`; without any of those, the in-cluster service account when running inside a pod. The kubeconfig
is parsed and checked here (the package's own loader names neither the file nor the problem), then handed to the
package's loader for credentials (tokens, client certificates, exec plugins), never written back.

Every failure is a `KubeConnectionError` carrying one sentence: what failed, why, what to try.
`explain_error` turns what the client raises while talking to a server (refused, TLS, 401, 403, ...) into such a
sentence; the watch caches use it for the header's "disconnected" reason too.
"""

from __future__ import annotations

import binascii
import copy
import json
import os
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import urllib3
import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from tui import __version__

DEMO_HINT = "run `svcscope --demo` to try it against a simulated cluster"
SERVICEACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_CONTEXT = "in-cluster"
# Start-up probe timeouts (connect, read): long enough for a slow VPN, short enough that a black-holed address
# does not look like a hang.
PROBE_TIMEOUT = (5.0, 15.0)


class KubeConnectionError(Exception):
    """A connection problem as one sentence for the user; `kind` lets code and tests tell them apart."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # no-config, bad-kubeconfig, unknown-context, unreachable, tls, unauthorized, forbidden, ...

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str  # the context's namespace, "" when it sets none
    server: str


@dataclass(frozen=True, slots=True)
class Scope:
    """What the user is looking at: which context, which namespace (or all). The header and panes follow it."""

    context: str
    namespace: str
    all_namespaces: bool = False

    @property
    def label(self) -> str:
        return "all namespaces" if self.all_namespaces else f"namespace {self.namespace}"


@dataclass(frozen=True, eq=False)
class Connection:
    """A ready-to-use client plus what the header and the panes need to know about it."""

    api_client: ApiClient
    context: str
    namespace: str  # the namespace shown, or the home namespace while showing all
    all_namespaces: bool
    server: str
    user: str
    kubeconfig: tuple[Path, ...] = ()  # empty when in-cluster
    contexts: tuple[ContextInfo, ...] = ()
    in_cluster: bool = False
    context_namespace: str = "default"  # what the context itself says, for "reset to the context's namespace"

    def with_namespace(self, namespace: str | None, all_namespaces: bool = False) -> "Connection":
        """Same client, another scope (`:ns`)."""
        return replace(self, namespace=namespace or self.namespace, all_namespaces=all_namespaces)

    @property
    def scope(self) -> Scope:
        return Scope(self.context, self.namespace, self.all_namespaces)

    def close(self) -> None:
        self.api_client.close()


@dataclass
class KubeConfig:
    """The merged kubeconfig files, validated enough to name what is wrong."""

    paths: tuple[Path, ...]
    current_context: str
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    origin: dict[tuple[str, str], Path] = field(default_factory=dict)  # (kind, name) -> defining file

    @property
    def where(self) -> str:
        return ", ".join(str(p) for p in self.paths)

    def context_infos(self) -> tuple[ContextInfo, ...]:
        out = []
        for name, ctx in self.contexts.items():
            cluster = str(ctx.get("cluster") or "")
            server = str((self.clusters.get(cluster) or {}).get("server") or "")
            out.append(
                ContextInfo(name, cluster, str(ctx.get("user") or ""), str(ctx.get("namespace") or ""), server)
            )
        return tuple(out)


def kubeconfig_paths(explicit: str | None, env: Mapping[str, str]) -> tuple[list[Path], str]:
    """The files to read, and in words where that list came from (for the "none found" sentence)."""
    if explicit:
        return [Path(explicit).expanduser()], "--kubeconfig"
    value = env.get("KUBECONFIG", "")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p], "$KUBECONFIG"
    home = env.get("HOME") or os.path.expanduser("~")
    return [Path(home) / ".kube" / "config"], "the default"


def read_kubeconfig(paths: list[Path], origin: str = "--kubeconfig") -> KubeConfig | None:
    """Parse and merge the files that exist; None when none does (then in-cluster config is the fallback).

    An explicit --kubeconfig that does not exist is an error of its own, as with kubectl.
    """
    if origin == "--kubeconfig" and not paths[0].exists():
        raise KubeConnectionError(
            f"The kubeconfig file {paths[0]} given with --kubeconfig does not exist: check the path.", "bad-kubeconfig"
        )
    existing = [p for p in paths if p.exists()]
    if not existing:
        return None
    merged = KubeConfig(paths=tuple(existing), current_context="")
    for path in existing:
        doc = _load_yaml(path)
        if doc is None:
            continue  # an empty file contributes nothing, as with kubectl
        if not merged.current_context and isinstance(doc.get("current-context"), str):
            merged.current_context = doc["current-context"]
        for kind, key in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            entries = doc.get(kind) or []
            if not isinstance(entries, list):
                raise _bad(path, f"`{kind}` should be a list of entries with a name and a {key}")
            target = getattr(merged, kind)
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                    raise _bad(path, f"entry {i + 1} of `{kind}` has no name")
                body = entry.get(key) or {}
                if not isinstance(body, dict):
                    raise _bad(path, f"{key} {entry['name']!r} should be a mapping")
                if entry["name"] not in target:  # first definition wins
                    target[entry["name"]] = _absolute_paths(body, path.parent)
                    merged.origin[(kind, entry["name"])] = path
    return merged


def _load_yaml(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KubeConnectionError(
            f"Cannot read the kubeconfig file {path} ({exc.strerror or exc}): check its permissions.", "bad-kubeconfig"
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KubeConnectionError(
            f"The kubeconfig file {path} is not valid YAML ({where}{problem}): fix it, or point --kubeconfig at "
            "another file.",
            "bad-kubeconfig",
        ) from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise _bad(path, "it should be a mapping with clusters, contexts and users, not a " + type(doc).__name__)
    return doc


def _bad(path: Path, what: str) -> KubeConnectionError:
    return KubeConnectionError(
        f"The kubeconfig file {path} is malformed ({what}): fix it, or point --kubeconfig at another file.",
        "bad-kubeconfig",
    )


_FILE_KEYS = ("certificate-authority", "client-certificate", "client-key", "tokenFile")


def _absolute_paths(body: dict[str, Any], base: Path) -> dict[str, Any]:
    """kubectl resolves relative file references against the file that holds them, not the working directory."""
    out = dict(body)
    for key in _FILE_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = str(base / os.path.expanduser(value))
    exec_cfg = out.get("exec")
    if isinstance(exec_cfg, dict):
        cmd = exec_cfg.get("command")
        if isinstance(cmd, str) and "/" in cmd and not os.path.isabs(cmd):
            out["exec"] = {**exec_cfg, "command": str(base / cmd)}
    return out


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    all_namespaces: bool = False,
    *,
    env: Mapping[str, str] | None = None,
    serviceaccount_dir: Path = SERVICEACCOUNT_DIR,
    fallback_context: str | None = None,
) -> Connection:
    """Build a client from kubeconfig (or the in-cluster service account). No network traffic: see check_access.

    `fallback_context` (the context svcscope used last) is tried only when the kubeconfig sets no current-context.
    """
    env = os.environ if env is None else env
    paths, origin = kubeconfig_paths(kubeconfig, env)
    kc = read_kubeconfig(paths, origin)
    if kc is not None and kc.contexts:
        if not context and not kc.current_context and fallback_context in kc.contexts:
            context = fallback_context
        return _from_kubeconfig(kc, context, namespace, all_namespaces)
    if _in_cluster_available(env, serviceaccount_dir):
        if context:
            raise KubeConnectionError(
                f"--context {context} was given but there is no kubeconfig to find it in (running with the "
                "in-cluster service account): drop --context or pass --kubeconfig.",
                "unknown-context",
            )
        return _from_in_cluster(env, serviceaccount_dir, namespace, all_namespaces)
    if kc is not None:
        raise KubeConnectionError(
            f"The kubeconfig {kc.where} defines no contexts: add one (`kubectl config set-context`), or "
            f"{DEMO_HINT}.",
            "no-config",
        )
    where = ", ".join(str(p) for p in paths)
    looked = {"$KUBECONFIG": f"$KUBECONFIG names {where}", "the default": f"{where} does not exist"}.get(
        origin, where
    )
    raise KubeConnectionError(
        f"No cluster to connect to: no kubeconfig ({looked}) and not running inside a pod; set KUBECONFIG or "
        f"--kubeconfig, or {DEMO_HINT}.",
        "no-config",
    )


def reconnect(conn: Connection, context: str, namespace: str | None = None, all_namespaces: bool = False) -> Connection:
    """The same kubeconfig files, another context (`:ctx`). No network traffic: check_access the result."""
    if conn.in_cluster:
        raise KubeConnectionError(
            "Running with the in-cluster service account, there are no other contexts: start svcscope with "
            "--kubeconfig to use one.",
            "unknown-context",
        )
    kc = read_kubeconfig(list(conn.kubeconfig), "$KUBECONFIG")
    if kc is None:
        raise KubeConnectionError(
            f"The kubeconfig {', '.join(map(str, conn.kubeconfig))} is gone: it was deleted or moved since start-up.",
            "no-config",
        )
    return _from_kubeconfig(kc, context, namespace, all_namespaces)


def list_contexts(kubeconfig: str | None = None, *, env: Mapping[str, str] | None = None) -> tuple[
    tuple[ContextInfo, ...], str
]:
    """Every context in the kubeconfig and the current one (for `:ctx` and its completion)."""
    env = os.environ if env is None else env
    paths, origin = kubeconfig_paths(kubeconfig, env)
    kc = read_kubeconfig(paths, origin)
    if kc is None:
        return (), ""
    return kc.context_infos(), kc.current_context


def _from_kubeconfig(kc: KubeConfig, context: str | None, namespace: str | None, all_ns: bool) -> Connection:
    names = ", ".join(sorted(kc.contexts)) or "none"
    name = context or kc.current_context
    if not name:
        raise KubeConnectionError(
            f"The kubeconfig {kc.where} sets no current-context: pick one with --context (contexts: {names}).",
            "unknown-context",
        )
    if name not in kc.contexts:
        flag = "--context" if context else "current-context"
        raise KubeConnectionError(
            f"Context {name!r} ({flag}) is not in the kubeconfig {kc.where}: pick one of {names} with --context.",
            "unknown-context",
        )
    ctx = kc.contexts[name]
    ctx_file = kc.origin[("contexts", name)]
    cluster_name = ctx.get("cluster")
    if not isinstance(cluster_name, str) or not cluster_name:
        raise _bad(ctx_file, f"context {name!r} names no cluster")
    cluster = kc.clusters.get(cluster_name)
    if cluster is None:
        raise _bad(ctx_file, f"context {name!r} refers to cluster {cluster_name!r}, which no file defines")
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise _bad(kc.origin[("clusters", cluster_name)], f"cluster {cluster_name!r} has no server address")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(
            kc.origin[("clusters", cluster_name)],
            f"cluster {cluster_name!r} has server {server!r}, which is not an http(s) URL",
        )
    user_name = str(ctx.get("user") or "")
    if user_name and user_name not in kc.users:
        raise _bad(ctx_file, f"context {name!r} refers to user {user_name!r}, which no file defines")

    loader_dict = {
        "current-context": name,
        "contexts": [{"name": name, "context": ctx}],
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": kc.users[user_name]}] if user_name else [],
    }
    cfg = type.__call__(Configuration)  # a fresh Configuration, not a copy of the package's global default
    try:
        KubeConfigLoader(config_dict=loader_dict, active_context=name, config_base_path="").load_and_set(cfg)
    except (ConfigException, OSError, ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise KubeConnectionError(_credential_problem(kc, name, user_name, cluster_name, exc), "bad-kubeconfig") from None
    ctx_ns = str(ctx.get("namespace") or "default")
    return Connection(
        api_client=_api_client(cfg),
        context=name,
        namespace=namespace or ctx_ns,
        all_namespaces=all_ns,
        server=server.rstrip("/"),
        user=user_name,
        kubeconfig=kc.paths,
        contexts=kc.context_infos(),
        context_namespace=ctx_ns,
    )


def _credential_problem(kc: KubeConfig, context: str, user: str, cluster: str, exc: Exception) -> str:
    detail = str(exc).strip().rstrip(".") or type(exc).__name__
    if "File does not exist" in detail:
        missing = detail.split(":", 1)[-1].strip()
        return (
            f"The kubeconfig {kc.where} refers to {missing}, which does not exist (context {context!r}): fix the "
            "path or embed the data with the *-data keys."
        )
    if isinstance(exc, (binascii.Error, ValueError)) and "exec" not in detail.lower():
        return (
            f"The kubeconfig {kc.where} has certificate or token data for context {context!r} that cannot be "
            f"decoded ({detail}): check the *-data fields of user {user!r} and cluster {cluster!r}."
        )
    if "exec" in detail.lower():
        return (
            f"The credential plugin of user {user!r} in {kc.where} failed ({detail}): run it by hand to see why, "
            "or log in again."
        )
    return f"Cannot load the credentials of context {context!r} from {kc.where} ({detail}): check user {user!r}."


def _in_cluster_available(env: Mapping[str, str], sa_dir: Path) -> bool:
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and (sa_dir / "token").is_file()


def _from_in_cluster(env: Mapping[str, str], sa_dir: Path, namespace: str | None, all_ns: bool) -> Connection:
    from kubernetes.config.incluster_config import InClusterConfigLoader

    cfg = type.__call__(Configuration)
    try:
        InClusterConfigLoader(
            token_filename=str(sa_dir / "token"), cert_filename=str(sa_dir / "ca.crt"), environ=dict(env)
        ).load_and_set(cfg)
    except (ConfigException, OSError) as exc:
        raise KubeConnectionError(
            f"Running inside a pod but its service account at {sa_dir} is unusable ({exc}): check that the pod "
            "mounts a service account token (automountServiceAccountToken).",
            "no-config",
        ) from None
    try:
        sa_ns = (sa_dir / "namespace").read_text().strip() or "default"
    except OSError:
        sa_ns = "default"
    return Connection(
        api_client=_api_client(cfg),
        context=IN_CLUSTER_CONTEXT,
        namespace=namespace or sa_ns,
        all_namespaces=all_ns,
        server=cfg.host,
        user="serviceaccount",
        in_cluster=True,
        context_namespace=sa_ns,
    )


def _api_client(cfg: Configuration) -> ApiClient:
    client = ApiClient(configuration=cfg)
    client.user_agent = f"svcscope/{__version__}"
    return client


# --- talking to the server ------------------------------------------------------------------------------------


def check_access(conn: Connection, timeout: tuple[float, float] = PROBE_TIMEOUT) -> None:
    """The start-up probe: is the server there, does it trust us and we it, may we list what svcscope shows?

    Raises KubeConnectionError with the sentence for the first thing that fails. Uses its own client without
    retries, so a dead server fails at once instead of after urllib3's three silent attempts.
    """
    cfg = copy.deepcopy(conn.api_client.configuration)
    cfg.retries = False
    probe = _api_client(cfg)
    try:
        ns = None if conn.all_namespaces else conn.namespace
        one: list[tuple[str, Any]] = [("limit", 1)]
        steps = [  # /version raw too: the generated VersionInfo rejects a /version that omits fields
            (("get", "the server version", None), "/version/", []),
            (("list", "services", ns), collection_path("v1", "services", ns), one),
            (("list", "endpointslices", ns), collection_path("discovery.k8s.io/v1", "endpointslices", ns), one),
        ]
        for action, path, query in steps:
            try:
                get(probe, path, query, timeout).release_conn()
            except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence
                raise KubeConnectionError(explain_error(exc, conn, action), error_kind(exc)) from None
    finally:
        probe.close()


def collection_path(group_version: str, plural: str, namespace: str | None) -> str:
    """The URL path of a resource collection: all namespaces' with None."""
    root = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


def get(api_client: ApiClient, path: str, query: list[tuple[str, Any]] | None = None,
        timeout: Any = None) -> urllib3.BaseHTTPResponse:
    """GET `path` as the generated API classes send it (auth, user agent, JSON), without them: importing CoreV1Api
    alone costs 0.3-0.6 s of start-up on these machines. The unread response, or ApiException for a non-2xx."""
    request = api_client.param_serialize(method="GET", resource_path=path, query_params=query or [],
                                         header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
    resp = api_client.call_api(*request, _request_timeout=timeout)
    if not 200 <= resp.status <= 299:
        resp.read()
        raise ApiException.from_response(http_resp=resp, body=None, data=None)
    return resp.response


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, ApiException) and exc.status:
        return {401: "unauthorized", 403: "forbidden"}.get(exc.status or 0, "server-error")
    root = _root_cause(exc)
    if isinstance(root, (ssl.SSLError, ssl.CertificateError, urllib3.exceptions.SSLError)):
        return "tls"
    return "unreachable"


def _root_cause(exc: BaseException) -> BaseException:
    """urllib3 wraps the interesting error once or twice (MaxRetryError -> SSLError -> ssl.SSLError), and the
    kubernetes client turns urllib3's SSLError into ApiException(status=0), keeping the original as __context__."""
    seen = 0
    while seen < 6:
        seen += 1
        if isinstance(exc, ApiException) and not exc.status and exc.__context__ is not None:
            exc = exc.__context__
            continue
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            exc = exc.reason
            continue
        if isinstance(exc, urllib3.exceptions.SSLError) and exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
            continue
        if isinstance(exc, urllib3.exceptions.ProtocolError) and len(exc.args) > 1 and isinstance(
            exc.args[1], BaseException
        ):
            exc = exc.args[1]
            continue
        break
    return exc


def explain_error(
    exc: BaseException, conn: Connection | None = None, action: tuple[str, str, str | None] | None = None
) -> str:
    """One sentence for an error from talking to the API server.

    `action` is (verb, resource, namespace or None for all) of the call that failed, so a 403 can say what was
    refused. Used by the start-up probe and by the watch caches for the header.
    """
    return " ".join(_explain(exc, conn, action).split())  # one line, whatever the server's message held


def _explain(exc: BaseException, conn: Connection | None, action: tuple[str, str, str | None] | None) -> str:
    server = conn.server if conn else "the API server"
    where = f"the API server at {server}" if conn else "the API server"
    cluster_hint = f" for context {conn.context!r}" if conn and not conn.in_cluster else ""
    verb, resource, ns = action or ("reach", "the API", None)
    scope = "in all namespaces" if ns is None else f"in namespace {ns}"

    if isinstance(exc, ApiException) and exc.status:
        status = exc.status
        reason = exc.reason or ""
        message = _status_message(exc)
        if status == 401:
            return (
                f"{_cap(where)} rejected the credentials of user {conn.user if conn else '?'!r} (401 Unauthorized): "
                "they have probably expired; log in again or refresh the token or certificate in your kubeconfig."
            )
        if status == 403:
            if resource == "the server version":
                what = "read the server version"
            else:
                what = f"{verb} {resource} {scope}"
            who = f"user {conn.user!r}" if conn and conn.user else "these credentials"
            return (
                f"{_cap(where)} does not allow {who} to {what} (403 Forbidden{': ' + message if message else ''}); "
                f"ask a cluster admin for the list and watch verbs on services and endpointslices"
                f"{', or pick a namespace you can read with -n' if ns is not None else ', or drop -A and pick a namespace with -n'}."
            )
        if status == 404 and resource == "endpointslices":
            return (
                f"{_cap(where)} does not serve EndpointSlices (discovery.k8s.io/v1, Kubernetes 1.21 and later): "
                "svcscope needs a newer cluster."
            )
        if status == 404 and ns is not None and message and "namespace" in message.lower():
            return f"{_cap(where)} has no namespace {ns} ({message}): pick another with -n or `:ns`."
        detail = message or reason or "no reason given"
        return (
            f"{_cap(where)} answered {status} {reason} to {verb} {resource}"
            f"{' ' + scope if resource not in ('the server version', 'the API') else ''} ({detail}): "
            "try again later, or check the API server's health."
        ).replace("  ", " ")

    root = _root_cause(exc)
    if isinstance(root, (ssl.SSLError, ssl.CertificateError, urllib3.exceptions.SSLError)):
        return _explain_tls(root, where, cluster_hint)
    if isinstance(root, urllib3.exceptions.NameResolutionError):
        host = urlsplit(server).hostname if conn else "the server"
        return (
            f"The API server name {host} does not resolve: check the server address in your kubeconfig"
            f"{cluster_hint} and this machine's DNS."
        )
    if isinstance(root, (ConnectionRefusedError,)) or "Connection refused" in str(root):
        return (
            f"Nothing answers at {server} (connection refused): check that the API server is running and that "
            f"the server address in your kubeconfig{cluster_hint} is right."
        )
    if isinstance(root, urllib3.exceptions.NewConnectionError):
        return (
            f"Cannot connect to {where} ({_short(root)}): check the server address in your kubeconfig{cluster_hint} "
            "and the network path to it (firewall, VPN, proxy)."
        )
    if isinstance(root, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return (
            f"{_cap(where)} did not answer in time: check the network path to it (firewall, VPN, proxy) and that it "
            "is not overloaded."
        )
    if isinstance(root, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or isinstance(
        root, urllib3.exceptions.ProtocolError
    ):
        return (
            f"{_cap(where)} closed the connection ({_short(root)}): it may be restarting, or something between "
            "you and it (a proxy or load balancer) cut the line."
        )
    if isinstance(root, OSError):
        return f"Cannot talk to {where} ({_short(root)}): check the network path to it."
    return f"Talking to {where} failed ({_short(root)}): try again, or check the API server's health."


def _explain_tls(err: BaseException, where: str, cluster_hint: str) -> str:
    text = str(err)
    low = text.lower()
    verify = (getattr(err, "verify_message", None) or "").strip().rstrip(".")
    if "wrong version number" in low or "record layer failure" in low or "packet length too long" in low or (
        "unexpected eof" in low and "handshake" in low
    ):
        return (
            f"{_cap(where)} does not speak TLS (it probably serves plain HTTP): check the server URL in your "
            f"kubeconfig{cluster_hint} (https:// or http://, and the port)."
        )
    if "hostname mismatch" in low or "doesn't match" in low or "not valid for" in low:
        return (
            f"The certificate of {where} is for another name ({verify or _short(err)}): connect by a name the "
            f"certificate lists, or set tls-server-name in your kubeconfig{cluster_hint}."
        )
    if "certificate has expired" in low or "certificate expired" in verify.lower():
        if "alert" in low:
            return (
                f"{_cap(where)} rejected your client certificate as expired: renew it (log in again, or "
                "`kubeadm certs renew` on a kubeadm cluster)."
            )
        return (
            f"The certificate of {where} has expired: renew the API server's certificate (on kubeadm: "
            "`kubeadm certs renew apiserver`), or check this machine's clock."
        )
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        why = verify or "not signed by a trusted CA"
        return (
            f"The certificate of {where} is not trusted ({why}): set certificate-authority or "
            f"certificate-authority-data in your kubeconfig{cluster_hint} to the CA that signed it."
        )
    if "alert" in low and ("certificate" in low or "unknown ca" in low or "handshake failure" in low):
        return (
            f"{_cap(where)} refused the TLS handshake ({_short(err)}): your client certificate is missing, expired "
            f"or from another CA; check client-certificate and client-key in your kubeconfig{cluster_hint}."
        )
    return f"The TLS connection to {where} failed ({_short(err)}): check the certificates in your kubeconfig{cluster_hint}."


def _status_message(exc: ApiException) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return ""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    msg = doc.get("message") if isinstance(doc, dict) else None
    return msg.strip() if isinstance(msg, str) else ""


def _short(err: BaseException) -> str:
    """An exception as a short phrase: no class paths, no object reprs, no trailing period."""
    text = str(err)
    if isinstance(err, urllib3.exceptions.NewConnectionError) and ":" in text:
        text = text.rsplit(":", 1)[-1]
    text = text.strip().rstrip(".")
    if text.startswith("[") and "]" in text:  # "[SSL: CODE] words (_ssl.c:1006)" -> "words"
        text = text.split("]", 1)[1]
    text = text.split(" (_ssl.c", 1)[0].strip()
    return text or type(err).__name__


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

