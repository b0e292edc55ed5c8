"""A dashboard's `position` (tabs, rows, charts) and native filters, from the tab list in its template.

Ids in the position are derived from the tab and chart keys so renders are reproducible. Chart ids
(`meta.chartId`) are placeholders numbered in order: Superset maps them to the real ids through `meta.uuid` on
import, and native-filter scopes that name them are remapped the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

GRID_COLUMNS = 12
DEFAULT_HEIGHT = 50
NUMBER_HEIGHT = 20  # a single big number needs little room


class LayoutError(ValueError):
    """A tab list that cannot be laid out: a row too wide, an unknown chart, a chart placed twice."""


def _node_id(kind: str, key: str) -> str:
    return f"{kind}-{re.sub(r'[^A-Za-z0-9_]+', '_', key)}"


def dashboard_position(title: str, tabs: list[dict[str, Any]], charts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`tabs`: [{"key", "title", "rows": [[chart key, ...], ...]}]; `charts`: key -> {"uuid", "name", "id"}."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["TABS-main"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": title}},
        "TABS-main": {"type": "TABS", "id": "TABS-main", "children": [], "parents": ["ROOT_ID"], "meta": {}},
    }
    placed: set[str] = set()
    for tab in tabs:
        tab_id = _node_id("TAB", tab["key"])
        position["TABS-main"]["children"].append(tab_id)
        tab_parents = ["ROOT_ID", "TABS-main"]
        position[tab_id] = {
            "type": "TAB",
            "id": tab_id,
            "children": [],
            "parents": tab_parents,
            "meta": {"text": tab["title"], "defaultText": "Tab title", "placeholder": "Tab title"},
        }
        for row_number, row in enumerate(tab["rows"]):
            row_id = _node_id("ROW", f"{tab['key']}_{row_number}")
            position[tab_id]["children"].append(row_id)
            row_parents = [*tab_parents, tab_id]
            position[row_id] = {
                "type": "ROW",
                "id": row_id,
                "children": [],
                "parents": row_parents,
                "meta": {"background": "BACKGROUND_TRANSPARENT"},
            }
            width = GRID_COLUMNS // len(row)
            if width < 2:
                raise LayoutError(f"row {row_number + 1} of tab {tab['title']!r} has too many charts ({len(row)})")
            for key in row:
                if key not in charts:
                    raise LayoutError(f"tab {tab['title']!r} places chart {key!r}, which has no template")
                if key in placed:
                    raise LayoutError(f"chart {key!r} is placed twice on the dashboard")
                placed.add(key)
                chart = charts[key]
                chart_id = _node_id("CHART", key)
                position[row_id]["children"].append(chart_id)
                position[chart_id] = {
                    "type": "CHART",
                    "id": chart_id,
                    "children": [],
                    "parents": [*row_parents, row_id],
                    "meta": {
                        "chartId": chart["id"],
                        "uuid": chart["uuid"],
                        "sliceName": chart["name"],
                        "width": width,
                        "height": NUMBER_HEIGHT if chart.get("viz_type") == "big_number_total" else DEFAULT_HEIGHT,
                    },
                }
    missing = sorted(set(charts) - placed)
    if missing:
        raise LayoutError(f"charts with a template but no place on the dashboard: {', '.join(missing)}")
    return position


def native_filters(
    filters: list[dict[str, Any]],
    charts: dict[str, dict[str, Any]],
    dataset_uuid: Callable[[str], str],
) -> list[dict[str, Any]]:
    """`filters`: [{"key", "name", "type": "time"|"select", "column", "dataset", "only_datasets"?,
    "except_charts"?, "default"?}].

    A select filter applies to every chart whose dataset has its column; `only_datasets` leaves out the charts
    of other datasets explicitly (Superset would otherwise mark the filter "not applied" on them).
    """
    configuration: list[dict[str, Any]] = []
    for entry in filters:
        excluded = []
        if entry.get("only_datasets"):
            excluded = [c["id"] for c in charts.values() if c["dataset"] not in entry["only_datasets"]]
        # Charts the filter must not narrow (the robot charts under the Traffic filter).
        excluded += [charts[key]["id"] for key in entry.get("except_charts", ()) if key in charts]
        native: dict[str, Any] = {
            "id": f"NATIVE_FILTER-{entry['key']}",
            "name": entry["name"],
            "type": "NATIVE_FILTER",
            "description": entry.get("description", ""),
            "cascadeParentIds": [],
            "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded},
            "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        }
        if entry["type"] == "time":
            native |= {"filterType": "filter_time", "targets": [{}], "controlValues": {}}
            if entry.get("default"):
                native["defaultDataMask"] = {
                    "extraFormData": {"time_range": entry["default"]},
                    "filterState": {"value": entry["default"]},
                    "ownState": {},
                }
        elif entry["type"] == "select":
            native |= {
                "filterType": "filter_select",
                "targets": [{"column": {"name": entry["column"]}, "datasetUuid": dataset_uuid(entry["dataset"])}],
                "controlValues": {
                    "multiSelect": True,
                    "enableEmptyFilter": False,
                    "defaultToFirstItem": False,
                    "inverseSelection": False,
                    "searchAllOptions": True,
                },
            }
            if entry.get("default"):  # values selected until the user clears them
                values = list(entry["default"])
                native["defaultDataMask"] = {
                    "extraFormData": {"filters": [{"col": entry["column"], "op": "IN", "val": values}]},
                    "filterState": {"value": values},
                    "ownState": {},
                }
        else:
            raise LayoutError(f"native filter {entry['key']!r}: unknown type {entry['type']!r}")
        configuration.append(native)
    return configuration
