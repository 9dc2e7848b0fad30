"""The IPVS pane: virtual servers with their real servers beneath (rows from tui.ipvs.tree), in a LivePane.

A filter keeps whole groups: a virtual server stays, with all its real servers, when any row of its group matches
(`dev/web:` keeps the web Service's virtual servers; a pod name keeps the virtual servers that reach that pod);
`!text` keeps the groups none of whose rows match. The rows keep the tree's order (no column sort).
"""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

from textual.binding import Binding

from tui.ipvs.tree import TREE_COLUMNS
from tui.widgets.fast_table import Row
from tui.widgets.pane import LivePane, PaneColumn, parse_filter

IPVS_PANE_COLUMNS: tuple[PaneColumn, ...] = tuple(
    PaneColumn(key, title, cap, priority=prio, align_right=right, shrink_to=shrink)
    for key, title, (cap, prio, right, shrink) in zip(
        ("server", "sched", "persist", "object", "active", "inactive", "cps", "pps", "bps"),
        TREE_COLUMNS,
        ((48, 0, False, 22), (16, 0, False, 0), (24, 0, False, 0), (48, 0, False, 12), (8, 0, True, 0),
         (8, 0, True, 0), (7, 1, True, 0), (7, 1, True, 0), (7, 1, True, 0)),
    )
)


class IPVSPane(LivePane):
    BINDING_GROUP_TITLE = "IPVS pane"
    SPEC = IPVS_PANE_COLUMNS
    TITLE = "IPVS"

    BINDINGS = [
        Binding("enter", "select", "to Service"),
    ]

    def __init__(self, *, empty_text: str = "", id: str | None = None) -> None:
        super().__init__(empty_text=empty_text, id=id)
        self._groups_total = 0
        self._groups_shown = 0
        # (filter text, what to say when it matches nothing): the screen's words for "this Service has no VS"
        self.no_match: tuple[str, str] = ("", "")

    # -- feeding: keep the group filter and the counts current -----------------------------------------------

    def load(self, rows: Iterable[Row]) -> None:
        super().load(rows)
        self._regroup()

    def update(self, upserts: Sequence[Row] = (), deletes: Iterable[Hashable] = ()) -> None:
        deletes = list(deletes)
        if not upserts and not deletes:
            return  # a read that changed nothing (a quiet node): no recount of 60,000 rows
        super().update(upserts, deletes)
        self._regroup()

    def _regroup(self) -> None:
        if self._row_filter.active:
            self._apply_groups()
        else:
            self._count()
        self._retitle()

    def _count(self) -> None:
        self._groups_total = sum(1 for k in self._rows if not k[1])
        shown = self._groups_total if self._filter is None else sum(1 for k in self._order if not k[1])
        self._groups_shown = shown

    def _apply_groups(self) -> None:
        row_filter = self._row_filter
        groups: dict[Hashable, bool] = {}
        for row in self._rows.values():
            group = row.key[0]
            hit = any(row_filter.needle in cell.lower() for cell in row.cells)
            groups[group] = groups.get(group, False) or hit
        keep = {g for g, hit in groups.items() if hit != row_filter.inverted}
        self.set_filter(lambda row: row.key[0] in keep)
        self._count()

    # -- filter and sort ---------------------------------------------------------------------------------------

    def apply_filter(self, text: str) -> None:
        self._row_filter = parse_filter(text, labels_known=False)
        if self._row_filter.active:
            self._apply_groups()
        else:
            self.set_filter(None)
            self._count()
        self._retitle()

    def action_sort(self) -> None:
        self.notify("The IPVS rows keep their tree order (virtual servers by address, real servers beneath).",
                    title=self.TITLE)

    def action_reverse(self) -> None:
        self.action_sort()

    # -- title --------------------------------------------------------------------------------------------------

    def _retitle(self) -> None:
        super()._retitle()
        total = getattr(self, "_groups_total", 0)
        count = f"{self._groups_shown}/{total}" if self._row_filter.active else f"{total}"
        context = f" {self.context}" if self.context else ""
        self.border_title = f"{self.TITLE}{context} [{count} virtual servers]"
        no_match = getattr(self, "no_match", ("", ""))
        if total and self._row_filter.active and self._row_filter.text.strip() == no_match[0]:
            self.set_empty_text(no_match[1])

    @property
    def virtual_count(self) -> int:
        """Virtual servers shown (after the filter)."""
        return self._groups_shown
