"""The panes' pure parts: filter forms, column fitting, sort keys, and rows that remember their cells."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tui.kube.models import ServiceView
from tui.widgets.fast_table import Row
from tui.widgets.pane import FilterError, PaneColumn, fit_columns, ip_sort_key, parse_filter, ratio_sort_key
from tui.widgets.services_pane import SERVICE_PANE_COLUMNS, ServiceRows

ROW = Row(("dev", "web"), ("dev", "web", "ClusterIP", "10.96.0.20"))


def test_filter_forms():
    assert parse_filter("WEB").matches(ROW, None)  # case-insensitive substring
    assert not parse_filter("!web").matches(ROW, None)
    assert parse_filter("!api").matches(ROW, None)
    labels = {("dev", "web"): {"app": "web", "tier": "front"}}.get
    assert parse_filter("-l tier=front,app").matches(ROW, labels)
    assert not parse_filter("-l tier!=front").matches(ROW, labels)
    assert not parse_filter("-l app=web").matches(Row(("dev", "gone"), ()), labels)  # unknown labels: no match
    with pytest.raises(FilterError, match="not valid"):
        parse_filter("-l tier in (")
    with pytest.raises(FilterError, match="Services pane"):
        parse_filter("-l app=web", labels_known=False)
    assert not parse_filter("   ").active


def test_fit_columns_keeps_the_essential_ones_and_shrinks_names_first():
    spec = (PaneColumn("name", "NAME", 40, shrink_to=8), PaneColumn("extra", "EXTRA", 20, priority=1),
            PaneColumn("count", "COUNT", 5))
    widths = {"name": 30, "extra": 10, "count": 5}
    assert [c.key for c in fit_columns(spec, widths, 60, set(), False)] == ["name", "extra", "count"]
    narrow = fit_columns(spec, widths, 20, set(), False)
    assert [c.key for c in narrow] == ["name", "count"] and narrow[0].width == 14  # 14 + 1 + 5 = 20
    assert narrow[1].cell == 2  # the row's cell it shows
    wide = fit_columns(spec, widths, 20, set(), True)
    assert [c.width for c in wide] == [30, 10, 5]  # `w`: everything, full width, scroll sideways
    assert [c.key for c in fit_columns(spec, widths, 60, {"extra"}, False)] == ["name", "count"]


def test_sort_keys():
    addresses = ["10.0.0.10", "<none>", "10.0.0.9", "fd00::1", "None"]
    assert sorted(addresses, key=ip_sort_key) == ["10.0.0.9", "10.0.0.10", "fd00::1", "<none>", "None"]
    assert sorted(["3/3", "-", "0/2", "10/10"], key=ratio_sort_key) == ["-", "0/2", "3/3", "10/10"]


def test_service_rows_reuse_cells_until_the_service_changes():
    def view(rv: str) -> ServiceView:
        return ServiceView.from_api({"metadata": {"name": "web", "namespace": "dev", "resourceVersion": rv,
                                                  "creationTimestamp": "2024-05-01T11:00:00Z"},
                                     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})

    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    rows, v1 = ServiceRows(), view("1")
    first = rows.row(v1, (0, 0), now)
    assert first.level == "error"
    again = rows.row(v1, (1, 2), now)  # the slices changed, the Service did not
    endpoints = [c.key for c in SERVICE_PANE_COLUMNS].index("endpoints")
    assert again.cells[endpoints] == "1/2" and again.level == "warning"
    assert again.cells[:endpoints] == first.cells[:endpoints]
    changed = rows.row(view("2"), (2, 2), now)  # a new view: built again from its JSON
    assert changed.cells[endpoints] == "2/2" and changed.level == ""
