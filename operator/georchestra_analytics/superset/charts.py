"""A chart's form data (`params`) and saved query context, from a short declaration in a chart template.

Superset's web page rebuilds its query from the form data; the chart-data API (`GET /api/v1/chart/{id}/data/`,
reports, cache warm-up) runs the saved query context instead. Both are derived here from the same few fields,
so they cannot disagree. The query context carries no post-processing: the API answers plain grouped rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TIME_COLUMN = "bucket"
NO_TIME_FILTER = "No filter"

# What each kind of chart becomes in Superset.
VIZ_TYPES = {
    "number": "big_number_total",
    "line": "echarts_timeseries_line",
    "bar": "echarts_timeseries_bar",
    "table": "table",
    "pie": "pie",
    "bubble": "bubble_v2",
    # Countries shaded by a metric, drawn from the map Superset ships (no map provider, no key); the groupby
    # column holds ISO 3166-1 alpha-2 codes.
    "world_map": "world_map",
}
TIMESERIES = ("line", "bar")


class ChartDefinitionError(ValueError):
    """A chart template declares something this builder cannot turn into a chart."""


@dataclass(frozen=True)
class Filter:
    """A fixed WHERE condition of a chart (e.g. downloads only)."""

    column: str
    operator: str  # Superset's: ==, !=, IN, NOT IN, IS NULL, IS NOT NULL, >, <, ...
    value: Any = None

    def adhoc(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "clause": "WHERE",
            "expressionType": "SIMPLE",
            "subject": self.column,
            "operator": self.operator,
        }
        if self.value is not None:
            entry["comparator"] = self.value
        return entry

    def query_filter(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"col": self.column, "op": self.operator}
        if self.value is not None:
            entry["val"] = self.value
        return entry


@dataclass(frozen=True)
class ChartDefinition:
    kind: str
    metrics: tuple[str, ...]
    groupby: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    time_grain: str = "P1D"
    row_limit: int = 10_000
    order_by: str | None = None  # a metric; defaults to the first
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in VIZ_TYPES:
            raise ChartDefinitionError(f"unknown chart kind {self.kind!r}; expected one of {sorted(VIZ_TYPES)}")
        if not self.metrics:
            raise ChartDefinitionError(f"a {self.kind} chart needs at least one metric")
        if self.kind in ("number", "pie", "world_map") and len(self.metrics) != 1:
            raise ChartDefinitionError(f"a {self.kind} chart shows exactly one metric, not {list(self.metrics)}")
        if self.kind == "number" and self.groupby:
            raise ChartDefinitionError("a number chart cannot be grouped")
        if self.kind == "world_map" and len(self.groupby) != 1:
            raise ChartDefinitionError("a world map needs exactly one column of country codes")
        if self.kind == "bubble" and (len(self.metrics) != 3 or len(self.groupby) not in (1, 2)):
            raise ChartDefinitionError(
                "a bubble chart needs three metrics (x, y, size), an entity column and at most one series column"
            )

    @property
    def viz_type(self) -> str:
        return VIZ_TYPES[self.kind]

    def _time_filter(self) -> dict[str, Any]:
        return {
            "clause": "WHERE",
            "expressionType": "SIMPLE",
            "subject": TIME_COLUMN,
            "operator": "TEMPORAL_RANGE",
            "comparator": NO_TIME_FILTER,
        }

    def params(self) -> dict[str, Any]:
        """The form data stored as the chart's `params`."""
        form: dict[str, Any] = {
            "viz_type": self.viz_type,
            "adhoc_filters": [self._time_filter(), *(f.adhoc() for f in self.filters)],
            "time_range": NO_TIME_FILTER,
            "row_limit": self.row_limit,
            "extra_form_data": {},
        }
        sort_metric = self.order_by or self.metrics[0]
        if self.kind == "number":
            form |= {
                "metric": self.metrics[0],
                "header_font_size": 0.4,
                "subheader_font_size": 0.15,
                "y_axis_format": "SMART_NUMBER",
            }
        elif self.kind in TIMESERIES:
            form |= {
                "x_axis": TIME_COLUMN,
                "time_grain_sqla": self.time_grain,
                "metrics": list(self.metrics),
                "groupby": list(self.groupby),
                "order_desc": True,
                "timeseries_limit_metric": sort_metric,
                "limit": 10 if self.groupby else None,
                "show_legend": True,
                "rich_tooltip": True,
            }
        elif self.kind == "table":
            form |= {
                "query_mode": "aggregate",
                "groupby": list(self.groupby),
                "metrics": list(self.metrics),
                "all_columns": [],
                "percent_metrics": [],
                "timeseries_limit_metric": sort_metric,
                "order_desc": True,
                "server_page_length": 10,
                "table_timestamp_format": "smart_date",
            }
        elif self.kind == "bubble":  # one bubble per entity (and series): x, y by the first two metrics, size the third
            x, y, size = self.metrics
            form |= {
                "entity": self.groupby[0],
                "series": self.groupby[1] if len(self.groupby) > 1 else None,  # one colour per series
                "x": x,
                "y": y,
                "size": size,
                "max_bubble_size": "25",
                "opacity": 0.6,
                "show_legend": False,
                "xAxisFormat": "SMART_NUMBER",
                "y_axis_format": "SMART_NUMBER",
                "truncateXAxis": True,
                "truncateYAxis": True,
                "x_axis_title_margin": 30,
                "y_axis_title_margin": 50,
            }
        elif self.kind == "world_map":
            form |= {
                "entity": self.groupby[0],
                "country_fieldtype": "cca2",  # ISO 3166-1 alpha-2, as the country column holds
                "metric": self.metrics[0],
                "secondary_metric": None,
                "sort_by_metric": True,
                "show_bubbles": False,
                "max_bubble_size": "25",
                "color_by": "metric",
                "linear_color_scheme": "superset_seq_1",
                "y_axis_format": "SMART_NUMBER",
            }
        else:  # pie
            form |= {
                "groupby": list(self.groupby),
                "metric": self.metrics[0],
                "sort_by_metric": True,
                "show_labels": True,
                "show_legend": True,
                "label_type": "key_percent",
            }
        return form | self.extra_params

    def query(self) -> dict[str, Any]:
        """The one query of the saved query context."""
        columns: list[Any] = list(self.groupby)
        if self.kind in TIMESERIES:
            axis = {
                "timeGrain": self.time_grain,
                "columnType": "BASE_AXIS",
                "sqlExpression": TIME_COLUMN,
                "label": TIME_COLUMN,
                "expressionType": "SQL",
            }
            columns = [axis, *columns]
        sort_metric = self.order_by or self.metrics[2 if self.kind == "bubble" else 0]
        return {
            "filters": [
                {"col": TIME_COLUMN, "op": "TEMPORAL_RANGE", "val": NO_TIME_FILTER},
                *(f.query_filter() for f in self.filters),
            ],
            "extras": {
                "having": "",
                "where": "",
                **({"time_grain_sqla": self.time_grain} if self.kind in TIMESERIES else {}),
            },
            "applied_time_extras": {},
            "columns": columns,
            "metrics": list(self.metrics),
            "orderby": [[sort_metric, False]],
            "annotation_layers": [],
            "row_limit": self.row_limit,
            "series_limit": 0,
            "order_desc": True,
            "url_params": {},
            "custom_params": {},
            "custom_form_data": {},
        }

    def query_context(self) -> dict[str, Any]:
        """The saved query context; Superset replaces the datasource id with the imported dataset's."""
        return {
            "datasource": {"id": 0, "type": "table"},
            "force": False,
            "queries": [self.query()],
            "form_data": self.params(),
            "result_format": "json",
            "result_type": "full",
        }


def chart_definition(
    kind: str,
    metrics: list[str],
    groupby: list[str] | None = None,
    filters: list[list[Any]] | None = None,
    time_grain: str = "P1D",
    row_limit: int = 10_000,
    order_by: str | None = None,
    **extra_params: Any,
) -> ChartDefinition:
    """The Jinja-facing constructor: filters are written `[column, operator, value]`."""
    parsed = tuple(Filter(*entry) for entry in (filters or []))
    return ChartDefinition(
        kind, tuple(metrics), tuple(groupby or ()), parsed, time_grain, row_limit, order_by, dict(extra_params)
    )
