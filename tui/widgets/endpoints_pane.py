"""The EndpointSlices pane: the selected Service's endpoints, one row per endpoint of each of its slices.

Rows are tui.kube.rows' endpoint cells (the same as `svcscope endpointslices --once SERVICE`): a condition the
server left unset shows the value it defaults to, marked with `*` (`true*`). Red: not ready; yellow: ready or
serving while terminating. Empty, the pane says why (tui.kube.rows.why_empty), which the screen works out.

Columns at 80 columns: ADDRESS, PORTS, READY, NODE, TARGET always, then SERVING, TERMINATING, SLICE, ZONE and
HOSTNAME as the width allows (long port lists and pod names are cut, ending in ~); `w` shows them all in full.
"""

from __future__ import annotations

from typing import Iterable

from tui.kube.models import SliceView
from tui.kube.rows import endpoint_rows
from tui.widgets.fast_table import Row
from tui.widgets.pane import LivePane, PaneColumn, ip_sort_key

ENDPOINT_PANE_COLUMNS: tuple[PaneColumn, ...] = (
    PaneColumn("address", "ADDRESS", 39, shrink_to=15, sort_key=ip_sort_key),
    PaneColumn("ports", "PORTS", 30, shrink_to=10),
    PaneColumn("ready", "READY", 6),
    PaneColumn("serving", "SERVING", 7, priority=1),
    PaneColumn("terminating", "TERMINATING", 11, priority=1),
    PaneColumn("node", "NODE", 24, shrink_to=8),
    PaneColumn("zone", "ZONE", 16, priority=3),
    PaneColumn("hostname", "HOSTNAME", 24, priority=4),
    PaneColumn("target", "TARGET", 40, shrink_to=12),
    PaneColumn("slice", "SLICE", 40, priority=2),
)


def endpoint_pane_rows(slices: Iterable[SliceView]) -> list[Row]:
    """The pane's rows for a Service's slices, keyed (namespace, slice, index) so that they sort in slice order."""
    out = []
    for row in endpoint_rows(slices):
        cells = tuple(row.cells[c.key] for c in ENDPOINT_PANE_COLUMNS)
        ready = row.cells["ready"].startswith("true")
        terminating = row.cells["terminating"].startswith("true")
        level = "error" if not ready and not terminating else "warning" if terminating else ""
        ns, name, index = row.key
        out.append(Row((ns, name, int(index)), cells, level))
    return out


class EndpointsPane(LivePane):
    BINDING_GROUP_TITLE = "EndpointSlices pane"
    SPEC = ENDPOINT_PANE_COLUMNS
    TITLE = "EndpointSlices"
