"""Loading N rows into FastTable vs Textual's DataTable, side by side in one run; prints the ratio.

Why: the Services pane must show 10,000 Services quickly (issue 3). DataTable's add_row is ~130 us per row here.
Run: python bench/table_load.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run the checkout this script is in

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui.widgets.fast_table import Column, FastTable, Row

COLS = [("NAMESPACE", 12), ("NAME", 30), ("TYPE", 10), ("CLUSTER-IP", 15), ("PORT(S)", 12), ("AGE", 5)]


def data(n: int) -> list[tuple[str, ...]]:
    return [(f"ns-{i % 50}", f"svc-{i:05d}", "ClusterIP", f"10.96.{i // 250}.{i % 250}", "80/TCP", "5d")
            for i in range(n)]


class Bench(App[None]):
    def compose(self) -> ComposeResult:
        yield FastTable([Column(str(i), label, w) for i, (label, w) in enumerate(COLS)])
        yield DataTable()


async def one_round(n: int) -> tuple[float, float]:
    items = data(n)
    app = Bench()
    async with app.run_test(size=(120, 40)) as pilot:
        fast = app.query_one(FastTable)
        start = time.perf_counter()
        fast.set_rows(Row((r[0], r[1]), r) for r in items)
        await pilot.pause()
        t_fast = time.perf_counter() - start

        table = app.query_one(DataTable)
        for label, w in COLS:
            table.add_column(label, width=w)
        start = time.perf_counter()
        with app.batch_update():
            for r in items:
                table.add_row(*r, key=f"{r[0]}/{r[1]}")
        await pilot.pause()
        t_dt = time.perf_counter() - start
    return t_fast, t_dt


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = [asyncio.run(one_round(n)) for _ in range(3)]
    fast = statistics.median(r[0] for r in runs)
    dt = statistics.median(r[1] for r in runs)
    print(f"rows={n} FastTable={fast * 1000:.0f} ms DataTable={dt * 1000:.0f} ms ratio={fast / dt:.3f} "
          f"(FastTable/DataTable, lower is better; median of 3)")


if __name__ == "__main__":
    main()
