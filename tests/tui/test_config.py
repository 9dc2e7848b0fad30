"""svcscope's own files: XDG locations, settings with one-sentence errors, the remembered state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.config import ConfigError, Settings, StateStore, config_dir, state_dir


def test_xdg_dirs_and_their_defaults(tmp_path):
    env = {"HOME": str(tmp_path)}
    assert config_dir(env) == tmp_path / ".config" / "svcscope"
    assert state_dir(env) == tmp_path / ".local" / "state" / "svcscope"
    env |= {"XDG_CONFIG_HOME": "/etc/x", "XDG_STATE_HOME": "/var/y"}
    assert (config_dir(env), state_dir(env)) == (Path("/etc/x/svcscope"), Path("/var/y/svcscope"))


def test_settings_defaults_values_and_errors(tmp_path):
    path = tmp_path / "config.yaml"
    assert Settings.load(path) == Settings()
    path.write_text("read-only: true\ntheme: nord\n")
    assert Settings.load(path) == Settings(read_only=True, theme="nord")
    path.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match=r"^Unknown setting 'colour' in .*: the settings are no_color, read_only, theme\.$"):
        Settings.load(path)
    path.write_text("no_color: [\n")
    with pytest.raises(ConfigError, match=r"are not valid YAML \(line 2\): fix the file or remove it\.$"):
        Settings.load(path)
    path.write_text("- a\n")
    with pytest.raises(ConfigError, match="should be a mapping"):
        Settings.load(path)


def test_state_remembers_per_context_and_survives_a_new_store(tmp_path):
    store = StateStore(tmp_path / "state")
    assert store.last_context is None and store.namespace_for("a").namespace is None
    store.remember("a", "web", False)
    store.remember("b", "default", True)
    again = StateStore(tmp_path / "state")
    assert again.last_context == "b"
    assert again.namespace_for("a").namespace == "web"
    assert again.namespace_for("b").all_namespaces
    assert not list((tmp_path / "state").glob(".state-*"))  # no temp files left behind


def test_corrupt_state_is_forgotten_not_fatal(tmp_path):
    (tmp_path / "state.yaml").write_text("{{{ not yaml")
    store = StateStore(tmp_path)
    assert store.namespace_for("a").namespace is None
    store.remember("a", "dev", False)
    assert StateStore(tmp_path).namespace_for("a").namespace == "dev"
