"""What the Services and EndpointSlices panes share: a FastTable with a border title, columns that fit the terminal,
k9s' filter forms, and sort keys.

Columns: every row carries all of its pane's cells (in `PaneColumn` order); which columns show is decided from the
pane's width: the essential ones (priority 0) always, the others in priority order while they fit, so an 80-column
terminal shows what matters and a wide one shows everything. `w` shows every column (scroll right/left with the
arrow keys). Widths follow the content (capped), growing as longer cells arrive and recomputed on a full load.

Filter forms (k9s): `text` keeps rows with `text` in any cell (case-insensitive), `!text` keeps the others,
`-l key=value,...` keeps rows whose labels match the selector (tui.kube.selectors; panes that have labels).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Mapping, Sequence

from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message

from tui.kube.selectors import SelectorError, match_labels, parse_label_selector
from tui.widgets.fast_table import Column, FastTable, Row

Key = Hashable
Labels = Callable[[Key], Mapping[str, str] | None]


@dataclass(frozen=True, slots=True)
class PaneColumn:
    key: str
    title: str
    cap: int  # the widest the column gets; longer cells end in "~" (the full text is in the detail view)
    priority: int = 0  # 0: always shown; then 1, 2, ... as the width allows
    align_right: bool = False
    shrink_to: int = 0  # how narrow it may get when the essential columns do not fit (0: never narrower)
    sort_key: Callable[[str], object] | None = None  # how the cell's text sorts, when not as text


class FilterError(ValueError):
    """A filter that cannot be applied; the message is the sentence to show."""


@dataclass(frozen=True)
class RowFilter:
    """A parsed filter; `matches(row, labels)` decides one row."""

    text: str
    needle: str = ""
    inverted: bool = False
    selector: tuple = ()  # label requirements (tui.kube.selectors.Requirement)

    @property
    def active(self) -> bool:
        return bool(self.text.strip())

    def matches(self, row: Row, labels: Labels | None) -> bool:
        if self.selector:
            have = labels(row.key) if labels is not None else None
            return have is not None and match_labels(self.selector, have)
        hit = any(self.needle in cell.lower() for cell in row.cells)
        return hit != self.inverted


def parse_filter(text: str, labels_known: bool = True) -> RowFilter:
    """`text`, `!text` or `-l selector` (see the module docstring). Raises FilterError with a sentence."""
    raw = text.strip()
    if raw.startswith("-l"):
        spec = raw[2:].strip()
        if not labels_known:
            raise FilterError("This pane has no labels to match: -l filters work on the Services pane.")
        if not spec:
            raise FilterError("Give a label selector after -l, for example -l app=web.")
        try:
            reqs = parse_label_selector(spec)
        except SelectorError as exc:
            raise FilterError(f"The label selector {spec!r} is not valid ({exc}); try key=value or key!=value.")
        return RowFilter(text, selector=reqs)
    if raw.startswith("!"):
        return RowFilter(text, needle=raw[1:].strip().lower(), inverted=True)
    return RowFilter(text, needle=raw.lower())


NO_FILTER = RowFilter("")


def fit_columns(spec: Sequence[PaneColumn], widths: Mapping[str, int], available: int, hidden: set[str],
                wide: bool) -> tuple[Column, ...]:
    """The columns to show, in `spec` order: priority 0 always, then by priority while they fit `available`.

    When even the essential columns are too wide, the widest shrinkable ones give way (down to their `shrink_to`),
    so that the columns that matter stay on an 80-column screen; `wide` shows every column at its full width.
    """
    shown = [c for c in spec if c.key not in hidden]
    keep = {c.key for c in shown if c.priority == 0 or wide}
    width = {c.key: widths[c.key] for c in shown}
    used = sum(width[k] + 1 for k in keep) - 1
    if not wide and used > available:
        shrinkable = [c for c in shown if c.key in keep and c.shrink_to]
        while used > available:
            widest = max(shrinkable, key=lambda c: width[c.key] - c.shrink_to, default=None)
            if widest is None or width[widest.key] <= widest.shrink_to:
                break
            width[widest.key] -= 1
            used -= 1
    for col in sorted((c for c in shown if c.key not in keep), key=lambda c: c.priority):
        if used + width[col.key] + 1 <= available:
            keep.add(col.key)
            used += width[col.key] + 1
    index = {c.key: i for i, c in enumerate(spec)}
    return tuple(Column(c.key, c.title, width[c.key], c.align_right, cell=index[c.key]) for c in shown
                 if c.key in keep)


class LivePane(FastTable):
    """A FastTable fed by the screen: rows with every cell, columns fitted to the width, filter and sort state."""

    DEFAULT_CSS = """
    LivePane {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        &:focus { border: round $accent; border-title-color: $accent; }
    }
    """

    BINDINGS = [
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("escape", "clear_filter", "clear filter", show=False, key_display="esc"),
        Binding("s", "sort", "sort by the next column", show=False),
        Binding("S", "reverse", "reverse sort", show=False),
        Binding("w", "wide", "all columns / fit the width", show=False),
    ]

    SPEC: tuple[PaneColumn, ...] = ()
    TITLE = ""

    class FilterRequested(Message):
        """`/` pressed: the screen opens its filter line for this pane."""

        def __init__(self, pane: "LivePane") -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, *, empty_text: str = "", id: str | None = None) -> None:
        super().__init__((), empty_text=empty_text, id=id)
        self.set_cell_sort_keys({i: c.sort_key for i, c in enumerate(self.SPEC) if c.sort_key is not None})
        self._widths: dict[str, int] = {c.key: len(c.title) for c in self.SPEC}
        self._hidden: set[str] = set()
        self._wide = False
        self._row_filter: RowFilter = NO_FILTER
        self._labels: Labels | None = None
        self._sort_key: str | None = None  # a PaneColumn key, None for the rows' key order
        self._reverse = False
        self.context = ""  # what the title says the pane shows ("namespace dev", "dev/web")
        self._why, self._why_level = empty_text, ""  # why the pane is empty when no filter hides its rows
        self._note = ""  # a word on the data itself, e.g. that it may be stale while reconnecting

    # -- feeding ---------------------------------------------------------------------------------------------

    def load(self, rows: Iterable[Row]) -> None:
        """Replace every row (first list, new scope): widths are recomputed from scratch."""
        rows = list(rows)
        self._widths = {c.key: len(c.title) for c in self.SPEC}
        self._grow(rows)
        self.set_rows(rows)
        self._fit()
        self._retitle()

    def update(self, upserts: Sequence[Row] = (), deletes: Iterable[Key] = ()) -> None:
        """A change batch: only these rows change."""
        if self._grow(upserts):
            self._fit()
        self.apply(upserts, deletes)
        self._retitle()

    def _grow(self, rows: Sequence[Row]) -> bool:
        widths, grew = self._widths, False
        if not rows:
            return False
        for col, cells in zip(self.SPEC, zip(*(r.cells for r in rows))):  # column by column, in C loops
            want = min(col.cap, max(map(len, cells)))
            if want > widths[col.key]:
                widths[col.key] = want
                grew = True
        return grew

    def hide(self, *keys: str, hidden: bool = True) -> None:
        changed = False
        for key in keys:
            if (key in self._hidden) != hidden:
                changed = True
                (self._hidden.add if hidden else self._hidden.discard)(key)
        if changed:
            self._fit()

    # -- columns ----------------------------------------------------------------------------------------------

    @property
    def wide(self) -> bool:
        return self._wide

    def shown_columns(self) -> list[str]:
        return [c.key for c in self.columns]

    def _fit(self) -> None:
        available = self.scrollable_content_region.width if self.is_mounted else 78
        widths = dict(self._widths)
        if self._sort_key is not None:  # room for the header's " ^" / " v"
            title = next(c.title for c in self.SPEC if c.key == self._sort_key)
            widths[self._sort_key] = max(widths[self._sort_key], len(title) + 2)
        cols = fit_columns(self.SPEC, widths, available or 78, self._hidden, self._wide)
        if cols != self.columns:
            self.set_columns(cols)

    def on_resize(self) -> None:
        super().on_resize()
        self._fit()

    def action_wide(self) -> None:
        self._wide = not self._wide
        self._fit()
        self.notify("Every column shown: left and right arrows scroll." if self._wide
                    else "Columns fitted to the terminal's width.", title=self.TITLE)

    # -- sort -------------------------------------------------------------------------------------------------

    @property
    def sort_key(self) -> tuple[str | None, bool]:
        return self._sort_key, self._reverse

    def set_sort(self, key: str | None, reverse: bool = False) -> None:
        self._sort_key, self._reverse = key, reverse
        index = next((i for i, c in enumerate(self.SPEC) if c.key == key), None)
        self._fit()
        self.sort_by(index, reverse)

    def action_sort(self) -> None:
        """Next shown column (then back to the default order)."""
        shown = self.shown_columns()
        if self._sort_key not in shown:
            nxt: str | None = shown[0] if shown else None
        else:
            i = shown.index(self._sort_key)
            nxt = shown[i + 1] if i + 1 < len(shown) else None
        self.set_sort(nxt, False)

    def action_reverse(self) -> None:
        if self._sort_key is None:
            shown = self.shown_columns()
            self.set_sort(shown[0] if shown else None, True)
        else:
            self.set_sort(self._sort_key, not self._reverse)

    # -- filter -----------------------------------------------------------------------------------------------

    @property
    def filter_text(self) -> str:
        return self._row_filter.text if self._row_filter.active else ""

    def set_labels(self, labels: Labels | None) -> None:
        """Where `-l` finds a row's labels (None: this pane has none)."""
        self._labels = labels

    def apply_filter(self, text: str) -> None:
        """Filter the rows (see the module docstring); raises FilterError with a sentence for a bad one."""
        row_filter = parse_filter(text, self._labels is not None)
        self._row_filter = row_filter
        labels = self._labels
        self.set_filter((lambda row: row_filter.matches(row, labels)) if row_filter.active else None)
        self._retitle()

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested(self))

    def action_clear_filter(self) -> None:
        if not self._row_filter.active:
            raise SkipAction()  # nothing to clear: esc goes on to the app (back)
        self.apply_filter("")

    # -- title and empty text ------------------------------------------------------------------------------

    def explain(self, text: str, level: str = "") -> None:
        """Why the pane has no row (shown when it has none and no filter hides them); level "error" for a problem."""
        self._why, self._why_level = text, level
        self._retitle()

    def _retitle(self) -> None:
        shown, total = self.row_count, self.total_count
        active = self._row_filter.active
        count = f"{shown}/{total}" if active else f"{total}"
        context = f" {self.context}" if self.context else ""
        self.border_title = f"{self.TITLE}{context} [{count}]"
        parts = [f"/{self._row_filter.text.strip()}" if active else "", self._note]
        self.border_subtitle = "  ".join(p for p in parts if p)
        if total and active:
            self.set_empty_text(f"Nothing matches /{self._row_filter.text.strip()}: esc clears the filter.")
        else:
            self.set_empty_text(self._why, self._why_level)

    def set_note(self, text: str) -> None:
        if text != self._note:
            self._note = text
            self._retitle()

    def set_context(self, text: str) -> None:
        self.context = text
        self._retitle()


def ratio_sort_key(text: str) -> tuple[int, int]:
    """`3/5` as (3, 5); anything else (ExternalName's `-`) first."""
    ready, _, total = text.partition("/")
    return (int(ready), int(total)) if ready.isdigit() and total.isdigit() else (-1, -1)


def ip_sort_key(text: str) -> tuple:
    """Addresses sort as addresses (10.0.0.9 before 10.0.0.10), names and markers after them."""
    first = text.split(",")[0]
    try:
        ip = ipaddress.ip_address(first)
        return (0, ip.version, int(ip), text)
    except ValueError:
        return (1, 0, 0, text)
