"""The Services pane: one row per Service, coloured for what the API alone shows is wrong.

It renders rows it is given (`service_pane_row` builds one from the shared models and tui.kube.rows' cells, the
same cells `svcscope services --once` prints); the screen feeds it from the watch caches. Red (error): no endpoint,
or none ready. Yellow (warning): some endpoints not ready, or a LoadBalancer still waiting for its address.

Columns at 80 columns: NAME, TYPE, CLUSTER-IP, PORT(S), ENDPOINTS, AGE always (and NAMESPACE with all namespaces),
then EXTERNAL-IP, SELECTOR and AFFINITY as the width allows; when even those are too wide, long names and port
lists are cut (ending in ~) rather than pushing ENDPOINTS off screen. `w` shows every column in full. `s` sorts by the next column,
`S` reverses; addresses sort as addresses, ENDPOINTS by the ready count, AGE by the creation time.
"""

from __future__ import annotations

from datetime import datetime

from textual.binding import Binding

from tui.kube.models import ServiceView
from tui.kube.rows import Health, service_row
from tui.widgets.fast_table import Row
from tui.widgets.pane import LivePane, PaneColumn, ip_sort_key

SERVICE_PANE_COLUMNS: tuple[PaneColumn, ...] = (
    PaneColumn("namespace", "NAMESPACE", 24, shrink_to=9),
    PaneColumn("name", "NAME", 40, shrink_to=12),
    PaneColumn("type", "TYPE", 12),
    PaneColumn("clusterIP", "CLUSTER-IP", 39, shrink_to=15),
    PaneColumn("externalIP", "EXTERNAL-IP", 32, priority=1),
    PaneColumn("ports", "PORT(S)", 32, shrink_to=10),
    PaneColumn("endpoints", "ENDPOINTS", 9, align_right=True),
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


def service_pane_row(view: ServiceView, counts: tuple[int, int], now: datetime) -> Row:
    """The pane's row for a Service: tui.kube.rows' cells in SERVICE_PANE_COLUMNS order, its level and sort keys."""
    row = service_row(view, counts, now)
    cells = tuple(row.cells[c.key] for c in SERVICE_PANE_COLUMNS)
    created = view.created.timestamp() if view.created else _FAR_FUTURE
    ready, total = counts
    sort_keys = (
        None, None, None, ip_sort_key(row.cells["clusterIP"]), ip_sort_key(row.cells["externalIP"]), None,
        (ready, total) if view.type != "ExternalName" else (-1, -1), None, None, -created,
    )
    return Row(view.key, cells, LEVELS[row.health], sort_keys)


class ServicesPane(LivePane):
    BINDING_GROUP_TITLE = "Services pane"
    SPEC = SERVICE_PANE_COLUMNS
    TITLE = "Services"

    BINDINGS = [
        Binding("enter", "select", "endpoints"),
    ]

    def set_all_namespaces(self, everything: bool) -> None:
        """NAMESPACE shows only when the pane lists every namespace."""
        self.hide("namespace", hidden=not everything)
