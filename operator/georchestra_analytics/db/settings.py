"""What the database layer needs to know about a stack.

Durations are `timedelta`s; `None` means "keep forever" (retention) or "off" (compression). `from_stack`
reads them from an AnalyticsStack; the defaults here are the stack's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from georchestra_analytics.stack import AnalyticsStack

Flavor = Literal["timescaledb", "postgresql"]
FLAVORS: tuple[Flavor, ...] = ("timescaledb", "postgresql")

# postgresql flavor: one table per partition and raw table, so shorter partitions would make thousands of tables.
MIN_PARTITION_INTERVAL = timedelta(days=1)
MSG_PARTITION_INTERVAL_TOO_SHORT = (
    "database.partitionInterval must be at least 1d on the postgresql flavor (each partition is a table; "
    "use 1d for the busiest platforms, the default 7d otherwise)"
)  # the same words as the stack's rule (stack/database.py), which settings must not import


@dataclass(frozen=True)
class Retention:
    """How long each level of data is kept. None keeps it forever."""

    raw: timedelta | None = timedelta(days=365)
    hourly: timedelta | None = timedelta(days=2 * 365)
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
    hourly: RefreshWindow = RefreshWindow(timedelta(days=3), timedelta(hours=1), timedelta(hours=1))
    daily: RefreshWindow = RefreshWindow(timedelta(days=35), timedelta(hours=1), timedelta(hours=1))
    monthly: RefreshWindow = RefreshWindow(timedelta(days=100), timedelta(hours=1), timedelta(hours=1))


@dataclass(frozen=True)
class RoleNames:
    collector: str
    parser: str
    dashboards: str
    aggregates: str  # owner of the continuous aggregates (timescaledb), so the parse job can refresh them


@dataclass(frozen=True)
class DatabaseSettings:
    schema: str = "analytics"
    flavor: Flavor = "timescaledb"
    time_zone: str = "UTC"
    retention: Retention = field(default_factory=Retention)
    refresh: Refresh = field(default_factory=Refresh)
    # Compress raw chunks older than this; None leaves them uncompressed.
    compress_after: timedelta | None = timedelta(days=14)
    # `spec.database.partitionInterval`: the time span of one chunk (timescaledb) or partition (postgresql) of
    # the raw tables. A week of raw records per chunk: a chunk of a busy platform (a few million rows) stays well
    # under a quarter of the server's memory, and retention drops whole weeks.
    chunk_interval: timedelta = timedelta(days=7)
    # postgresql flavor: partitions created this many intervals ahead of the current one.
    partitions_ahead: int = 3
    # `spec.database.rolePrefix`: roles are `<prefix>_collector`... ; None uses the schema name.
    role_prefix: str | None = None
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
        if self.chunk_interval <= timedelta(0):
            raise ValueError("the partition interval must be positive")
        if self.flavor == "postgresql" and self.chunk_interval < MIN_PARTITION_INTERVAL:
            raise ValueError(MSG_PARTITION_INTERVAL_TOO_SHORT)
        for name in (self.schema, *vars(self.roles).values()):
            if len(name.encode()) > 63:  # PostgreSQL would silently truncate it
                raise ValueError(f"database name {name!r} is longer than PostgreSQL's 63 bytes")

    @property
    def roles(self) -> RoleNames:
        prefix = self.role_prefix or self.schema
        return RoleNames(
            collector=self.collector_role or f"{prefix}_collector",
            parser=self.parser_role or f"{prefix}_parser",
            dashboards=self.dashboards_role or f"{prefix}_dashboards",
            aggregates=f"{prefix}_aggregates",
        )

    def with_changes(self, **changes: Any) -> DatabaseSettings:
        return replace(self, **changes)

    @classmethod
    def from_stack(cls, stack: AnalyticsStack) -> DatabaseSettings:
        """The database settings an AnalyticsStack declares (the `-f STACK.yaml` of `db` commands)."""
        from georchestra_analytics.stack import duration_hours

        def hours(value: str) -> timedelta | None:
            count = duration_hours(value)
            return None if count is None else timedelta(hours=count)

        def finite(value: str) -> timedelta:
            return timedelta(hours=duration_hours(value) or 0)

        spec = stack.spec
        every = finite(spec.aggregates.refresh_interval)
        end_offset = timedelta(hours=1)
        windows = spec.aggregates.refresh_windows
        return cls(
            schema=spec.database.schema_name,
            flavor=spec.database.flavor,
            time_zone=spec.time_zone,
            retention=Retention(
                raw=hours(spec.retention.raw),
                hourly=hours(spec.retention.hourly),
                daily=hours(spec.retention.daily),
                monthly=hours(spec.retention.monthly),
            ),
            refresh=Refresh(
                hourly=RefreshWindow(finite(windows.hourly), end_offset, every),
                daily=RefreshWindow(finite(windows.daily), end_offset, every),
                monthly=RefreshWindow(finite(windows.monthly), end_offset, every),
            ),
            compress_after=finite(spec.compression.after) if spec.compression.enabled else None,
            chunk_interval=finite(spec.database.partition_interval),
            role_prefix=spec.database.role_prefix,
        )
