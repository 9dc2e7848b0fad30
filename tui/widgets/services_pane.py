"""The Services pane: one row per Service, coloured for what is wrong with it.

It renders rows it is given (`service_pane_row` builds one from the shared models and tui.kube.rows' cells, the
same cells `svcscope services --once` prints); the screen feeds it from the watch caches. Red (error): no endpoint,
or none ready. Yellow (warning): some endpoints not ready, or a LoadBalancer still waiting for its address.
DIAGNOSIS is the Service's worst verdict from the trace (OK, `! code` for a warning, `✗ code` for an error: see
tui.trace.model.Diagnosis), kept live by the trace feed; the row takes the worse of the two levels.

Columns at 80 columns: NAME, TYPE, CLUSTER-IP, PORT(S), ENDPOINTS, DIAGNOSIS, AGE always (and NAMESPACE with all
namespaces), then EXTERNAL-IP, SELECTOR and AFFINITY as the width allows; when even those are too wide, long
names, port lists and diagnoses are cut (ending in ~) rather than pushing ENDPOINTS off screen. `w` shows every
column in full. `s` sorts by the next column, `S` reverses; addresses sort as addresses, ENDPOINTS by the ready
count, DIAGNOSIS errors first, AGE by the creation time.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import Iterable

from textual.binding import Binding

from tui.kube.models import ServiceView, human_age
from tui.kube.rows import Health, service_cells, service_health
from tui.trace.model import Diagnosis
from tui.widgets.fast_table import Row
from tui.widgets.pane import LivePane, PaneColumn, ip_sort_key, ratio_sort_key

def diagnosis_sort_key(text: str) -> tuple[int, str]:
    """Errors first, then warnings, then OK, then not yet diagnosed; by code within each."""
    rank = {"✗": 0, "!": 1, "O": 2}.get(text[:1], 3)
    return (rank, text)


SERVICE_PANE_COLUMNS: tuple[PaneColumn, ...] = (
    PaneColumn("namespace", "NAMESPACE", 24, shrink_to=9),
    PaneColumn("name", "NAME", 40, shrink_to=12),
    PaneColumn("type", "TYPE", 12),
    PaneColumn("clusterIP", "CLUSTER-IP", 39, shrink_to=15, sort_key=ip_sort_key),
    PaneColumn("externalIP", "EXTERNAL-IP", 32, priority=1, sort_key=ip_sort_key),
    PaneColumn("ports", "PORT(S)", 32, shrink_to=10),
    PaneColumn("endpoints", "ENDPOINTS", 9, align_right=True, sort_key=ratio_sort_key),
    PaneColumn("diagnosis", "DIAGNOSIS", 24, shrink_to=12, sort_key=diagnosis_sort_key),
    PaneColumn("affinity", "AFFINITY", 16, priority=3),
    PaneColumn("selector", "SELECTOR", 40, priority=2),
    PaneColumn("age", "AGE", 7, align_right=True),
)

LEVELS = {
    Health.NO_ENDPOINTS: "error",
    Health.NONE_READY: "error",
    Health.PARTIAL: "warning",
    Health.LB_PENDING: "warning",
    Health.NOT_APPLICABLE: "",
    Health.OK: "",
}

_FAR_FUTURE = float("inf")
_NO_KEYS = (None,) * (len(SERVICE_PANE_COLUMNS) - 1)  # AGE is the last column
_KEYS = [c.key for c in SERVICE_PANE_COLUMNS]
_DIAGNOSIS = _KEYS.index("diagnosis")
# The cells dict as a tuple, in column order; DIAGNOSIS is not one of tui.kube.rows' cells (kubectl has no such
# column and `svcscope services` prints none): it comes from the trace feed.
_CELLS = itemgetter(*(k for k in _KEYS if k != "diagnosis"))
PENDING = "..."  # the cell until the trace feed has diagnosed the Service
_RANK = {"error": 2, "warning": 1}


def worse(a: str, b: str) -> str:
    """The worse of two row levels ("error" > "warning" > "")."""
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def service_pane_row(view: ServiceView, counts: tuple[int, int], now: datetime,
                     diagnosis: Diagnosis | None = None) -> Row:
    """The pane's row for a Service: tui.kube.rows' cells in SERVICE_PANE_COLUMNS order with its DIAGNOSIS, its
    level (the worse of what the API alone shows and the diagnosis) and sort keys."""
    ready, total = counts
    cells = list(_CELLS(service_cells(view, ready, total, now)))
    cells.insert(_DIAGNOSIS, diagnosis.text if diagnosis is not None else PENDING)
    return Row(view.key, tuple(cells), _level(LEVELS[service_health(view, ready, total)], diagnosis),
               _sort_keys(view))


def _level(health: str, diagnosis: Diagnosis | None) -> str:
    return worse(health, diagnosis.level) if diagnosis is not None and diagnosis.level != "ok" else health


def _sort_keys(view: ServiceView) -> tuple[object, ...]:
    # AGE sorts by the creation time (the text "5m" would not); the other columns sort by their cells' text, or by
    # their PaneColumn.sort_key, computed only when sorting by them
    return _NO_KEYS + (-(view.created.timestamp() if view.created else _FAR_FUTURE),)


class ServiceRows:
    """Builds the pane's rows, remembering each Service's cells: a ServiceView never changes (a change is a new
    view), so while it stays the same only ENDPOINTS and AGE can differ, and an EndpointSlice change (the common
    case in a rollout) costs a tuple copy instead of a new row."""

    _ENDPOINTS = [c.key for c in SERVICE_PANE_COLUMNS].index("endpoints")
    _AGE = [c.key for c in SERVICE_PANE_COLUMNS].index("age")

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[ServiceView, Row]] = {}
        self.diagnoses: dict[tuple[str, str], Diagnosis] = {}  # from the trace feed

    def row(self, view: ServiceView, counts: tuple[int, int], now: datetime) -> Row:
        known = self._known.get(view.key)
        diagnosis = self.diagnoses.get(view.key)
        if known is None or known[0] is not view:
            row = service_pane_row(view, counts, now, diagnosis)
        else:
            ready, total = counts
            cells = list(known[1].cells)
            cells[self._ENDPOINTS] = "-" if view.type == "ExternalName" else f"{ready}/{total}"
            cells[self._AGE] = human_age(view.created, now)
            cells[_DIAGNOSIS] = diagnosis.text if diagnosis is not None else PENDING
            row = Row(view.key, tuple(cells), _level(LEVELS[service_health(view, ready, total)], diagnosis),
                      known[1].sort_keys)
        self._known[view.key] = (view, row)
        return row

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            self._known.pop(key, None)
            self.diagnoses.pop(key, None)


class ServicesPane(LivePane):
    BINDING_GROUP_TITLE = "Services pane"
    SPEC = SERVICE_PANE_COLUMNS
    TITLE = "Services"

    BINDINGS = [
        Binding("enter", "select", "trace"),
        # Not in the footer (its 80 columns hold the essential keys); `?` and the palette list them.
        Binding("c", "create_service", "create a Service (wizard)", show=False),
        Binding("ctrl+d", "delete_service", "delete the Service", show=False, key_display="^d"),
    ]

    def action_create_service(self) -> None:
        from tui.screens.wizard import open_wizard  # the wizard's module loads on first use

        open_wizard(self.app)  # type: ignore[arg-type]

    def action_delete_service(self) -> None:
        from tui.screens.wizard import confirm_delete

        confirm_delete(self.app, self.cursor_key if isinstance(self.cursor_key, tuple) else None)  # type: ignore[arg-type]

    def set_all_namespaces(self, everything: bool) -> None:
        """NAMESPACE shows only when the pane lists every namespace."""
        self.hide("namespace", hidden=not everything)
