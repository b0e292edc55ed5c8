"""The datasets' saved metrics: SQL over the columns of the dashboard views (docs/database.md).

Response-time percentiles come from the latency histograms the views carry: the database's `histogram_sum`
aggregate adds the histograms of the rows of a group and `percentile_from_histogram` reads the percentile from
the sum. They stay right at any grouping and grain, never a median of medians.
"""

from __future__ import annotations

from dataclasses import dataclass

# Additive measure columns of the views, which charts may aggregate.
MEASURE_COLUMNS: tuple[str, ...] = (
    "requests",
    "errors",
    "bytes",
    "response_time_count",
    "response_time_sum_ms",
)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    expression: str
    description: str
    d3format: str | None = None


def percentile_sql(schema_sql: str, fraction: float) -> str:
    """The `fraction` percentile of response times over a group's rows, in milliseconds."""
    return f"{schema_sql}.percentile_from_histogram({schema_sql}.histogram_sum(response_time_histogram), {fraction!r})"


def metrics(schema_sql: str) -> tuple[Metric, ...]:
    """Every saved metric, for a schema given as a quoted SQL identifier."""
    return (
        Metric("requests", "Requests", "SUM(requests)", "Number of requests.", ",d"),
        Metric("errors", "Errors", "SUM(errors)", "Requests answered with a status of 400 or more.", ",d"),
        Metric(
            "error_rate",
            "Error rate",
            "SUM(errors)::float / NULLIF(SUM(requests), 0)",
            "Share of requests answered with a status of 400 or more.",
            ".1%",
        ),
        Metric("bytes", "Bytes sent", "SUM(bytes)", "Sum of the response sizes.", ".3s"),
        Metric(
            "robot_share",
            "Robot share",
            "(SUM(requests) FILTER (WHERE is_robot))::float / NULLIF(SUM(requests), 0)",
            "Share of requests sent by robots (datasets with the is_robot column).",
            ".1%",
        ),
        Metric(
            "users",
            "Users",
            'COUNT(DISTINCT "user")',
            "Distinct signed-in users (anonymous requests have no user).",
            ",d",
        ),
        Metric(
            "organisations",
            "Organisations",
            "COUNT(DISTINCT org)",
            "Distinct organisations of signed-in users.",
            ",d",
        ),
        Metric(
            "avg_response_ms",
            "Mean response time (ms)",
            "SUM(response_time_sum_ms)::float / NULLIF(SUM(response_time_count), 0)",
            "Mean response time of the requests that reported one.",
            ",.0f",
        ),
        Metric(
            "p50_ms",
            "Median response time (ms)",
            percentile_sql(schema_sql, 0.5),
            "From the summed latency histograms, interpolated inside the bucket.",
            ",.0f",
        ),
        Metric(
            "p95_ms",
            "95th percentile response time (ms)",
            percentile_sql(schema_sql, 0.95),
            "From the summed latency histograms, interpolated inside the bucket.",
            ",.0f",
        ),
        # The requested-extent grid's cells (docs/classification.md#extents): one position per cell, the same on
        # every row of the cell, so any aggregate of it gives it back.
        Metric("longitude", "Longitude", "MAX(cell_lon)", "Centre of the grid cell, in degrees east.", ".2f"),
        Metric("latitude", "Latitude", "MAX(cell_lat)", "Centre of the grid cell, in degrees north.", ".2f"),
    )
