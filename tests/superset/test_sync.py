"""`superset sync` against a real Superset: imports everything, skips when unchanged, re-imports on change."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from typing import Any

import jinja2
import pytest
from tests.superset.conftest import AnalyticsDatabase

from georchestra_analytics.render import environment as shared_environment
from georchestra_analytics.superset import bundle as bundle_module
from georchestra_analytics.superset.bundle import Bundle, build_bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.sync import stored_hash, sync


def _dashboard(client: SupersetClient, bundle: Bundle) -> dict[str, Any]:
    result: dict[str, Any] = client.get(f"/api/v1/dashboard/{bundle.dashboard_slug}")["result"]
    return result


def _all(client: SupersetClient, resource: str, columns: list[str]) -> list[dict[str, Any]]:
    query = {"q": json.dumps({"columns": columns, "page_size": 100})}
    result: list[dict[str, Any]] = client.get(f"/api/v1/{resource}/", query=query)["result"]
    return result


def test_sync_imports_every_asset_managed_externally(
    client: SupersetClient, bundle: Bundle, analytics_db: AnalyticsDatabase
) -> None:
    result = sync(client, bundle, analytics_db.dashboards_password, force=True)
    assert result.imported
    assert result.warnings == ()  # the probe query ran, with Superset's templates

    dashboard = _dashboard(client, bundle)
    assert dashboard["dashboard_title"] == "geOrchestra usage"
    assert dashboard["is_managed_externally"] is True
    assert stored_hash(dashboard) == bundle.sha256
    position = json.loads(dashboard["position_json"])
    tabs = [position[tab]["meta"]["text"] for tab in position["TABS-main"]["children"]]
    assert tabs == ["Overview", "Layers and services", "Organisations and users", "Downloads", "Performance",
                    "Applications and referrers", "Audience: robots, countries, client applications"]  # fmt: skip
    metadata = json.loads(dashboard["json_metadata"])
    assert [f["name"] for f in metadata["native_filter_configuration"]] == [
        "Time range", "Application", "Organisation", "Service", "Workspace", "Layer", "Traffic"]  # fmt: skip
    [traffic] = [f for f in metadata["native_filter_configuration"] if f["name"] == "Traffic"]
    assert traffic["defaultDataMask"]["filterState"]["value"] == ["people"]  # robots left out by default

    charts = {c["uuid"]: c for c in _all(client, "chart", ["uuid", "slice_name", "is_managed_externally"])}
    assert set(bundle.chart_uuids.values()) <= set(charts)
    assert all(charts[u]["is_managed_externally"] for u in bundle.chart_uuids.values())
    on_dashboard = client.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    assert len(on_dashboard) == len(bundle.chart_uuids)

    datasets = {d["uuid"] for d in _all(client, "dataset", ["uuid"])}
    assert set(bundle.dataset_uuids.values()) <= datasets
    databases = _all(client, "database", ["uuid", "database_name"])
    assert analytics_db.bundle_settings.database_name in {d["database_name"] for d in databases}


def test_second_sync_is_a_noop(client: SupersetClient, bundle: Bundle, analytics_db: AnalyticsDatabase) -> None:
    sync(client, bundle, analytics_db.dashboards_password)
    before = _dashboard(client, bundle)["changed_on"]
    again = sync(client, bundle, analytics_db.dashboards_password)
    assert not again.imported
    assert again.reason == "unchanged"
    assert _dashboard(client, bundle)["changed_on"] == before


def test_changed_template_reimports(
    client: SupersetClient, bundle: Bundle, analytics_db: AnalyticsDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(client, bundle, analytics_db.dashboards_password)
    name = "superset/charts/top_layers.yaml.j2"
    base = shared_environment.environment()
    source = base.loader.get_source(base, name)[0]  # type: ignore[union-attr]
    edited = source.replace('"Top layers"', '"Most requested layers"')
    assert edited != source
    overlay = base.overlay(loader=jinja2.ChoiceLoader([jinja2.DictLoader({name: edited}), base.loader]))
    monkeypatch.setattr(bundle_module, "environment", lambda: overlay)

    changed = build_bundle(analytics_db.bundle_settings)
    assert changed.sha256 != bundle.sha256
    result = sync(client, changed, analytics_db.dashboards_password)
    assert result.imported and result.reason.startswith("bundle changed")
    chart = client.get(f"/api/v1/chart/{_chart_id(client, changed.chart_uuids['top_layers'])}")["result"]
    assert chart["slice_name"] == "Most requested layers"
    assert not sync(client, changed, analytics_db.dashboards_password).imported

    monkeypatch.undo()
    assert sync(client, bundle, analytics_db.dashboards_password).imported  # and back


def _chart_id(client: SupersetClient, uuid: str) -> int:
    for chart in _all(client, "chart", ["id", "uuid"]):
        if chart["uuid"] == uuid:
            return int(chart["id"])
    raise AssertionError(f"chart {uuid} not in Superset")


def test_a_chart_deleted_in_superset_comes_back(
    client: SupersetClient, bundle: Bundle, analytics_db: AnalyticsDatabase
) -> None:
    sync(client, bundle, analytics_db.dashboards_password)
    uuid = bundle.chart_uuids["clients"]
    client.delete(f"/api/v1/chart/{_chart_id(client, uuid)}")
    result = sync(client, bundle, analytics_db.dashboards_password)
    assert result.imported and "missing" in result.reason
    assert _chart_id(client, uuid)


def test_a_database_superset_cannot_reach_is_reported_after_the_import(
    client: SupersetClient, analytics_db: AnalyticsDatabase
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    target = replace(analytics_db.bundle_settings.database, port=closed_port)
    settings = replace(
        analytics_db.bundle_settings, stack_name="nodb", database=target, database_name="unreachable database"
    )
    result = sync(client, build_bundle(settings), analytics_db.dashboards_password)
    assert result.imported
    assert len(result.warnings) == 1 and result.warnings[0].startswith("Superset cannot query the analytics database")
