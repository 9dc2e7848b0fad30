"""tui.kube.client against real kubeconfig files and real (tiny) servers: each problem gives its one sentence."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from tui.kube.client import DEMO_HINT, KubeConnectionError, check_access, connect, list_contexts
from tests.tui.servers import (
    ThreadServer,
    closed_port,
    healthy,
    self_signed_cert,
    server_tls_context,
    status,
)


def kubeconfig(path: Path, server: str, *, context: str = "test", namespace: str | None = None,
               user: dict | None = None, cluster_extra: dict | None = None, extra_contexts: tuple[str, ...] = (),
               current: str | None = "") -> Path:
    ctx = {"cluster": "c1", "user": "alice"}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c1", "cluster": {"server": server, **(cluster_extra or {})}}],
        "users": [{"name": "alice", "user": user if user is not None else {"token": "t0ken"}}],
        "contexts": [{"name": context, "context": ctx}]
        + [{"name": n, "context": {"cluster": "c1", "user": "alice"}} for n in extra_contexts],
    }
    if current is not None:
        doc["current-context"] = current or context
    path.write_text(yaml.safe_dump(doc))
    return path


def one_sentence(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    assert message.endswith("."), message
    assert message[0].isupper(), message
    return message


def connect_error(**kw) -> KubeConnectionError:
    with pytest.raises(KubeConnectionError) as info:
        connect(**kw)
    one_sentence(info.value.message)
    return info.value


def probe_error(conn) -> KubeConnectionError:
    with pytest.raises(KubeConnectionError) as info:
        check_access(conn, timeout=(10, 20))
    one_sentence(info.value.message)
    return info.value


@pytest.fixture
def serve():
    started: list[ThreadServer] = []

    def start(handler, ssl_context=None) -> ThreadServer:
        server = ThreadServer(handler, ssl_context).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- configuration problems (no network) -----------------------------------------------------------------------


def test_no_kubeconfig_and_not_in_a_pod_suggests_demo(tmp_path):
    err = connect_error(env={"HOME": str(tmp_path)}, serviceaccount_dir=tmp_path / "sa")
    assert err.kind == "no-config"
    assert DEMO_HINT in err.message
    assert str(tmp_path / ".kube" / "config") in err.message


def test_kubeconfig_env_naming_missing_files_says_which(tmp_path):
    err = connect_error(env={"KUBECONFIG": str(tmp_path / "nope.yaml"), "HOME": str(tmp_path)},
                        serviceaccount_dir=tmp_path / "sa")
    assert err.kind == "no-config"
    assert "$KUBECONFIG names" in err.message and "nope.yaml" in err.message


def test_explicit_kubeconfig_that_does_not_exist(tmp_path):
    err = connect_error(kubeconfig=str(tmp_path / "missing"), env={})
    assert err.kind == "bad-kubeconfig"
    assert str(tmp_path / "missing") in err.message and "does not exist" in err.message


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "config"
    bad.write_text("apiVersion: v1\nclusters:\n- name: c1\n  cluster: {server: https://x\n  bad: [\n")
    err = connect_error(kubeconfig=str(bad), env={})
    assert err.kind == "bad-kubeconfig"
    assert str(bad) in err.message
    assert "is not valid YAML (line " in err.message


def test_yaml_that_is_not_a_mapping(tmp_path):
    bad = tmp_path / "config"
    bad.write_text("- just\n- a list\n")
    err = connect_error(kubeconfig=str(bad), env={})
    assert "malformed (it should be a mapping with clusters, contexts and users, not a list)" in err.message


def test_context_entry_without_name(tmp_path):
    bad = tmp_path / "config"
    bad.write_text(yaml.safe_dump({"contexts": [{"context": {"cluster": "c"}}]}))
    err = connect_error(kubeconfig=str(bad), env={})
    assert "entry 1 of `contexts` has no name" in err.message


def test_unknown_context_lists_the_available_ones(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", extra_contexts=("prod", "staging"))
    err = connect_error(kubeconfig=str(cfg), context="nosuch", env={})
    assert err.kind == "unknown-context"
    assert "Context 'nosuch' (--context) is not in the kubeconfig" in err.message
    assert "prod, staging, test" in err.message


def test_current_context_that_does_not_exist(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", current="gone")
    err = connect_error(kubeconfig=str(cfg), env={})
    assert "Context 'gone' (current-context) is not in" in err.message


def test_no_current_context_asks_for_one(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", current=None)
    err = connect_error(kubeconfig=str(cfg), env={})
    assert "sets no current-context: pick one with --context (contexts: test)" in err.message


def test_last_used_context_only_when_no_current_context(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", extra_contexts=("prod",), current=None)
    assert connect(kubeconfig=str(cfg), env={}, fallback_context="prod").context == "prod"
    assert connect(kubeconfig=str(cfg), env={}, fallback_context="prod", context="test").context == "test"
    with_current = kubeconfig(tmp_path / "c2", "https://127.0.0.1:6443", extra_contexts=("prod",))
    assert connect(kubeconfig=str(with_current), env={}, fallback_context="prod").context == "test"
    # a remembered context that is gone is no help: the usual sentence
    err = connect_error(kubeconfig=str(cfg), env={}, fallback_context="deleted")
    assert "sets no current-context" in err.message


def test_context_pointing_at_undefined_cluster(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text(yaml.safe_dump({"current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "zz"}}]}))
    err = connect_error(kubeconfig=str(cfg), env={})
    assert "context 'a' refers to cluster 'zz', which no file defines" in err.message


def test_cluster_without_a_usable_server(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "ftp://example")
    err = connect_error(kubeconfig=str(cfg), env={})
    assert "cluster 'c1' has server 'ftp://example', which is not an http(s) URL" in err.message


def test_missing_certificate_file_is_named(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", cluster_extra={"certificate-authority": "ca.pem"})
    err = connect_error(kubeconfig=str(cfg), env={})
    # relative to the kubeconfig's directory, as kubectl resolves it
    assert f"refers to {tmp_path / 'ca.pem'}, which does not exist" in err.message


def test_undecodable_certificate_data(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "https://127.0.0.1:6443",
                     cluster_extra={"certificate-authority-data": "%%%not base64%%%"})
    err = connect_error(kubeconfig=str(cfg), env={})
    assert err.kind == "bad-kubeconfig"
    assert "cannot be decoded" in err.message


def test_namespace_from_flag_then_context_then_default(tmp_path):
    cfg = kubeconfig(tmp_path / "config", "http://127.0.0.1:1", namespace="dev")
    assert connect(kubeconfig=str(cfg), env={}).namespace == "dev"
    assert connect(kubeconfig=str(cfg), namespace="web", env={}).namespace == "web"
    plain = kubeconfig(tmp_path / "plain", "http://127.0.0.1:1")
    conn = connect(kubeconfig=str(plain), all_namespaces=True, env={})
    assert (conn.namespace, conn.all_namespaces, conn.scope.label) == ("default", True, "all namespaces")


def test_kubeconfig_env_merges_files_first_wins(tmp_path):
    a = kubeconfig(tmp_path / "a", "http://127.0.0.1:1111", context="first")
    b = tmp_path / "b"
    b.write_text(yaml.safe_dump({
        "current-context": "second",
        "clusters": [{"name": "c1", "cluster": {"server": "http://127.0.0.1:2222"}},
                     {"name": "c2", "cluster": {"server": "http://127.0.0.1:3333"}}],
        "users": [{"name": "bob", "user": {"token": "b"}}],
        "contexts": [{"name": "second", "context": {"cluster": "c2", "user": "bob", "namespace": "ops"}}],
    }))
    env = {"KUBECONFIG": f"{a}:{tmp_path / 'missing'}:{b}"}
    conn = connect(env=env)
    # kubectl: the first file to set current-context wins, and the first definition of a name wins
    assert (conn.context, conn.server, conn.user) == ("first", "http://127.0.0.1:1111", "alice")
    second = connect(env=env, context="second")
    assert (second.server, second.namespace, second.user) == ("http://127.0.0.1:3333", "ops", "bob")
    contexts, current = list_contexts(env=env)
    assert [c.name for c in contexts] == ["first", "second"] and current == "first"


def test_in_cluster_service_account(tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    (sa / "namespace").write_text("monitoring")
    cert, _ = self_signed_cert(tmp_path)
    (sa / "ca.crt").write_text(cert.read_text())
    env = {"HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    conn = connect(env=env, serviceaccount_dir=sa)
    assert conn.in_cluster and conn.context == "in-cluster"
    assert conn.server == "https://10.96.0.1:443" and conn.namespace == "monitoring"
    assert conn.api_client.configuration.api_key["BearerToken"] == "bearer sa-token"


# --- server problems (real loopback servers) -------------------------------------------------------------------


def test_healthy_server_passes_the_probe(tmp_path, serve):
    server = serve(healthy)
    conn = connect(kubeconfig=str(kubeconfig(tmp_path / "config", server.url, namespace="dev")), env={})
    check_access(conn)
    paths = [p for _, p, _ in server.requests]
    assert paths[0].rstrip("/") == "/version"
    assert paths[1].startswith("/api/v1/namespaces/dev/services?limit=1")
    assert paths[2].startswith("/apis/discovery.k8s.io/v1/namespaces/dev/endpointslices?limit=1")
    assert server.requests[1][2]["Authorization"] == "Bearer t0ken"
    assert server.requests[1][2]["User-Agent"].startswith("svcscope/")


def test_unreachable_server_on_a_closed_port(tmp_path):
    port = closed_port()
    conn = connect(kubeconfig=str(kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}")), env={})
    err = probe_error(conn)
    assert err.kind == "unreachable"
    assert err.message.startswith(f"Nothing answers at http://127.0.0.1:{port} (connection refused): check that")
    assert "for context 'test'" in err.message


def test_tls_to_a_plain_http_port(tmp_path, serve):
    server = serve(healthy)
    conn = connect(kubeconfig=str(kubeconfig(tmp_path / "config", f"https://127.0.0.1:{server.port}")), env={})
    err = probe_error(conn)
    assert err.kind == "tls"
    assert "does not speak TLS (it probably serves plain HTTP)" in err.message


def test_self_signed_server_certificate_is_not_trusted(tmp_path, serve):
    cert, key = self_signed_cert(tmp_path)
    server = serve(healthy, server_tls_context(cert, key))
    conn = connect(kubeconfig=str(kubeconfig(tmp_path / "config", server.url)), env={})
    err = probe_error(conn)
    assert err.kind == "tls"
    assert f"The certificate of the API server at {server.url} is not trusted (self-signed certificate)" in err.message
    assert "certificate-authority" in err.message
    # with its CA in the kubeconfig the same server is fine
    ca_data = base64.b64encode(cert.read_bytes()).decode()
    good = connect(kubeconfig=str(kubeconfig(tmp_path / "good", server.url,
                                            cluster_extra={"certificate-authority-data": ca_data})), env={})
    check_access(good)


def test_certificate_for_another_name(tmp_path, serve):
    cert, key = self_signed_cert(tmp_path, "api.example.test", san="DNS:api.example.test")
    server = serve(healthy, server_tls_context(cert, key))
    cfg = kubeconfig(tmp_path / "config", server.url, cluster_extra={"certificate-authority": str(cert)})
    err = probe_error(connect(kubeconfig=str(cfg), env={}))
    assert err.kind == "tls"
    assert "is for another name" in err.message and "tls-server-name" in err.message


def test_rejected_credentials_401(tmp_path, serve):
    async def unauthorized(request: web.Request) -> web.Response:
        return status(401, "Unauthorized", "Unauthorized")

    server = serve(unauthorized)
    err = probe_error(connect(kubeconfig=str(kubeconfig(tmp_path / "config", server.url)), env={}))
    assert err.kind == "unauthorized"
    assert err.message.startswith(
        f"The API server at {server.url} rejected the credentials of user 'alice' (401 Unauthorized)"
    )
    assert "log in again" in err.message


def test_forbidden_names_verb_resource_and_namespace(tmp_path, serve):
    async def no_services(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/services"):
            return status(403, "Forbidden", 'services is forbidden: User "alice" cannot list resource "services" '
                                            'in API group "" in the namespace "dev"')
        return await healthy(request)

    server = serve(no_services)
    cfg = kubeconfig(tmp_path / "config", server.url, namespace="dev")
    err = probe_error(connect(kubeconfig=str(cfg), env={}))
    assert err.kind == "forbidden"
    assert f"The API server at {server.url} does not allow user 'alice' to list services in namespace dev" in err.message
    assert "pick a namespace you can read with -n" in err.message
    err_all = probe_error(connect(kubeconfig=str(cfg), all_namespaces=True, env={}))
    assert "to list services in all namespaces" in err_all.message


def test_server_error_is_reported_with_its_message(tmp_path, serve):
    async def broken(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/endpointslices"):
            return status(500, "InternalError", "etcdserver: request timed out")
        return await healthy(request)

    server = serve(broken)
    err = probe_error(connect(kubeconfig=str(kubeconfig(tmp_path / "config", server.url, namespace="dev")), env={}))
    assert err.kind == "server-error"
    assert "answered 500 Internal Server Error to list endpointslices in namespace dev (etcdserver: request timed out)" \
        in err.message
