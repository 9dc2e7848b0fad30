"""FastTable: the keyed Line-API table every pane uses. The cursor must follow its row across updates."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.fast_table import Column, FastTable, Row

COLUMNS = (Column("name", "NAME", 12), Column("n", "N", 5, align_right=True))


def make_rows(n: int, prefix: str = "svc") -> list[Row]:
    return [Row(f"{prefix}-{i:05d}", (f"{prefix}-{i:05d}", str(i)), sort_keys=(None, i)) for i in range(n)]


class TableApp(App[None]):
    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows
        self.highlighted: list[object] = []

    def compose(self) -> ComposeResult:
        yield FastTable(COLUMNS, empty_text="no Services")

    def on_mount(self) -> None:
        self.query_one(FastTable).set_rows(self.rows)

    def on_fast_table_row_highlighted(self, message: FastTable.RowHighlighted) -> None:
        self.highlighted.append(message.key)


def screen_text(app: App) -> list[str]:
    table = app.query_one(FastTable)
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_renders_header_and_visible_rows_only() -> None:
    app = TableApp(make_rows(10_000))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        lines = screen_text(app)
        assert lines[0].startswith("NAME")
        assert lines[1].startswith("svc-00000")
        assert lines[9].startswith("svc-00008")
        # Only what was painted got a cached strip: rendering is proportional to the screen, not the table.
        table = app.query_one(FastTable)
        assert len(table._strips) <= 12


async def test_cursor_follows_its_row_when_rows_arrive_above_it() -> None:
    app = TableApp(make_rows(100))
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.focus()
        await pilot.press("down", "down", "down")
        assert table.cursor_key == "svc-00003"
        table.apply(upserts=[Row("aaa-new", ("aaa-new", "0"))])
        await pilot.pause()
        assert table.cursor_key == "svc-00003"
        assert table.cursor == 4
        table.apply(deletes=["svc-00003"])
        await pilot.pause()
        # Its row is gone: the cursor stays at the same position, on the next row.
        assert table.cursor_key == "svc-00004"
        assert app.highlighted[-1] == "svc-00004"


async def test_scrolls_to_keep_cursor_visible_and_end_key() -> None:
    app = TableApp(make_rows(1000))
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == "svc-00999"
        assert "svc-00999" in screen_text(app)[-1]
        await pilot.press("home")
        await pilot.pause()
        assert screen_text(app)[1].startswith("svc-00000")


async def test_sort_by_number_not_text_and_filter() -> None:
    rows = [Row("a", ("a", "10"), sort_keys=(None, 10)), Row("b", ("b", "9"), sort_keys=(None, 9))]
    app = TableApp(rows)
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.sort_by(1)
        assert table.visible_keys() == ["b", "a"]
        table.sort_by(1, reverse=True)
        assert table.visible_keys() == ["a", "b"]
        table.set_filter(lambda r: r.cells[0] == "b")
        await pilot.pause()
        assert table.visible_keys() == ["b"]
        assert table.total_count == 2 and table.row_count == 1
        table.set_filter(lambda r: False)
        await pilot.pause()
        assert "no Services" in screen_text(app)[1]


async def test_set_rows_replaces_everything() -> None:
    app = TableApp(make_rows(10))
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.set_rows(make_rows(3, prefix="new"))
        await pilot.pause()
        assert table.visible_keys() == ["new-00000", "new-00001", "new-00002"]
        assert not any(line.startswith("svc-") for line in screen_text(app))


async def test_rows_that_keep_their_place_are_replaced_without_a_resort() -> None:
    app = TableApp(make_rows(1000))
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(FastTable)
        table.focus()
        await pilot.press("down", "down")
        order = table.visible_keys()
        resorts = []
        original = table._reorder
        table._reorder = lambda: (resorts.append(1), original())  # type: ignore[method-assign]
        # a changed cell that does not move the row: no re-sort, the new text is shown, the cursor stays
        table.apply(upserts=[Row("svc-00002", ("svc-00002", "two"), level="error", sort_keys=(None, 2))])
        await pilot.pause()
        assert resorts == [] and table.visible_keys() == order and table.cursor_key == "svc-00002"
        assert screen_text(app)[3].split() == ["svc-00002", "two"]
        # sorted by N, a changed N moves the row: re-sorted
        table.sort_by(1)
        resorts.clear()
        table.apply(upserts=[Row("svc-00002", ("svc-00002", "5000"), sort_keys=(None, 5000))])
        assert resorts == [1] and table.visible_keys()[-1] == "svc-00002"
        # a filter that the change flips: re-sorted (the row leaves the view)
        table.sort_by(None)
        table.set_filter(lambda r: r.level != "error")
        resorts.clear()
        table.apply(upserts=[Row("svc-00005", ("svc-00005", "5"), level="error", sort_keys=(None, 5))])
        assert resorts == [1] and "svc-00005" not in table.visible_keys()
