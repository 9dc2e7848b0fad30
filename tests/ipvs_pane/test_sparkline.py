"""The IPVS screen's rate sparkline: scaled from zero, so a quiet entry draws the lowest bar, never full blocks
(textual's Sparkline scales from the history's minimum: one reading drew full blocks whatever it was)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.ipvs_pane import BARS, RateSparkline, rate_bars


def bars(values: list[float], width: int = 10) -> str:
    return "".join(bar for bar, _ in rate_bars(values, width))


def test_no_reading_draws_nothing():
    assert bars([]) == " " * 10


def test_zero_draws_the_lowest_bar_however_many_readings():
    assert bars([0.0]) == " " * 9 + "▁"
    assert bars([0.0] * 4) == " " * 6 + "▁" * 4
    assert bars([0.0] * 60) == "▁" * 10


def test_a_steady_rate_is_one_height_and_a_busy_one_full():
    assert bars([5.0]) == " " * 9 + "█"
    assert bars([5.0, 5.0, 5.0]) == " " * 7 + "███"


def test_heights_are_proportional_to_the_rate_from_zero():
    assert bars([0, 1, 2, 4, 8], 5) == "▁▂▃▅█"
    assert bars([0, 0.01, 100], 3) == "▁▂█"  # a trickle still shows above nothing
    assert bars([7, 8], 2) == "▇█"  # not "▁█": 7 is almost as busy as 8


def test_more_readings_than_columns_keep_each_columns_peak():
    values = [0.0] * 60
    values[31] = 3.0
    drawn = bars(values, 30)
    assert drawn == "▁" * 15 + "█" + "▁" * 14
    assert [round(r, 2) for _, r in rate_bars([1, 2, 3, 4], 2)] == [0.5, 1.0]


def test_negative_values_never_go_below_the_floor():
    assert bars([-1.0, 2.0], 2) == BARS[0] + BARS[-1]


class _One(App[None]):
    def __init__(self, data: list[float]) -> None:
        super().__init__()
        self.data = data

    def compose(self) -> ComposeResult:
        yield RateSparkline(self.data)


async def test_the_widget_draws_those_bars():
    app = _One([0.0, 0.0, 0.0])
    async with app.run_test(size=(12, 3)) as pilot:
        spark = app.query_one(RateSparkline)
        await pilot.pause()
        assert spark.size.width == 12
        line = "".join(seg.text for seg in spark.render_line(0))
        assert line == " " * 9 + "▁▁▁"
        spark.data = [0.0, 4.0]
        await pilot.pause()
        line = "".join(seg.text for seg in spark.render_line(0))
        assert line == " " * 10 + "▁█"
