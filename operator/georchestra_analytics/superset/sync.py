"""Keep a Superset in step with the bundle: import it when it changed, or when Superset lost part of it.

The bundle's content hash lives in the dashboard's metadata (`georchestra_analytics.bundle_sha256`). The import
is skipped only when that hash matches and every chart of the bundle is still on the dashboard, so a
dashboard edited or a chart deleted in Superset comes back at the next sync.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from georchestra_analytics.superset.bundle import Bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.errors import SupersetApiError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    imported: bool
    reason: str  # why it imported or skipped, for logs and the DashboardsSynced condition
    bundle_sha256: str
    dashboard_id: int | None
    warnings: tuple[str, ...] = ()  # what a dashboard viewer would hit, found by a probe query after an import


def _dashboard(client: SupersetClient, slug: str) -> dict[str, Any] | None:
    try:
        answer = client.get(f"/api/v1/dashboard/{slug}")
    except SupersetApiError as error:
        if error.status == 404:
            return None
        raise
    result = answer.get("result") if isinstance(answer, dict) else None
    return result if isinstance(result, dict) else None


def stored_hash(dashboard: dict[str, Any]) -> str | None:
    try:
        metadata = json.loads(dashboard.get("json_metadata") or "{}")
    except ValueError:
        return None
    ours = metadata.get("georchestra_analytics") if isinstance(metadata, dict) else None
    value = ours.get("bundle_sha256") if isinstance(ours, dict) else None
    return value if isinstance(value, str) else None


def _chart_uuids_in_layout(dashboard: dict[str, Any]) -> set[str]:
    position = json.loads(dashboard.get("position_json") or "{}")
    return {
        str(node["meta"]["uuid"])
        for node in position.values()
        if isinstance(node, dict) and node.get("type") == "CHART" and "uuid" in node.get("meta", {})
    }


def _present_chart_uuids(client: SupersetClient, dashboard_id: int) -> set[str]:
    """Uuids of the charts that exist and are attached to the dashboard."""
    answer = client.get(f"/api/v1/dashboard/{dashboard_id}/charts")
    attached_ids = {chart["id"] for chart in answer.get("result", [])}
    if not attached_ids:
        return set()
    query = {"q": json.dumps({"filters": [{"col": "id", "opr": "in", "value": sorted(attached_ids)}],
                              "columns": ["id", "uuid"], "page_size": 100})}  # fmt: skip
    listed = client.get("/api/v1/chart/", query=query)
    return {str(chart["uuid"]) for chart in listed.get("result", []) if chart.get("uuid")}


def why_import(client: SupersetClient, bundle: Bundle) -> tuple[str | None, int | None]:
    """The reason an import is needed, or None when Superset already holds exactly this bundle."""
    dashboard = _dashboard(client, bundle.dashboard_slug)
    if dashboard is None:
        return f"dashboard {bundle.dashboard_slug!r} is not in Superset", None
    dashboard_id = int(dashboard["id"])
    current = stored_hash(dashboard)
    if current != bundle.sha256:
        return f"bundle changed ({(current or 'none')[:12]} -> {bundle.sha256[:12]})", dashboard_id
    expected = set(bundle.chart_uuids.values())
    missing = expected - _present_chart_uuids(client, dashboard_id)
    if missing:
        return f"{len(missing)} chart(s) of the bundle are missing from Superset", dashboard_id
    if expected - _chart_uuids_in_layout(dashboard):
        return "the dashboard's layout lost some of the bundle's charts", dashboard_id
    return None, dashboard_id


PROBE_CHART = "requests_total"
PROBE_TIME_RANGE = "Last day"


def probe(client: SupersetClient, bundle: Bundle) -> tuple[str, ...]:
    """Run one chart as a viewer would (its query, over the last day): can Superset query the analytics
    database, and does it run the dataset SQL's templates that pick the view by time range?"""
    uuid = bundle.chart_uuids.get(PROBE_CHART)
    if uuid is None:
        return ()
    query = {"q": json.dumps({"filters": [{"col": "uuid", "opr": "eq", "value": uuid}], "columns": ["id"]})}
    found = client.get("/api/v1/chart/", query=query).get("result", [])
    if not found:
        return (f"chart {PROBE_CHART!r} is missing from Superset right after the import",)
    chart = client.get(f"/api/v1/chart/{found[0]['id']}")["result"]
    query_context = json.loads(chart["query_context"])
    for entry in query_context["queries"][0]["filters"]:
        if entry.get("op") == "TEMPORAL_RANGE":
            entry["val"] = PROBE_TIME_RANGE
    try:
        answer = client.post("/api/v1/chart/data", query_context)["result"][0]
    except SupersetApiError as error:
        return (f"Superset cannot query the analytics database: {error.detail or error}",)
    if "{%" in str(answer.get("query", "")):
        return (
            "Superset runs without the ENABLE_TEMPLATE_PROCESSING feature flag: every chart reads the monthly "
            "views, whatever its time range (see docs/dashboards.md)",
        )
    return ()


def sync(client: SupersetClient, bundle: Bundle, database_password: str, *, force: bool = False) -> SyncResult:
    """Import the bundle unless Superset already has it (`force` imports anyway)."""
    reason, dashboard_id = why_import(client, bundle)
    if reason is None and not force:
        log.info("Superset at %s already has bundle %s: nothing to import", client.url, bundle.sha256[:12])
        return SyncResult(False, "unchanged", bundle.sha256, dashboard_id)
    reason = reason or "forced"
    log.info("importing bundle %s into Superset at %s: %s", bundle.sha256[:12], client.url, reason)
    client.import_assets(
        bundle.zip_bytes(),
        {bundle.database_file: database_password},
        filename=f"{bundle.top_folder}.zip",
    )
    dashboard = _dashboard(client, bundle.dashboard_slug)
    warnings = probe(client, bundle)
    for warning in warnings:
        log.warning("%s", warning)
    return SyncResult(True, reason, bundle.sha256, int(dashboard["id"]) if dashboard else None, warnings)
