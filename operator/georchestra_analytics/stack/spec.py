"""The AnalyticsStack spec: every section, with the invariants that span sections."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.collector import CollectorSpec
from georchestra_analytics.stack.database import DatabaseSpec
from georchestra_analytics.stack.jobs import JobsSpec
from georchestra_analytics.stack.parsing import ParserSpec
from georchestra_analytics.stack.retention import (
    MSG_LEVEL_LONGER_THAN_NEXT_WINDOW,
    MSG_RAW_LONGER_THAN_WINDOWS,
    Aggregates,
    Compression,
    Retention,
    cel_levels_outlive_next_refresh_windows,
    cel_raw_outlives_refresh_windows,
    levels_outlive_next_refresh_windows,
    raw_outlives_refresh_windows,
)
from georchestra_analytics.stack.superset import SupersetSpec

TIME_ZONE_PATTERN = r"^(UTC|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2})$"


def _known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Paris") from error
    return value


TimeZone = Annotated[
    str, Field(min_length=1, max_length=64, pattern=TIME_ZONE_PATTERN), AfterValidator(_known_time_zone)
]


class AnalyticsStackSpec(SpecModel):
    """Desired state of a geOrchestra analytics stack: collector, database, parse job, dashboards."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": cel_raw_outlives_refresh_windows("self.retention", "self.aggregates"),
                    "message": MSG_RAW_LONGER_THAN_WINDOWS,
                },
                {
                    "rule": cel_levels_outlive_next_refresh_windows("self.retention", "self.aggregates"),
                    "message": MSG_LEVEL_LONGER_THAN_NEXT_WINDOW,
                },
            ]
        }
    }

    database: DatabaseSpec
    """Where the analytics data lives: exactly one of managed or external."""
    time_zone: TimeZone = "UTC"
    """IANA time zone of the daily and monthly buckets (a day starts at midnight there) and of the parse
    schedule."""
    retention: Retention = Field(default_factory=Retention)
    """How long each level of detail is kept."""
    aggregates: Aggregates = Field(default_factory=Aggregates)
    """Refresh of the hourly, daily and monthly aggregates."""
    compression: Compression = Field(default_factory=Compression)
    """Compression of old chunks (timescaledb flavor)."""
    collector: CollectorSpec = Field(default_factory=CollectorSpec)
    """The Vector collector receiving OpenTelemetry logs."""
    parser: ParserSpec = Field(default_factory=ParserSpec)
    """The parse CronJob."""
    superset: SupersetSpec | None = None
    """Superset receiving the dashboards; without it no dashboards are imported."""
    jobs: JobsSpec = Field(default_factory=JobsSpec)
    """Settings of the db-migrate and superset-sync Jobs."""
    suspend: bool = False
    """Suspend the stack: the parse CronJob stops and the operator leaves the children as they are."""

    @model_validator(mode="after")
    def _retention_outlives_refresh(self) -> AnalyticsStackSpec:
        if not raw_outlives_refresh_windows(self.retention, self.aggregates):
            raise ValueError(MSG_RAW_LONGER_THAN_WINDOWS)
        if not levels_outlive_next_refresh_windows(self.retention, self.aggregates):
            raise ValueError(MSG_LEVEL_LONGER_THAN_NEXT_WINDOW)
        return self
