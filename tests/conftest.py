"""Fixtures every test directory may use. Keep this file small; area-specific fixtures belong next to their tests.

- `sim`: a started, empty simulated cluster on a random loopback port (function scope), stopped afterwards.
  Bookmarks come every 0.5 s instead of every few seconds, so watch tests need not wait long.
- `sim_kubeconfig`: the path of a kubeconfig (in tmp_path) for `sim`: context `svcscope-demo`, namespace `dev`.
- `start_sim(scenario, prepare=None, **knobs)`: starts sims (stopped after the test); `demo_app(sim, clock=..., ...)`:
  the app as `svcscope --demo` builds it against one. Each screen directory's conftest wraps them with its knobs.
- `wait_for(predicate, timeout=10)`: import it with `from tests.conftest import wait_for`; polls until the
  predicate returns something truthy and returns that, or fails the test with `message`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

import pytest

from tui.sim.cluster import SimCluster

if TYPE_CHECKING:
    from tui.app import SvcscopeApp

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



@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimCluster]]:
    """Starts simulated clusters for a screen's tests and stops every one of them afterwards.

    `start_sim(scenario="tutorial", prepare=None, **knobs)`: `knobs` go to SimCluster (clock, bookmark_interval...);
    `prepare(sim)` runs before the start, for what must be wired first (a kube-proxy emulator, a DNS server)."""
    started: list[SimCluster] = []

    def start(scenario: str = "tutorial", prepare: Callable[[SimCluster], object] | None = None,
              **knobs: Any) -> SimCluster:
        cluster = SimCluster(scenario=scenario, **knobs)
        if prepare is not None:
            prepare(cluster)
        started.append(cluster.start())
        return cluster

    try:
        yield start
    finally:
        for cluster in reversed(started):
            cluster.stop()


@pytest.fixture
def demo_app(tmp_path: Path, xdg: dict[str, Path]) -> Callable[..., "SvcscopeApp"]:
    """Builds the app as `svcscope --demo` does (the CLI's factory, over real HTTP, state under tmp) against a sim.

    `demo_app(sim, clock=..., namespace="dev", read_only=False, demo=True, kubeconfig=None, **wiring)`; `wiring`
    goes to create_app (ipvs_reader, proxy_site, dns_address_map); `kubeconfig`: a file of the test's own (several
    contexts) instead of the sim's one-context file."""
    from tui.app import AppOptions, create_app  # imported late: most test directories never build the app
    from tui.config import StateStore, state_dir
    from tui.kube.client import connect

    def make(sim: SimCluster, *, clock: Callable[[], datetime], namespace: str = "dev", read_only: bool = False,
             demo: bool = True, kubeconfig: Path | None = None, **wiring: Any) -> "SvcscopeApp":
        path = kubeconfig or sim.write_kubeconfig(tmp_path / "kubeconfig", namespace=namespace)
        return create_app(connect(str(path), env={}), clock=clock, options=AppOptions(demo=demo, read_only=read_only),
                          state=StateStore(state_dir()), **wiring)

    return make
