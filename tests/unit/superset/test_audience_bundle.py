"""The Audience tab: robot share, robots by family, countries (a table and a world map of ISO 3166-1 alpha-2
codes), client applications and layers per client application, on the audience and client_layers datasets; the
Traffic filter shows people by default and applies to every chart whose dataset has the traffic column (the
usage, layer, user and client datasets too) except the two robot charts."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from georchestra_analytics.superset.bundle import build_bundle
from georchestra_analytics.superset.settings import BundleSettings, DatabaseTarget

pytestmark = pytest.mark.unit

TARGET = DatabaseTarget(host="db.example.org", database="analytics", username="analytics_dashboards")
AUDIENCE_CHARTS = {
    "robot_share": "audience",
    "robots_by_family": "audience",
    "requests_by_country": "audience",
    "country_map": "audience",
    "client_applications": "audience",
    "layers_by_client_application": "client_layers",
}
# The datasets the Traffic filter narrows: the audience's and the four oldest families' (people = all - robots).
TRAFFIC_DATASETS = ("usage", "layer_usage", "user_usage", "client_usage", "audience", "client_layers")


def _files() -> dict[str, Any]:
    bundle = build_bundle(BundleSettings(stack_name="analytics", database=TARGET))
    return {name: yaml.safe_load(text) for name, text in bundle.files.items() if name.endswith(".yaml")}


def test_the_audience_charts_read_their_datasets() -> None:
    files = _files()
    datasets = {content["uuid"]: name for name, content in files.items() if name.startswith("datasets/")}
    charts = {name.removeprefix("charts/").removesuffix(".yaml"): c for name, c in files.items() if "charts/" in name}
    for key, dataset in AUDIENCE_CHARTS.items():
        assert datasets[charts[key]["dataset_uuid"]] == f"datasets/{dataset}.yaml", key
    robots = charts["robots_by_family"]["params"]["adhoc_filters"]
    assert {"subject": "traffic", "operator": "==", "comparator": "robots"}.items() <= robots[-1].items()
    columns = {c["column_name"] for c in files["datasets/audience.yaml"]["columns"]}
    assert {"traffic", "is_robot", "robot_family", "country", "region", "client_app"} <= columns
    world = charts["country_map"]
    assert world["viz_type"] == "world_map"
    assert {"entity": "country", "country_fieldtype": "cca2", "metric": "requests"}.items() <= world["params"].items()
    metrics = {m["metric_name"]: m for m in files["datasets/audience.yaml"]["metrics"]}
    assert "FILTER (WHERE is_robot)" in metrics["robot_share"]["expression"]


def test_the_traffic_filter_shows_people_by_default_and_spares_the_robot_charts() -> None:
    files = _files()
    dashboard = files["dashboards/usage.yaml"]
    [traffic] = [f for f in dashboard["metadata"]["native_filter_configuration"] if f["name"] == "Traffic"]
    assert traffic["defaultDataMask"]["filterState"]["value"] == ["people"]
    assert traffic["defaultDataMask"]["extraFormData"]["filters"] == [{"col": "traffic", "op": "IN", "val": ["people"]}]
    position = dashboard["position"]
    chart_ids = {
        node["meta"]["uuid"]: node["meta"]["chartId"]
        for node in position.values()
        if isinstance(node, dict) and node.get("type") == "CHART"
    }
    by_key = {
        name.removeprefix("charts/").removesuffix(".yaml"): chart_ids[content["uuid"]]
        for name, content in files.items()
        if name.startswith("charts/")
    }
    excluded = set(traffic["scope"]["excluded"])
    assert {by_key["robot_share"], by_key["robots_by_family"]} <= excluded
    for key in ("requests_by_country", "country_map", "client_applications", "layers_by_client_application"):
        assert by_key[key] not in excluded, key
    # Every other chart whose dataset has the traffic column shows people by default; the rest are left out.
    with_traffic = {
        content["uuid"]
        for name, content in files.items()
        if name.startswith("datasets/") and "traffic" in {c["column_name"] for c in content["columns"]}
    }
    datasets = {content["uuid"]: name for name, content in files.items() if name.startswith("datasets/")}
    assert {datasets[uuid] for uuid in with_traffic} >= {f"datasets/{name}.yaml" for name in TRAFFIC_DATASETS}
    charts = {name.removeprefix("charts/").removesuffix(".yaml"): c for name, c in files.items() if "charts/" in name}
    for key, chart in charts.items():
        if key in ("robot_share", "robots_by_family"):
            continue
        assert (by_key[key] in excluded) == (chart["dataset_uuid"] not in with_traffic), key
    assert {key for key, chart in charts.items() if chart["dataset_uuid"] not in with_traffic} == {"where_users_look"}
