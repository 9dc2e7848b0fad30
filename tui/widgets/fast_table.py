"""A keyed table that renders only the rows on screen (Textual's Line API), for panes of 10,000+ rows.

Textual's DataTable costs ~130 us per added row and rebuilds its row index on every removal (reference §7), which
makes a 10,000-Service cluster take seconds to show and a burst of watch events freeze the screen. This table keeps
rows in a dict plus one ordered list of keys; an update costs a dict write, a re-sort happens once per batch, and a
repaint renders only the visible lines, each cached as a Strip until its row changes.

The cursor follows the row KEY across updates and re-sorts (the row an admin is looking at does not jump away when
a watch event lands above it).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Mapping, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Key = Hashable


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    align_right: bool = False
    # Which of a row's cells this column shows; -1: the cell at the column's own position. Lets a pane keep every
    # cell in its rows and show a subset (narrow terminals) without rebuilding a row when the columns change.
    cell: int = -1


@dataclass(frozen=True, slots=True)
class Row:
    key: Key
    cells: tuple[str, ...]
    # A semantic level the theme colours: "" (normal), "error", "warning", "ok", "dim".
    level: str = ""
    # What the table sorts by for each column when the cell text would sort wrongly (numbers, ages).
    sort_keys: tuple[object, ...] | None = None


def _fit(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: max(width - 1, 0)] + "~" if width > 1 else text[:width]
    return text.rjust(width) if right else text.ljust(width)


class FastTable(ScrollView, can_focus=True):
    """A read-only keyed table. Feed it with `set_rows` (all rows) or `apply` (a change batch)."""

    DEFAULT_CSS = """
    FastTable {
        background: $surface;
        height: 1fr;
    }
    FastTable > .fast-table--header { text-style: bold; color: $text-accent; background: $panel; }
    FastTable > .fast-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    FastTable:blur > .fast-table--cursor { background: $block-cursor-blurred-background; }
    FastTable > .fast-table--error { color: $text-error; }
    FastTable > .fast-table--warning { color: $text-warning; }
    FastTable > .fast-table--ok { color: $text-success; }
    FastTable > .fast-table--dim { color: $text-muted; }
    FastTable > .fast-table--empty { color: $text-muted; text-style: italic; }
    """

    COMPONENT_CLASSES = {
        "fast-table--header",
        "fast-table--cursor",
        "fast-table--error",
        "fast-table--warning",
        "fast-table--ok",
        "fast-table--dim",
        "fast-table--empty",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "up", show=False),
        Binding("down,j", "cursor(1)", "down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "page down", show=False),
        Binding("home,g", "edge(0)", "top", show=False),
        Binding("end,G", "edge(1)", "bottom", show=False),
        # No description: a table's enter means what its pane says (help lists the pane's own binding).
        Binding("enter", "select", "", show=False),
    ]

    class _RowMessage(Message):
        """A message about one row of a table; `control` lets `@on(..., "#id")` select by the table."""

        def __init__(self, table: "FastTable", key: Key | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "FastTable":
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor moved to another row (or the table emptied: key None)."""

    class RowSelected(_RowMessage):
        """Enter on a row (key is never None)."""

    cursor = reactive(0, repaint=False, init=False)

    def __init__(self, columns: Sequence[Column] = (), *, empty_text: str = "nothing to show",
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._rows: dict[Key, Row] = {}
        self._order: list[Key] = []  # the visible keys, sorted and filtered
        self._index: dict[Key, int] = {}
        self._strips: dict[Key, Strip] = {}
        self._sort_column: int | None = None
        self._sort_reverse = False
        self._filter: Callable[[Row], bool] | None = None
        self._cell_sort: dict[int, Callable[[str], object]] = {}
        self._base_style: Style | None = None
        self._cursor_key: Key | None = None
        self.empty_text = empty_text
        self.empty_level = ""  # "" (muted), or a row level ("error", "warning") for an empty text that is a problem

    # -- data ----------------------------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self._order)

    @property
    def total_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_key(self) -> Key | None:
        return self._cursor_key

    def row(self, key: Key) -> Row | None:
        return self._rows.get(key)

    def visible_keys(self) -> list[Key]:
        return list(self._order)

    def set_columns(self, columns: Sequence[Column]) -> None:
        self._columns = tuple(columns)
        self._strips.clear()
        self._update_virtual_size()
        self.refresh()

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace every row (a fresh list or a relist): nothing stale survives."""
        self._rows = {r.key: r for r in rows}
        self._strips.clear()
        self._reorder()

    def apply(self, upserts: Iterable[Row] = (), deletes: Iterable[Key] = ()) -> None:
        """A change batch. Rows that keep their place (same sort value, same filter verdict: a count or a colour
        changed) are replaced in place, at a cost proportional to the batch; anything else costs one re-sort."""
        upserts = list(upserts)
        deletes = [k for k in deletes if k in self._rows]
        if not deletes and all(self._keeps_place(r) for r in upserts):
            for r in upserts:
                self._rows[r.key] = r
                self._strips.pop(r.key, None)
            self.refresh()
            return
        for key in deletes:
            self._rows.pop(key, None)
            self._strips.pop(key, None)
        for r in upserts:
            self._rows[r.key] = r
            self._strips.pop(r.key, None)
        self._reorder()

    def _keeps_place(self, new: Row) -> bool:
        old = self._rows.get(new.key)
        if old is None:
            return False
        if self._filter is not None and self._filter(old) != self._filter(new):
            return False
        col = self._sort_column
        return col is None or self._sort_value(old, col) == self._sort_value(new, col)

    def set_filter(self, predicate: Callable[[Row], bool] | None) -> None:
        self._filter = predicate
        self._reorder()

    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        """Sort by a cell index (see Column.cell), or None for the rows' key order."""
        self._sort_column = column
        self._sort_reverse = reverse
        self._reorder()

    @property
    def sort_state(self) -> tuple[int | None, bool]:
        return self._sort_column, self._sort_reverse

    def set_cell_sort_keys(self, keys: Mapping[int, Callable[[str], object]]) -> None:
        """Sort keys computed from a cell's text, and only when sorting by it (an address parsed as an address):
        cheaper than every row carrying them in `Row.sort_keys`, which still wins when given."""
        self._cell_sort = dict(keys)

    def _sort_value(self, row: Row, col: int) -> object:
        if row.sort_keys is not None and col < len(row.sort_keys) and row.sort_keys[col] is not None:
            return row.sort_keys[col]
        text = row.cells[col] if col < len(row.cells) else ""
        key = self._cell_sort.get(col)
        return key(text) if key is not None else text

    def _reorder(self) -> None:
        rows: Iterable[Row] = self._rows.values()
        if self._filter is not None:
            rows = [r for r in rows if self._filter(r)]
        if self._sort_column is None:
            try:  # the keys' own order (tuples of names and numbers), else their text
                order = sorted(rows, key=lambda r: r.key)  # type: ignore[arg-type, return-value]
            except TypeError:
                order = sorted(rows, key=lambda r: str(r.key))
        else:
            col = self._sort_column
            order = sorted(rows, key=lambda r: (self._sort_value(r, col), str(r.key)), reverse=self._sort_reverse)
        self._order = [r.key for r in order]
        self._index = {k: i for i, k in enumerate(self._order)}
        # Keep the cursor on the same row when it is still there; else on the same position.
        if self._cursor_key in self._index:
            new = self._index[self._cursor_key]
        else:
            new = min(self.cursor, max(len(self._order) - 1, 0))
        self._set_cursor(new, announce=True)
        self._update_virtual_size()
        self.refresh()

    def update_in_place(self, rows: Iterable[Row]) -> None:
        """Replace rows whose position cannot change (new cell text, same sort value): no re-sort, only a repaint.
        Rows not in the table are ignored. For periodic refreshes such as ticking ages."""
        for r in rows:
            if r.key in self._rows:
                self._rows[r.key] = r
                self._strips.pop(r.key, None)
        self.refresh()

    def visible_window(self) -> list[Key]:
        """The keys of the rows on screen now."""
        top = int(self.scroll_y)
        body = max(self.scrollable_content_region.height - 1, 0)
        return self._order[top: top + body]

    def _update_virtual_size(self) -> None:
        width = max(sum(c.width + 1 for c in self._columns) - 1, 0)  # columns joined by one space
        self.virtual_size = Size(width, len(self._order) + 1)

    # -- cursor --------------------------------------------------------------------------------------------

    def _set_cursor(self, index: int, announce: bool) -> None:
        index = max(0, min(index, len(self._order) - 1)) if self._order else 0
        old_key = self._cursor_key
        self.cursor = index
        self._cursor_key = self._order[index] if self._order else None
        if self._cursor_key != old_key:
            if old_key is not None:
                self._strips.pop(old_key, None)
            if self._cursor_key is not None:
                self._strips.pop(self._cursor_key, None)
            if announce:
                self.post_message(self.RowHighlighted(self, self._cursor_key))
        self._scroll_cursor_into_view()

    def _scroll_cursor_into_view(self) -> None:
        if not self.is_mounted:
            return
        body = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def move_cursor_to_key(self, key: Key) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self._set_cursor(index, announce=True)
        self.refresh()
        return True

    def _move(self, index: int) -> None:
        """Move the cursor; repaint only the two rows involved unless the view scrolled (a key press must repaint
        quickly at any table size, and with 50,000 rows a full repaint is most of a frame)."""
        old, top = self.cursor, self.scroll_y
        self._set_cursor(index, announce=True)
        if self.scroll_y == top:
            self.refresh_line(old + 1)  # +1: the header is line 0
            self.refresh_line(self.cursor + 1)
        else:
            self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        body = max(self.scrollable_content_region.height - 1, 1)
        self._move(self.cursor + direction * body)

    def action_edge(self, end: int) -> None:
        self._move(len(self._order) - 1 if end else 0)

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.RowSelected(self, self._cursor_key))

    # -- rendering -----------------------------------------------------------------------------------------

    def _line_text(self, cells: Sequence[str]) -> str:
        parts = []
        for i, col in enumerate(self._columns):
            at = col.cell if col.cell >= 0 else i
            parts.append(_fit(cells[at] if at < len(cells) else "", col.width, col.align_right))
        return " ".join(parts)

    def _header_text(self) -> str:
        """The column labels; the sorted column carries ^ (ascending) or v (descending), ASCII for any terminal."""
        labels = []
        for i, col in enumerate(self._columns):
            at = col.cell if col.cell >= 0 else i
            if self._sort_column is not None and at == self._sort_column:
                labels.append(f"{col.label} {'v' if self._sort_reverse else '^'}")
            else:
                labels.append(col.label)
        return self._line_text_cells(labels)

    def _line_text_cells(self, labels: Sequence[str]) -> str:
        return " ".join(_fit(text, col.width, col.align_right) for text, col in zip(labels, self._columns))

    def _row_strip(self, key: Key, base: Style) -> Strip:
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        row = self._rows[key]
        if key == self._cursor_key:
            style = base + self.get_component_rich_style("fast-table--cursor")
        elif row.level:
            style = base + self.get_component_rich_style(f"fast-table--{row.level}")
        else:
            style = base
        strip = Strip([Segment(self._line_text(row.cells), style)])
        self._strips[key] = strip
        return strip

    def render_lines(self, crop: Region) -> list[Strip]:
        # the widget's style walks its ancestors: work it out once per repaint, not once per line
        self._base_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x = int(self.scroll_x)
        base = self._base_style or self.rich_style
        if y == 0:
            header_style = base + self.get_component_rich_style("fast-table--header")
            header = Strip([Segment(self._header_text(), header_style)])
            return header.crop_extend(scroll_x, scroll_x + width, header_style)
        index = int(self.scroll_y) + y - 1
        if not self._order:
            lines = self._empty_lines(width)
            if 1 <= y <= len(lines):
                level = f"fast-table--{self.empty_level}" if self.empty_level else "fast-table--empty"
                style = base + self.get_component_rich_style(level)
                return Strip([Segment(" " + lines[y - 1], style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if index >= len(self._order):
            return Strip.blank(width, base)
        strip = self._row_strip(self._order[index], base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def set_empty_text(self, text: str, level: str = "") -> None:
        """What an empty table says (why it is empty); wrapped to the table's width."""
        if (text, level) != (self.empty_text, self.empty_level):
            self.empty_text, self.empty_level = text, level
            self.refresh()

    def _empty_lines(self, width: int) -> list[str]:
        out: list[str] = []
        for para in self.empty_text.splitlines() or [""]:
            out.extend(textwrap.wrap(para, max(width - 2, 10)) or [""])
        return out

    def on_resize(self) -> None:
        self._strips.clear()
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

