"""`svcscope sim`: runs in the foreground, writes a kubeconfig the client can use, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client, config

from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_sim_command_serves_until_interrupted(tmp_path: Path) -> None:
    kc = tmp_path / "sim.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "tui", "sim", "--scenario", "empty", "--kubeconfig-out", str(kc)],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert f"kubeconfig written to {kc}" in first, first + proc.stderr.read() if proc.poll() else first
        assert f"KUBECONFIG={kc} kubectl get svc -A" in second
        api = config.new_client_from_config(str(kc))
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": "dev"}})
        assert [n.metadata.name for n in core.list_namespace().items] == ["dev"]
        api.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_sim_command_unknown_scenario_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--scenario", "no-such-scenario", "--kubeconfig-out", str(tmp_path / "k.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("svcscope sim: cannot load the scenario:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "k.yaml").exists()


def test_sim_command_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code = main(["sim", "--scenario", "empty", "--port", str(port), "--kubeconfig-out", str(tmp_path / "k.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"svcscope sim: cannot listen on 127.0.0.1:{port}") and "--port" in err
    assert len(err.strip().splitlines()) == 1
