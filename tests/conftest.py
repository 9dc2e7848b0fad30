"""Fixtures every test directory may use. Keep this file small; area-specific fixtures belong next to their tests.

- `sim`: a started, empty simulated cluster on a random loopback port (function scope), stopped afterwards.
  Bookmarks come every 0.5 s instead of every few seconds, so watch tests need not wait long.
- `sim_kubeconfig`: the path of a kubeconfig (in tmp_path) for `sim`: context `svcscope-demo`, namespace `dev`.
- `wait_for(predicate, timeout=10)`: import it with `from tests.conftest import wait_for`; polls until the
  predicate returns something truthy and returns that, or fails the test with `message`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

from tui.sim.cluster import SimCluster

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
             message: str = "condition not met") -> T:
    """Poll `predicate` until it returns a truthy value (returned); generous timeouts, no timing asserts."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster(scenario="empty", bookmark_interval=0.5).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def sim_kubeconfig(sim: SimCluster, tmp_path: Path) -> Path:
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


# --- snapshots: SVGs live in the top-level snapshots/ folder (tui-shell) -----------------------------------------
# pytest-textual-snapshot looks its extension up by name at call time, so replacing the module attribute moves every
# `snap_compare` snapshot to snapshots/<test dir below tests>/<test file>/<test name>.svg.

from pathlib import Path as _Path

import pytest_textual_snapshot as _pts

SNAPSHOT_ROOT = _Path(__file__).resolve().parent.parent / "snapshots"
_TESTS_ROOT = _Path(__file__).resolve().parent


class TopLevelSVGImageExtension(_pts.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location) -> str:  # type: ignore[override]
        test_file = _Path(test_location.filepath).resolve()
        relative = test_file.parent.relative_to(_TESTS_ROOT)
        return str(SNAPSHOT_ROOT / relative / test_location.basename)


_pts.SVGImageExtension = TopLevelSVGImageExtension

# --- end of snapshots block ---------------------------------------------------------------------------------------


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """svcscope's config and state dirs under tmp, and nothing from the real environment that changes what it shows."""
    dirs = {"XDG_CONFIG_HOME": tmp_path / "xdg-config", "XDG_STATE_HOME": tmp_path / "xdg-state"}
    for key, value in dirs.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key in ("KUBECONFIG", "NO_COLOR", "SVCSCOPE_DNS_MAP"):
        monkeypatch.delenv(key, raising=False)
    return dirs
