"""Every chart's numbers, as Superset's chart-data API computes them, equal a direct SQL query on the dashboard
views with the same grouping and filters: without a time filter, over a week (hourly view), over forty days
(daily view), and with an application filter. The expected side is written here, independently of the bundle's
metric definitions, from the view columns docs/database.md documents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql
from tests.superset.conftest import DATA_END, SCHEMA, AnalyticsDatabase

from georchestra_analytics.superset.bundle import Bundle, build_bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.sync import sync

_S = sql.Identifier(SCHEMA).as_string(None)
EXPECTED_METRICS = {
    "requests": "sum(requests)",
    "errors": "sum(errors)",
    "bytes": "sum(bytes)",
    "error_rate": "sum(errors)::float8 / nullif(sum(requests), 0)",
    "users": 'count(DISTINCT "user")',
    "organisations": "count(DISTINCT org)",
    "avg_response_ms": "sum(response_time_sum_ms)::float8 / nullif(sum(response_time_count), 0)",
    "p50_ms": f"{_S}.percentile_from_histogram({_S}.histogram_sum(response_time_histogram), 0.5)",
    "p95_ms": f"{_S}.percentile_from_histogram({_S}.histogram_sum(response_time_histogram), 0.95)",
    "longitude": "max(cell_lon)",
    "latitude": "max(cell_lat)",
    "robot_share": "(sum(requests) FILTER (WHERE is_robot))::float8 / nullif(sum(requests), 0)",
}
GRAIN_UNITS = {"PT1H": "hour", "P1D": "day", "P1W": "week", "P1M": "month"}
FAMILY = {
    name: name
    for name in ("usage", "layer_usage", "user_usage", "client_usage", "layer_extents", "audience", "client_layers")
}


def _days_before_end(first: int, last: int) -> tuple[str, str]:
    return ((DATA_END - timedelta(days=first)).isoformat()[:19], (DATA_END - timedelta(days=last)).isoformat()[:19])


# (label, time range or None, extra filters)
SCENARIOS = [
    ("all time", None, []),
    ("one week", _days_before_end(26, 19), []),
    ("forty days", _days_before_end(50, 10), []),
    ("geoserver, forty days", _days_before_end(50, 10), [{"col": "app", "op": "IN", "val": ["geoserver"]}]),
]


def _view(family: str, time_range: tuple[str, str] | None) -> str:
    """The grain the dashboards promise: hourly up to 7 days, daily up to 366, else monthly."""
    if time_range is None:
        return f"{family}_monthly"
    days = (datetime.fromisoformat(time_range[1]) - datetime.fromisoformat(time_range[0])).days
    return f"{family}_hourly" if days <= 7 else f"{family}_daily" if days <= 366 else f"{family}_monthly"


def _filter_sql(entry: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    column = sql.Identifier(entry["col"])
    op = entry["op"]
    if op == "IS NOT NULL":
        return sql.SQL("{} IS NOT NULL").format(column), []
    if op == "==":
        return sql.SQL("{} = %s").format(column), [entry["val"]]
    if op == "IN":
        return sql.SQL("{} = ANY(%s)").format(column), [list(entry["val"])]
    raise AssertionError(f"the test does not know filter operator {op!r}")


def _expected(
    dsn: str, query: dict[str, Any], family: str, time_range: tuple[str, str] | None, extra: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    selects: list[sql.Composable] = []
    labels: list[str] = []
    for column in query["columns"]:
        if isinstance(column, dict):  # the time axis, truncated to the chart's grain
            unit = GRAIN_UNITS[column["timeGrain"]]
            selects.append(sql.SQL("date_trunc({}, bucket)").format(sql.Literal(unit)))
            labels.append(column["label"])
        else:
            selects.append(sql.Identifier(column))
            labels.append(column)
    group_count = len(selects)
    for metric in query["metrics"]:
        selects.append(sql.SQL(EXPECTED_METRICS[metric]))  # type: ignore[arg-type]  # fixed strings above
        labels.append(metric)
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if time_range:
        conditions.append(sql.SQL("bucket >= %s::timestamp AND bucket < %s::timestamp"))
        params += list(time_range)
    for entry in [f for f in query["filters"] if f["op"] != "TEMPORAL_RANGE"] + extra:
        condition, values = _filter_sql(entry)
        conditions.append(condition)
        params += values
    statement = sql.SQL("SELECT {} FROM {}.{}{}{}").format(
        sql.SQL(", ").join(selects),
        sql.Identifier(SCHEMA),
        sql.Identifier(_view(family, time_range)),
        sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL(""),
        sql.SQL(" GROUP BY ") + sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(group_count))
        if group_count
        else sql.SQL(""),
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(statement, params).fetchall()
    return [dict(zip(labels, row, strict=True)) for row in rows]


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return round(float(value), 6)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _rows(rows: list[dict[str, Any]], labels: list[str]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_normal(row[label]) for label in labels) for row in rows), key=repr)


def _chart_ids(client: SupersetClient) -> dict[str, int]:
    query = {"q": json.dumps({"columns": ["id", "uuid"], "page_size": 100})}
    return {c["uuid"]: c["id"] for c in client.get("/api/v1/chart/", query=query)["result"]}


@pytest.fixture
def bundle(flavored_db: AnalyticsDatabase) -> Bundle:
    """This module's bundle: one per database flavor, each its own stack in the same Superset."""
    return build_bundle(flavored_db.bundle_settings)


@pytest.fixture
def synced(client: SupersetClient, bundle: Bundle, flavored_db: AnalyticsDatabase) -> dict[str, int]:
    sync(client, bundle, flavored_db.dashboards_password)
    ids = _chart_ids(client)
    return {key: ids[uuid] for key, uuid in bundle.chart_uuids.items()}


def _family(bundle: Bundle, key: str) -> str:
    chart = yaml.safe_load(bundle.files[f"charts/{key}.yaml"])
    by_uuid = {uuid: dataset for dataset, uuid in bundle.dataset_uuids.items()}
    return FAMILY[by_uuid[chart["dataset_uuid"]]]


def test_saved_query_of_every_chart_matches_sql(
    client: SupersetClient, bundle: Bundle, flavored_db: AnalyticsDatabase, synced: dict[str, int]
) -> None:
    """GET /api/v1/chart/{id}/data/: the chart's own saved query context, as reports and caches run it."""
    assert len(synced) == len(bundle.chart_uuids) >= 20
    for key, chart_id in synced.items():
        answer = client.get(f"/api/v1/chart/{chart_id}/data/")["result"][0]
        query_context = json.loads(client.get(f"/api/v1/chart/{chart_id}")["result"]["query_context"])
        query = query_context["queries"][0]
        labels = [c["label"] if isinstance(c, dict) else c for c in query["columns"]] + query["metrics"]
        expected = _expected(flavored_db.dsn, query, _family(bundle, key), None, [])
        assert expected, f"{key}: the sample data should give every chart some rows"
        assert _rows(answer["data"], labels) == _rows(expected, labels), key


@pytest.mark.parametrize(("label", "time_range", "extra"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_every_chart_with_dashboard_filters_matches_sql(
    client: SupersetClient,
    bundle: Bundle,
    flavored_db: AnalyticsDatabase,
    synced: dict[str, int],
    label: str,
    time_range: tuple[str, str] | None,
    extra: list[dict[str, Any]],
) -> None:
    """POST /api/v1/chart/data with the filters a dashboard's native filters add, as the page sends them."""
    for key, chart_id in synced.items():
        query_context = json.loads(client.get(f"/api/v1/chart/{chart_id}")["result"]["query_context"])
        query = query_context["queries"][0]
        if time_range:
            for entry in query["filters"]:
                if entry["op"] == "TEMPORAL_RANGE":
                    entry["val"] = f"{time_range[0]} : {time_range[1]}"
        query["filters"] += extra
        answer = client.post("/api/v1/chart/data", query_context)["result"][0]
        family = _family(bundle, key)
        assert f'"{_view(family, time_range)}"' in answer["query"], f"{key}: Superset queried the wrong grain"
        labels = [c["label"] if isinstance(c, dict) else c for c in query["columns"]] + query["metrics"]
        query["filters"] = [f for f in query["filters"] if f not in extra]
        expected = _expected(flavored_db.dsn, query, family, time_range, extra)
        assert _rows(answer["data"], labels) == _rows(expected, labels), f"{key} ({label})"


def test_totals_match_the_raw_records(
    client: SupersetClient, flavored_db: AnalyticsDatabase, synced: dict[str, int]
) -> None:
    """The whole chain, not just the views: the Requests number equals the records written."""
    answer = client.get(f"/api/v1/chart/{synced['requests_total']}/data/")["result"][0]
    assert answer["data"] == [{"requests": flavored_db.records}]


def test_dataset_sql_runs_as_it_is_where_template_processing_is_off(
    bundle: Bundle, flavored_db: AnalyticsDatabase
) -> None:
    """A Superset without ENABLE_TEMPLATE_PROCESSING sends the dataset SQL untouched: it must still run, on the
    monthly view."""
    with psycopg.connect(flavored_db.dsn) as conn:
        for dataset in bundle.dataset_uuids:
            text = yaml.safe_load(bundle.files[f"datasets/{dataset}.yaml"])["sql"]
            rows = conn.execute(sql.SQL(text)).fetchall()  # type: ignore[arg-type]  # the bundle's own SQL
            monthly = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(SCHEMA), sql.Identifier(f"{dataset}_monthly")
            )
            assert sorted(map(repr, rows)) == sorted(map(repr, conn.execute(monthly).fetchall())), dataset
            assert rows
