"""The IPVS pane: virtual servers with their real servers beneath (rows from tui.ipvs.tree), in a LivePane.

A filter keeps whole groups: a virtual server stays, with all its real servers, when any row of its group matches
(`dev/web:` keeps the web Service's virtual servers; a pod name keeps the virtual servers that reach that pod);
`!text` keeps the groups none of whose rows match. The rows keep the tree's order (no column sort).
"""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding
from textual.widgets import Sparkline

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


# -- the rate sparkline under the pane --------------------------------------------------------------------------

BARS = "▁▂▃▄▅▆▇█"


def rate_bars(values: Sequence[float], width: int) -> list[tuple[str, float]]:
    """(bar, height 0..1) per column for a rate history, oldest first, newest in the last column.

    Scaled from zero, since rates are never negative: zero draws the lowest bar, any flow at least the next one,
    a steady rate the same bar everywhere. (textual's Sparkline scales from the history's minimum: a single reading drew full blocks even when
    nothing flowed, a steady busy rate the lowest bar.) More readings than columns: a column shows the highest of
    its share; fewer: one column each, right-aligned, the columns before the first reading blank."""
    if width <= 0:
        return []
    if len(values) > width:
        step = len(values) / width
        values = [max(values[int(i * step):int((i + 1) * step)]) for i in range(width)]
    top = max(values, default=0.0)
    out: list[tuple[str, float]] = [(" ", 0.0)] * (width - len(values))
    for v in values:
        ratio = min(max(v, 0.0) / top, 1.0) if top > 0 else 0.0
        out.append((BARS[max(1, round(ratio * (len(BARS) - 1))) if ratio > 0 else 0], ratio))
    return out


class RateSparkline(Sparkline):
    """textual's Sparkline (its colours and component classes) drawing `rate_bars`, one line high."""

    def render(self) -> RenderResult:
        _, base = self.background_colors
        low = base + (self.min_color or self.get_component_styles("sparkline--min-color").color)
        high = base + (self.max_color or self.get_component_styles("sparkline--max-color").color)
        text = Text(no_wrap=True, overflow="crop")
        for bar, ratio in rate_bars(list(self.data or []), self.size.width):
            text.append(bar, None if bar == " " else Style(color=low.blend(high, ratio).rich_color))
        return text

