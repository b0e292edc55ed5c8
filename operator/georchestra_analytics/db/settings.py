"""What the database layer needs to know, until the AnalyticsStack model (stack.py) supplies it.

Durations are `timedelta`s; `None` means "keep forever" (retention) or "off" (compression).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

Flavor = Literal["timescaledb", "postgresql"]
FLAVORS: tuple[Flavor, ...] = ("timescaledb", "postgresql")

_DURATION = re.compile(r"^\s*(\d+)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?|w|weeks?|mo|months?|y|years?)\s*$")
_UNIT_DAYS = {"w": 7, "mo": 30, "y": 365}


def parse_duration(text: str | int | timedelta | None) -> timedelta | None:
    """`"90d"`, `"13 months"`, `"3y"`, `"6h"` -> timedelta. Months count 30 days, years 365."""
    if text is None or isinstance(text, timedelta):
        return text
    if isinstance(text, int):
        return timedelta(seconds=text)
    if text.strip().lower() in ("", "forever", "none", "never"):
        return None
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (expected e.g. '90d', '13 months', '3y', '6h')")
    number, unit = int(match.group(1)), match.group(2)
    if unit.startswith("mo"):
        return timedelta(days=30 * number)
    if unit in ("m", "min") or unit.startswith("minute"):
        return timedelta(minutes=number)
    key = unit[0]
    if key == "s":
        return timedelta(seconds=number)
    if key == "h":
        return timedelta(hours=number)
    if key == "d":
        return timedelta(days=number)
    return timedelta(days=_UNIT_DAYS[key] * number)


@dataclass(frozen=True)
class Retention:
    """How long each level of data is kept. None keeps it forever."""

    raw: timedelta | None = timedelta(days=395)  # 13 months: a year-on-year comparison of raw records
    hourly: timedelta | None = timedelta(days=90)
    daily: timedelta | None = timedelta(days=5 * 365)
    monthly: timedelta | None = None


@dataclass(frozen=True)
class RefreshWindow:
    """A continuous aggregate refresh policy: refresh [now - start_offset, now - end_offset) every `every`."""

    start_offset: timedelta
    end_offset: timedelta
    every: timedelta


@dataclass(frozen=True)
class Refresh:
    # The parse job refreshes what each batch touched; these policies are the backstop for late data and
    # missed refreshes. Each window covers at least two buckets (a TimescaleDB requirement).
    hourly: RefreshWindow = RefreshWindow(timedelta(days=3), timedelta(hours=1), timedelta(minutes=30))
    daily: RefreshWindow = RefreshWindow(timedelta(days=7), timedelta(hours=1), timedelta(hours=6))
    monthly: RefreshWindow = RefreshWindow(timedelta(days=93), timedelta(hours=1), timedelta(days=1))


@dataclass(frozen=True)
class RoleNames:
    collector: str
    parser: str
    dashboards: str


@dataclass(frozen=True)
class DatabaseSettings:
    schema: str = "analytics"
    flavor: Flavor = "timescaledb"
    time_zone: str = "UTC"
    retention: Retention = field(default_factory=Retention)
    refresh: Refresh = field(default_factory=Refresh)
    # Compress raw chunks older than this; None leaves them uncompressed.
    compress_after: timedelta | None = timedelta(days=7)
    # A week of raw records per chunk: a chunk of a busy platform (a few million rows) stays well under a
    # quarter of the server's memory, and retention drops whole weeks.
    chunk_interval: timedelta = timedelta(days=7)
    # postgresql flavor: monthly partitions created this many months ahead of the current one.
    partitions_ahead: int = 3
    collector_role: str | None = None
    parser_role: str | None = None
    dashboards_role: str | None = None

    def __post_init__(self) -> None:
        if self.flavor not in FLAVORS:
            raise ValueError(f"unknown database flavor {self.flavor!r}; expected one of {', '.join(FLAVORS)}")
        if not self.schema:
            raise ValueError("the database schema name must not be empty")
        if self.partitions_ahead < 1:
            raise ValueError("partitions_ahead must be at least 1")

    @property
    def roles(self) -> RoleNames:
        return RoleNames(
            collector=self.collector_role or f"{self.schema}_collector",
            parser=self.parser_role or f"{self.schema}_parser",
            dashboards=self.dashboards_role or f"{self.schema}_dashboards",
        )

    def with_changes(self, **changes: Any) -> DatabaseSettings:
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, spec: dict[str, Any]) -> DatabaseSettings:
        """From the camelCase sections of an AnalyticsStack spec (database, timeZone, retention, compression)."""
        database = spec.get("database") or {}
        retention = spec.get("retention") or {}
        compression = spec.get("compression") or {}
        roles = database.get("roles") or {}
        defaults = Retention()
        kwargs: dict[str, Any] = {
            "schema": database.get("schema", "analytics"),
            "flavor": database.get("flavor", "timescaledb"),
            "time_zone": spec.get("timeZone", "UTC"),
            "retention": Retention(
                raw=parse_duration(retention["raw"]) if "raw" in retention else defaults.raw,
                hourly=parse_duration(retention["hourly"]) if "hourly" in retention else defaults.hourly,
                daily=parse_duration(retention["daily"]) if "daily" in retention else defaults.daily,
                monthly=parse_duration(retention["monthly"]) if "monthly" in retention else defaults.monthly,
            ),
            "collector_role": roles.get("collector"),
            "parser_role": roles.get("parser"),
            "dashboards_role": roles.get("dashboards"),
        }
        if compression.get("enabled") is False:
            kwargs["compress_after"] = None
        elif "after" in compression:
            kwargs["compress_after"] = parse_duration(compression["after"])
        return cls(**kwargs)
