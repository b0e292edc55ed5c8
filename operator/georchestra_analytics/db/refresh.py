"""Refreshing the continuous aggregates over the range a parse batch touched (timescaledb flavor).

`refresh_continuous_aggregate` is a procedure that cannot run inside a transaction block, hence the autocommit
connection of its own. Hourly first, then daily over the hourly, then monthly over the daily, each widened to
whole buckets (a refresh only materialises buckets wholly inside its window). Daily and monthly are forced:
measured on TimescaleDB 2.28, a hierarchical aggregate's last bucket, which reaches past the level below's
watermark, is materialised once and then ignores later invalidations; recomputing the few buckets of the
window from the level below is cheap and always right. On the postgresql flavor the
rollups are already current when the batch commits, so this does nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import FAMILIES, storage_name
from georchestra_analytics.db.schema_info import read_schema_info

log = logging.getLogger(__name__)

# How far each level's window is widened on both sides to cover the whole buckets around the range. TimescaleDB
# aligns a refresh window on UTC bucket boundaries, so a bucket of the configured time zone (a Paris day starts
# at 23:00 UTC) needs a margin of about two of its buckets to fall wholly inside the window.
_WIDEN = {"hourly": timedelta(hours=2), "daily": timedelta(days=2), "monthly": timedelta(days=62)}


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _widened(start: datetime, end: datetime, widen: timedelta) -> tuple[datetime, datetime]:
    """The window widened, within what a datetime can hold (records of years 1 and 9999 are storable)."""
    return max(start, _EARLIEST + widen) - widen, min(end, _LATEST - widen) + widen


def refresh_aggregates(dsn: str, start: datetime, end: datetime, *, schema: str = "analytics") -> list[str]:
    """Refresh every aggregate over [start, end]; returns the aggregates refreshed (empty on postgresql)."""
    if end < start:
        raise ValueError(f"refresh range ends ({end}) before it starts ({start})")
    refreshed: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        info = read_schema_info(conn, schema)
        if info.flavor != "timescaledb":
            return refreshed
        for level, widen in _WIDEN.items():
            for family in FAMILIES:
                name = storage_name(family, level)
                conn.execute(
                    "CALL refresh_continuous_aggregate(%s::regclass, %s, %s, force => %s)",
                    (sql.Identifier(schema, name).as_string(conn), *_widened(start, end, widen), level != "hourly"),
                )
                refreshed.append(name)
    log.debug("refreshed %s over %s .. %s", ", ".join(refreshed), start, end)
    return refreshed
