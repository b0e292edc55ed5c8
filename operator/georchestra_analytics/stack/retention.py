"""How long data is kept, how far back aggregates are recomputed, and when chunks are compressed."""

from __future__ import annotations

from pydantic import Field, model_validator

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.durations import FOREVER, Duration, FiniteDuration, cel_hours, duration_hours

MSG_RAW_LONGER_THAN_WINDOWS = (
    "retention.raw must be longer than every aggregate refresh window (aggregates.refreshWindows): "
    "a refresh reaching past the raw data would erase aggregated buckets"
)
MSG_LEVEL_LONGER_THAN_NEXT_WINDOW = (
    "retention.hourly must be longer than aggregates.refreshWindows.daily and retention.daily longer than "
    "aggregates.refreshWindows.monthly: the daily aggregate is recomputed from the hourly one and the monthly "
    "from the daily, so a refresh reaching past the level below would erase buckets"
)
MSG_WINDOW_TWO_BUCKETS = (
    "each aggregate refresh window must cover at least two buckets: hourly >= 2h, daily >= 2d, monthly >= 62d"
)


class Retention(SpecModel):
    """How long each level of detail is kept (`forever` keeps it)."""

    raw: Duration = "1y"
    """Individual access records (and rejected records)."""
    hourly: Duration = "2y"
    """Hourly aggregates."""
    daily: Duration = "5y"
    """Daily aggregates."""
    monthly: Duration = FOREVER
    """Monthly aggregates."""


class RefreshWindows(SpecModel):
    """How far back each aggregate is recomputed when late records arrive. Records older than the window
    are still stored but no longer change the aggregate."""

    hourly: FiniteDuration = "3d"
    """Refresh window of the hourly aggregate."""
    daily: FiniteDuration = "35d"
    """Refresh window of the daily aggregate."""
    monthly: FiniteDuration = "100d"
    """Refresh window of the monthly aggregate."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    # has(): the API server also checks the rule on the bare `default: {}` of this section.
                    "rule": " && ".join(
                        f"(!has(self.{name}) || {cel_hours(f'self.{name}')} >= {least})"
                        for name, least in (("hourly", 2), ("daily", 48), ("monthly", 1488))
                    ),
                    "message": MSG_WINDOW_TWO_BUCKETS,
                }
            ]
        }
    }

    @model_validator(mode="after")
    def _two_buckets(self) -> RefreshWindows:
        minimum = {"hourly": 2, "daily": 48, "monthly": 62 * 24}
        for name, least in minimum.items():
            hours = duration_hours(getattr(self, name))
            if hours is not None and hours < least:
                raise ValueError(MSG_WINDOW_TWO_BUCKETS)
        return self

    def longest_hours(self) -> int:
        return max(duration_hours(getattr(self, name)) or 0 for name in ("hourly", "daily", "monthly"))


class Aggregates(SpecModel):
    """The hourly, daily and monthly aggregates behind the dashboards."""

    refresh_windows: RefreshWindows = Field(default_factory=RefreshWindows)
    """How far back each aggregate is recomputed."""
    refresh_interval: FiniteDuration = "1h"
    """How often the aggregates are refreshed (a TimescaleDB job schedule; the postgresql flavor updates its
    rollups in each parse run)."""


class Compression(SpecModel):
    """Compression of old access-log chunks (timescaledb flavor only; ignored by postgresql)."""

    enabled: bool = True
    """Compress chunks older than `after`."""
    after: FiniteDuration = "14d"
    """Age after which a chunk is compressed. Late records for compressed chunks are still accepted."""


def raw_outlives_refresh_windows(retention: Retention, aggregates: Aggregates) -> bool:
    """The invariant behind MSG_RAW_LONGER_THAN_WINDOWS."""
    raw = duration_hours(retention.raw)
    return raw is None or raw > aggregates.refresh_windows.longest_hours()


def cel_raw_outlives_refresh_windows(retention: str, aggregates: str) -> str:
    """The same invariant as a CEL rule on the object holding `retention` and `aggregates`. Absent sections
    (possible only before defaulting) pass: their defaults satisfy it."""
    raw = f"{retention}.raw"
    windows = f"{aggregates}.refreshWindows"
    checks = " && ".join(
        f"(!has({windows}.{name}) || {cel_hours(raw)} > {cel_hours(f'{windows}.{name}')})"
        for name in ("hourly", "daily", "monthly")
    )
    absent = f"!has({retention}) || !has({raw}) || !has({aggregates}) || !has({windows})"
    return f"{absent} || {raw} == 'forever' || ({checks})"


# (retention level, the refresh window of the aggregate computed from it)
_SOURCE_LEVELS = (("hourly", "daily"), ("daily", "monthly"))


def levels_outlive_next_refresh_windows(retention: Retention, aggregates: Aggregates) -> bool:
    """The invariant behind MSG_LEVEL_LONGER_THAN_NEXT_WINDOW."""
    for level, window in _SOURCE_LEVELS:
        kept = duration_hours(getattr(retention, level))
        reach = duration_hours(getattr(aggregates.refresh_windows, window)) or 0
        if kept is not None and kept <= reach:
            return False
    return True


def cel_levels_outlive_next_refresh_windows(retention: str, aggregates: str) -> str:
    """The same invariant as a CEL rule on the object holding `retention` and `aggregates`."""
    windows = f"{aggregates}.refreshWindows"
    checks = " && ".join(
        f"(!has({retention}.{level}) || !has({windows}.{window}) || {retention}.{level} == 'forever' || "
        f"{cel_hours(f'{retention}.{level}')} > {cel_hours(f'{windows}.{window}')})"
        for level, window in _SOURCE_LEVELS
    )
    absent = f"!has({retention}) || !has({aggregates}) || !has({windows})"
    return f"{absent} || ({checks})"
