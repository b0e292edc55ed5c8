"""The datasets' saved metrics: SQL over the aggregate views' measure columns.

Response-time percentiles come from the latency histogram the aggregates carry (counts per bucket, summed
when hours roll up into days and months), never from averaging stored percentiles. The dataset SQL adds
cumulative bucket columns `rt_cNN` (sum of buckets 0..NN); their sums over any group stay cumulative, so a
percentile is the first bucket whose cumulative count reaches the target rank, interpolated linearly inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Upper bounds (ms) of the aggregates' response-time buckets rt_b00..rt_b29: the last bucket is open-ended.
# Must equal georchestra_analytics.db.histogram.UPPER_BOUNDS_MS (a unit test checks it; the superset layer may
# not import the db layer).
HISTOGRAM_UPPER_BOUNDS_MS: tuple[int, ...] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
    1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000, 45000, 60000,
)  # fmt: skip
BUCKETS = len(HISTOGRAM_UPPER_BOUNDS_MS) + 1
MEASURE_COLUMNS: tuple[str, ...] = (
    "requests", "errors", "bytes", "response_time_count", "response_time_sum",
    *(f"rt_b{index:02d}" for index in range(BUCKETS)),
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    expression: str
    description: str
    d3format: str | None = None


def _bucket(index: int) -> str:
    return f"rt_b{index:02d}"


def _cumulative(index: int) -> str:
    return f"rt_c{index:02d}"


def cumulative_columns_sql(alias: str = "v") -> str:
    """`v.rt_b00 AS rt_c00, v.rt_b00 + v.rt_b01 AS rt_c01, ...` for the dataset SQL."""
    columns = []
    for index in range(BUCKETS):
        terms = " + ".join(f"{alias}.{_bucket(i)}" for i in range(index + 1))
        columns.append(f"{terms} AS {_cumulative(index)}")
    return ", ".join(columns)


def percentile_sql(fraction: float) -> str:
    """SQL for the `fraction` percentile of response times over the rows of a group, in milliseconds."""
    total = f"SUM({_cumulative(BUCKETS - 1)})"
    target = f"({fraction!r} * {total})"
    branches = []
    for index in range(BUCKETS):
        lower = 0 if index == 0 else HISTOGRAM_UPPER_BOUNDS_MS[index - 1]
        reached = f"SUM({_cumulative(index)})"
        before = "0" if index == 0 else f"SUM({_cumulative(index - 1)})"
        if index == BUCKETS - 1:
            # The open-ended bucket has no upper bound to interpolate to: report its lower bound.
            branches.append(f"ELSE {lower}")
            break
        upper = HISTOGRAM_UPPER_BOUNDS_MS[index]
        branches.append(
            f"WHEN {reached} >= {target} THEN {lower} + {upper - lower} * ({target} - {before}) "
            f"/ NULLIF({reached} - {before}, 0)"
        )
    return f"CASE WHEN COALESCE({total}, 0) = 0 THEN NULL " + " ".join(branches) + " END"


METRICS: tuple[Metric, ...] = (
    Metric("requests", "Requests", "SUM(requests)", "Number of requests.", ",d"),
    Metric("errors", "Errors", "SUM(errors)", "Requests answered with a status of 400 or more.", ",d"),
    Metric("error_rate", "Error rate", "SUM(errors)::float / NULLIF(SUM(requests), 0)",
           "Share of requests answered with a status of 400 or more.", ".1%"),
    Metric("bytes", "Bytes sent", "SUM(bytes)", "Sum of the response sizes.", ".3s"),
    Metric("users", "Users", 'COUNT(DISTINCT "user")', "Distinct signed-in users (anonymous ones not counted).",
           ",d"),
    Metric("organisations", "Organisations", "COUNT(DISTINCT org)", "Distinct organisations of signed-in users.",
           ",d"),
    Metric("avg_response_ms", "Mean response time (ms)",
           "SUM(response_time_sum)::float / NULLIF(SUM(response_time_count), 0)",
           "Mean response time of the requests that reported one.", ",.0f"),
    Metric("p50_ms", "Median response time (ms)", percentile_sql(0.5),
           "From the latency histogram, interpolated inside its bucket.", ",.0f"),
    Metric("p95_ms", "95th percentile response time (ms)", percentile_sql(0.95),
           "From the latency histogram, interpolated inside its bucket.", ",.0f"),
)  # fmt: skip
