"""Dashboard layout and chart declarations refuse what Superset would silently mangle."""

from __future__ import annotations

from typing import Any

import pytest

from georchestra_analytics.superset.charts import ChartDefinitionError, chart_definition
from georchestra_analytics.superset.layout import LayoutError, dashboard_position, native_filters

CHARTS: dict[str, dict[str, Any]] = {
    key: {"uuid": f"uuid-{key}", "name": key.title(), "id": number, "dataset": "usage"}
    for number, key in enumerate(["a", "b", "c"], start=1)
}


def _tab(*rows: list[str]) -> list[dict[str, Any]]:
    return [{"key": "t", "title": "T", "rows": list(rows)}]


def test_position_places_every_chart_with_its_uuid() -> None:
    position = dashboard_position("Title", _tab(["a", "b"], ["c"]), CHARTS)
    charts = {n["meta"]["uuid"]: n for n in position.values() if isinstance(n, dict) and n.get("type") == "CHART"}
    assert set(charts) == {"uuid-a", "uuid-b", "uuid-c"}
    assert charts["uuid-a"]["meta"]["width"] == 6 and charts["uuid-c"]["meta"]["width"] == 12
    for node in charts.values():
        assert node["parents"][-1] in position


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((["a", "b"], ["c", "x"]), "has no template"),
        ((["a", "b"], ["c", "a"]), "placed twice"),
        ((["a", "b"],), "no place on the dashboard: c"),
    ],
)
def test_layout_mistakes_are_refused(rows: tuple[list[str], ...], message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        dashboard_position("Title", _tab(*rows), CHARTS)


def test_a_row_too_wide_is_refused() -> None:
    many = {f"c{i}": {"uuid": f"u{i}", "name": "n", "id": i, "dataset": "usage"} for i in range(7)}
    with pytest.raises(LayoutError, match="too many charts"):
        dashboard_position("Title", _tab(list(many)), many)


def test_a_filter_limited_to_some_datasets_excludes_the_other_charts() -> None:
    charts = CHARTS | {"d": {"uuid": "uuid-d", "name": "D", "id": 4, "dataset": "layer_usage"}}
    (native,) = native_filters(
        [
            {
                "key": "w",
                "name": "W",
                "type": "select",
                "column": "workspace",
                "dataset": "layer_usage",
                "only_datasets": ["layer_usage"],
            }
        ],
        charts,
        lambda key: f"dataset-{key}",
    )
    assert native["scope"]["excluded"] == [1, 2, 3]
    assert native["targets"] == [{"column": {"name": "workspace"}, "datasetUuid": "dataset-layer_usage"}]


def test_unknown_filter_type_is_refused() -> None:
    with pytest.raises(LayoutError, match="unknown type"):
        native_filters([{"key": "x", "name": "X", "type": "slider"}], CHARTS, str)


@pytest.mark.parametrize(
    ("kind", "metrics", "groupby", "message"),
    [
        ("gauge", ["requests"], [], "unknown chart kind"),
        ("table", [], ["app"], "at least one metric"),
        ("number", ["requests", "errors"], [], "exactly one metric"),
        ("number", ["requests"], ["app"], "cannot be grouped"),
        ("world_map", ["requests", "bytes"], ["country"], "exactly one metric"),
        ("world_map", ["requests"], [], "one column of country codes"),
    ],
)
def test_impossible_charts_are_refused(kind: str, metrics: list[str], groupby: list[str], message: str) -> None:
    with pytest.raises(ChartDefinitionError, match=message):
        chart_definition(kind, metrics, groupby)


def test_form_data_and_query_context_agree() -> None:
    chart = chart_definition("line", ["requests"], ["service"], filters=[["is_download", "==", True]])
    params, query = chart.params(), chart.query()
    assert params["metrics"] == query["metrics"] == ["requests"]
    assert query["columns"][1:] == params["groupby"] == ["service"]
    assert query["columns"][0]["timeGrain"] == params["time_grain_sqla"]
    assert {"col": "is_download", "op": "==", "val": True} in query["filters"]
    assert chart.query_context()["form_data"] == params
