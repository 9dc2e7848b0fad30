"""`python -m tui` as an admin runs it: start-up failures are one sentence on stderr, exit 1, no screen drawn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.tui.servers import closed_port

REPO = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TERM": "xterm-256color",
        **(extra_env or {}),
    }
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def assert_one_sentence_exit_1(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert result.stdout == ""  # no half-drawn screen
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    assert lines[0].startswith("svcscope: ") and lines[0].endswith(".")
    return lines[0]


def test_no_kubeconfig_suggests_demo(tmp_path):
    line = assert_one_sentence_exit_1(run_cli(tmp_path))
    assert "no kubeconfig" in line and "not running inside a pod" in line
    assert line.endswith("run `svcscope --demo` to try it against a simulated cluster.")


def test_malformed_kubeconfig_names_the_file(tmp_path):
    bad = tmp_path / "kubeconfig"
    bad.write_text("clusters: [\n")
    line = assert_one_sentence_exit_1(run_cli(tmp_path, extra_env={"KUBECONFIG": str(bad)}))
    assert f"The kubeconfig file {bad} is not valid YAML (line " in line


def test_unreachable_server(tmp_path):
    port = closed_port()
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(yaml.safe_dump({
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    line = assert_one_sentence_exit_1(run_cli(tmp_path, "--kubeconfig", str(cfg)))
    assert f"Nothing answers at https://127.0.0.1:{port} (connection refused)" in line


def test_broken_settings_file(tmp_path):
    settings = tmp_path / "config" / "svcscope" / "config.yaml"
    settings.parent.mkdir(parents=True)
    settings.write_text("read_only: yes please\ncolour: blue\n")
    line = assert_one_sentence_exit_1(run_cli(tmp_path))
    assert f"Setting 'read_only' in {settings} should be a bool" in line


def test_demo_does_not_mix_with_kubeconfig(tmp_path):
    line = assert_one_sentence_exit_1(run_cli(tmp_path, "--demo", "--context", "prod"))
    assert line == "svcscope: --demo runs its own simulated cluster: drop --kubeconfig and --context, or drop --demo."


def test_prepare_falls_back_when_the_remembered_namespace_is_forbidden(tmp_path, monkeypatch):
    """k9s-like memory must not lock a user out: a remembered namespace now forbidden gives the context's one."""
    import argparse
    from contextlib import ExitStack

    from aiohttp import web

    from tests.tui.servers import ThreadServer, healthy, status
    from tui.commands.tui import prepare
    from tui.config import StateStore, state_dir

    async def secrets_only(request: web.Request) -> web.StreamResponse:
        if "/namespaces/secret/" in request.path:
            return status(403, "Forbidden", "services is forbidden")
        return await healthy(request)

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    server = ThreadServer(secrets_only).start()
    try:
        cfg = tmp_path / "kubeconfig"
        cfg.write_text(yaml.safe_dump({
            "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": server.url}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "dev"}}],
        }))
        StateStore(state_dir()).remember("c", "secret", False)
        args = argparse.Namespace(kubeconfig=str(cfg), context=None, namespace=None, all_namespaces=False,
                                  demo=False, read_only=False)
        with ExitStack() as stack:
            assert prepare(args, stack).connection.namespace == "dev"
        # asked for explicitly, the same namespace is an error in one sentence
        args.namespace = "secret"
        with ExitStack() as stack, pytest.raises(Exception) as info:
            prepare(args, stack)
        assert "does not allow user 'u' to list services in namespace secret (403 Forbidden" in str(info.value)
    finally:
        server.stop()
