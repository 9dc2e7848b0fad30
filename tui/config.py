"""svcscope's own files: user settings (config dir) and remembered choices (state dir).

XDG base directories, as on any Linux box an admin logs into:
    $XDG_CONFIG_HOME/svcscope/config.yaml   (default ~/.config/svcscope/config.yaml)   settings the user writes
    $XDG_STATE_HOME/svcscope/state.yaml     (default ~/.local/state/svcscope/state.yaml) what svcscope remembers:
                                            the last context, and the last namespace per context (as k9s does)
A broken settings file is an error in one sentence at start-up; a broken state file is forgotten, since it is
only a memory. NO_COLOR (https://no-color.org) is honoured by Textual itself; `no_color: true` here does the same.
No Textual here: the CLI reads these before any screen exists.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

APP_DIR = "svcscope"
ALL_NAMESPACES = "*"  # how "all namespaces" is remembered


class ConfigError(Exception):
    """A settings file problem as one sentence."""


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
    return Path(base) / APP_DIR


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(_home(env) / ".local" / "state")
    return Path(base) / APP_DIR


@dataclass(frozen=True, slots=True)
class Settings:
    """What a user may set in config.yaml. Command-line flags win over these."""

    read_only: bool = False  # start every session read-only
    no_color: bool = False  # as if NO_COLOR were set
    theme: str = "textual-dark"  # any Textual theme name

    @classmethod
    def load(cls, path: Path) -> "Settings":
        if not path.exists():
            return cls()
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"Cannot read svcscope's settings {path} ({exc.strerror or exc}): check its permissions.")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ConfigError(f"svcscope's settings {path} are not valid YAML{where}: fix the file or remove it.")
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise ConfigError(f"svcscope's settings {path} should be a mapping of setting: value; fix or remove it.")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in doc.items():
            name = str(key).replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"Unknown setting {key!r} in {path}: the settings are {', '.join(sorted(known))}."
                )
            expected = bool if known[name].type in ("bool", bool) else str
            if not isinstance(value, expected):
                raise ConfigError(f"Setting {key!r} in {path} should be a {expected.__name__}, not {value!r}.")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Remembered:
    namespace: str | None  # None: nothing remembered for this context
    all_namespaces: bool = False


class StateStore:
    """The remembered choices, read once and written on every change (small file, atomic replace)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "state.yaml"
        self._data = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            doc = yaml.safe_load(self.path.read_text())
        except (OSError, yaml.YAMLError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @property
    def last_context(self) -> str | None:
        value = self._data.get("last_context")
        return value if isinstance(value, str) and value else None

    def namespace_for(self, context: str) -> Remembered:
        namespaces = self._data.get("namespaces")
        value = namespaces.get(context) if isinstance(namespaces, dict) else None
        if not isinstance(value, str) or not value:
            return Remembered(None)
        if value == ALL_NAMESPACES:
            return Remembered(None, all_namespaces=True)
        return Remembered(value)

    def remember(self, context: str, namespace: str, all_namespaces: bool) -> None:
        """Raises OSError when the state dir cannot be written; the caller says so and carries on."""
        namespaces = self._data.get("namespaces")
        if not isinstance(namespaces, dict):
            namespaces = {}
        namespaces[context] = ALL_NAMESPACES if all_namespaces else namespace
        self._data["namespaces"] = namespaces
        self._data["last_context"] = context
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w") as f:
                yaml.safe_dump(self._data, f, default_flow_style=False, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
