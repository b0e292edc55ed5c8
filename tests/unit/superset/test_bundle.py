"""The rendered bundle: reproducible, uuids per stack, no password, hostile values inert, Superset's Jinja kept."""

from __future__ import annotations

import io
import re
import urllib.parse
import zipfile
from datetime import datetime
from typing import Any

import jinja2.sandbox
import pytest
import yaml

from georchestra_analytics.superset.bundle import Bundle, asset_uuid, build_bundle
from georchestra_analytics.superset.settings import BundleSettings, BundleSettingsError, DatabaseTarget

TARGET = DatabaseTarget(host="db.example.org", database="analytics", username="analytics_dashboards")


def _bundle(**changes: Any) -> Bundle:
    settings: dict[str, Any] = {"stack_name": "prod", "database": TARGET} | changes
    return build_bundle(BundleSettings(**settings))


def _assets(bundle: Bundle, folder: str) -> dict[str, dict[str, Any]]:
    return {path: yaml.safe_load(text) for path, text in bundle.files.items() if path.startswith(folder + "/")}


def test_same_inputs_give_the_same_zip_byte_for_byte() -> None:
    first, second = _bundle(), _bundle()
    assert first.zip_bytes() == second.zip_bytes()
    assert first.sha256 == second.sha256


def test_zip_has_one_top_folder_and_the_database_file_the_passwords_map_names() -> None:
    bundle = _bundle()
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {bundle.top_folder}
    assert f"{bundle.top_folder}/{bundle.database_file}" in names
    assert f"{bundle.top_folder}/metadata.yaml" in names


def test_uuids_are_derived_from_stack_and_asset() -> None:
    prod, test = _bundle(), _bundle(stack_name="test")
    assert prod.dashboard_uuid == asset_uuid("prod", "dashboard", "usage")
    assert prod.chart_uuids["top_layers"] == asset_uuid("prod", "chart", "top_layers")
    assert not set(prod.chart_uuids.values()) & set(test.chart_uuids.values())
    assert prod.dashboard_slug != test.dashboard_slug
    prod_tables = {d["table_name"] for d in _assets(prod, "datasets").values()}
    test_tables = {d["table_name"] for d in _assets(test, "datasets").values()}
    assert not prod_tables & test_tables  # Superset's metadata keeps dataset table names unique


def test_every_asset_is_managed_externally_and_versioned() -> None:
    bundle = _bundle()
    for folder in ("databases", "datasets", "charts", "dashboards"):
        assets = _assets(bundle, folder)
        assert assets, folder
        for path, asset in assets.items():
            assert asset["is_managed_externally"] is True, path
            assert asset["version"] == "1.0.0", path


def test_database_uri_has_no_password_and_hostile_parts_round_trip() -> None:
    target = DatabaseTarget(host="db-1.example.org", database="a/b?c#d e", username="u@s:er/%", port=6543)
    bundle = _bundle(database=target)
    database = yaml.safe_load(bundle.files[bundle.database_file])
    parts = urllib.parse.urlsplit(database["sqlalchemy_uri"])
    assert parts.password is None
    assert urllib.parse.unquote(parts.username or "") == target.username
    assert parts.hostname == target.host and parts.port == 6543
    assert urllib.parse.unquote(parts.path[1:]) == target.database
    assert "password" not in database


@pytest.mark.parametrize(
    "hostile",
    ["quote \" and ' and \\", "line\nbreak: - [x] {a: b} # no comment", "{{ 7*7 }} {% raw %}", "ünï\u2028côdé"],
)
def test_hostile_display_values_come_back_exactly(hostile: str) -> None:
    bundle = _bundle(database_name=hostile)
    assert yaml.safe_load(bundle.files[bundle.database_file])["database_name"] == hostile


def test_hostile_schema_is_quoted_in_dataset_sql() -> None:
    bundle = _bundle(schema='we"ird')
    sql = yaml.safe_load(bundle.files["datasets/usage.yaml"])["sql"]
    assert '"we""ird"."usage_hourly"' in sql and '"we""ird"."usage_monthly"' in sql


@pytest.mark.parametrize("schema", ["a{{b}}", "a{%b", "a*/b", "a/*b", "a#b", ""])
def test_schema_names_superset_or_sql_comments_would_interpret_are_refused(schema: str) -> None:
    with pytest.raises(BundleSettingsError):
        BundleSettings("prod", TARGET, schema=schema)


def _dataset_sql(bundle: Bundle, dataset: str) -> str:
    sql: str = yaml.safe_load(bundle.files[f"datasets/{dataset}.yaml"])["sql"]
    return sql


def test_superset_jinja_survives_our_rendering() -> None:
    sql = _dataset_sql(_bundle(), "usage")
    assert "{%- if span_days is not none and span_days <= 7 %}" in sql
    assert "{{ '*' ~ '/' }}" in sql and "{% endif %}" in sql


@pytest.mark.parametrize(
    ("start", "end", "view"),
    [
        ("2026-10-25T00:00:00", "2026-11-01T00:00:00", "usage_hourly"),  # 7 days
        ("2026-10-25T00:00:00", "2026-11-02T00:00:00", "usage_daily"),  # 8 days
        ("2024-02-28T00:00:00", "2025-02-28T00:00:00", "usage_daily"),  # 366 days, leap year
        ("2024-02-28T00:00:00", "2025-03-01T00:00:00", "usage_monthly"),  # 367 days
        (datetime(2026, 1, 1), datetime(2026, 1, 3), "usage_hourly"),  # datetimes work too
        (None, None, "usage_monthly"),  # no time filter
    ],
)
def test_superset_jinja_picks_the_view_whose_grain_fits(start: Any, end: Any, view: str) -> None:
    # Superset renders dataset SQL in a Jinja sandbox like this one; the superset tier checks the real thing.
    template = jinja2.sandbox.SandboxedEnvironment().from_string(_dataset_sql(_bundle(), "usage"))
    rendered = " ".join(template.render(from_dttm=start, to_dttm=end).replace("/**/", " ").split())
    assert rendered == f'SELECT * FROM "analytics"."{view}"'


def test_without_template_processing_the_sql_reads_the_monthly_view() -> None:
    bundle = _bundle()
    assert set(bundle.dataset_uuids) == {
        "usage",
        "layer_usage",
        "user_usage",
        "client_usage",
        "layer_extents",
        "audience",
        "client_layers",
    }
    for dataset in bundle.dataset_uuids:
        without_comments = re.sub(r"/\*.*?\*/", " ", _dataset_sql(bundle, dataset), flags=re.DOTALL)
        assert " ".join(without_comments.split()) == f'SELECT * FROM "analytics"."{dataset}_monthly"'


def test_charts_use_only_their_dataset_metrics_and_columns() -> None:
    bundle = _bundle()
    datasets = {d["uuid"]: d for d in _assets(bundle, "datasets").values()}
    for path, chart in _assets(bundle, "charts").items():
        dataset = datasets[chart["dataset_uuid"]]
        metric_names = {m["metric_name"] for m in dataset["metrics"]}
        column_names = {c["column_name"] for c in dataset["columns"]}
        params = chart["params"]
        used_metrics = set(params.get("metrics", [])) | {params[k] for k in ("metric", "x", "y", "size") if k in params}
        assert used_metrics and used_metrics <= metric_names, path
        assert set(params.get("groupby", [])) | ({params["entity"]} if "entity" in params else set()) <= column_names, (
            path
        )
        assert {f["subject"] for f in params["adhoc_filters"]} <= column_names, path


def test_dashboard_has_the_tabs_and_native_filters_of_the_issue() -> None:
    bundle = _bundle()
    dashboard = yaml.safe_load(bundle.files["dashboards/usage.yaml"])
    position = dashboard["position"]
    tabs = [position[tab]["meta"]["text"] for tab in position["TABS-main"]["children"]]
    assert tabs == ["Overview", "Layers and services", "Organisations and users", "Downloads", "Performance",
                    "Applications and referrers", "Audience: robots, countries, client applications"]  # fmt: skip
    placed = [n["meta"]["uuid"] for n in position.values() if isinstance(n, dict) and n.get("type") == "CHART"]
    assert sorted(placed) == sorted(bundle.chart_uuids.values())
    filters = dashboard["metadata"]["native_filter_configuration"]
    assert [f["name"] for f in filters] == [
        "Time range",
        "Application",
        "Organisation",
        "Service",
        "Workspace",
        "Layer",
        "Traffic",
    ]
    datasets = {d["uuid"]: d for d in _assets(bundle, "datasets").values()}
    for native in filters:
        for target in native["targets"]:
            if "column" in target:
                columns = {c["column_name"] for c in datasets[target["datasetUuid"]]["columns"]}
                assert target["column"]["name"] in columns, native["name"]


def test_the_content_hash_is_stored_in_the_dashboard_and_follows_the_content() -> None:
    bundle = _bundle()
    dashboard = yaml.safe_load(bundle.files["dashboards/usage.yaml"])
    assert dashboard["metadata"]["georchestra_analytics"]["bundle_sha256"] == bundle.sha256
    assert _bundle(database_name="another name").sha256 != bundle.sha256
