"""Refreshing the continuous aggregates over the range a parse batch touched (timescaledb flavor).

`refresh_continuous_aggregate` is a procedure that cannot run inside a transaction block, hence the autocommit
connection of its own. Hourly first, then daily over the hourly, then monthly over the daily, each widened to
whole buckets (a refresh only materialises buckets wholly inside its window). Daily and monthly are forced:
measured on TimescaleDB 2.28, a hierarchical aggregate's last bucket, which reaches past the level below's
watermark, is materialised once and then ignores later invalidations; recomputing the few buckets of the
window from the level below is cheap and always right. The aggregates of 2.x's grain behind the ogc_summary_*
views (db/legacy_schema.py) are refreshed with their level when they exist. On the postgresql flavor the
rollups are already current when the batch commits, so this does nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql

from georchestra_analytics.db.aggregates import FAMILIES, ROBOT_MIRRORS, storage_name
from georchestra_analytics.db.legacy_schema import COMPAT_AGGREGATES
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


def _existing(conn: psycopg.Connection[Any], schema: str, names: Iterable[str]) -> set[str]:
    """Those of `names` that exist and that this role may refresh (a member of their owner: a schema not yet
    migrated by the version that hands them to the aggregates' role keeps them with the migrating role)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND pg_has_role(current_user, c.relowner, 'USAGE')",
        (schema, list(names)),
    ).fetchall()
    return {str(row[0]) for row in rows}


def refresh_aggregates(dsn: str, start: datetime, end: datetime, *, schema: str = "analytics") -> list[str]:
    """Refresh every aggregate over [start, end], each waiting out a policy's refresh of it (POLICY_PAUSES);
    returns the aggregates refreshed (empty on postgresql)."""
    if end < start:
        raise ValueError(f"refresh range ends ({end}) before it starts ({start})")
    refreshed: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        info = read_schema_info(conn, schema)
        if info.flavor != "timescaledb":
            return refreshed
        compat = _existing(conn, schema, COMPAT_AGGREGATES.values())
        for level, widen in _WIDEN.items():
            window = _widened(start, end, widen)
            refreshed += _refresh_level(
                conn, schema, level, compat, *window, force=level != "hourly", pauses=POLICY_PAUSES
            )
    log.debug("refreshed %s over %s .. %s", ", ".join(refreshed), start, end)
    return refreshed


def _refresh_order() -> list[str]:
    """Every family, each robot mirror right after its family: the views subtract one from the other, so the two
    are refreshed as close together as they can be (each refresh commits on its own)."""
    mirrors = {mirror for mirror in ROBOT_MIRRORS.values() if mirror in FAMILIES}
    order: list[str] = []
    for family in FAMILIES:
        if family in mirrors:
            continue
        order.append(family)
        if ROBOT_MIRRORS.get(family) in mirrors:
            order.append(ROBOT_MIRRORS[family])
    return order


def _level_names(level: str, compat: set[str]) -> list[str]:
    names = [storage_name(family, level) for family in _refresh_order()]
    return names + ([COMPAT_AGGREGATES[level]] if COMPAT_AGGREGATES[level] in compat else [])


# TimescaleDB refuses a refresh while another (a refresh policy's job) holds the aggregate, rather than wait:
# a few short retries outlast a policy run.
POLICY_PAUSES: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


def refresh_one(
    conn: psycopg.Connection[Any],
    name: str,
    start: datetime | None,
    end: datetime | None,
    *,
    force: bool = False,
    pauses: Sequence[float] = (),
) -> None:
    """`refresh_continuous_aggregate` of one aggregate (`name` qualified and quoted) over [start, end] (None: no
    bound), tried again after each of `pauses` while another refresh holds it; then the refusal is raised."""
    call = "CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz, force => %s)"
    for pause in pauses:
        try:
            conn.execute(call, (name, start, end, force))
            return
        except psycopg.errors.LockNotAvailable as error:
            log.info("%s: waiting %ss for a concurrent refresh to end (%s)", name, pause, error)
            time.sleep(pause)
    conn.execute(call, (name, start, end, force))


def _refresh_level(
    conn: psycopg.Connection[Any],
    schema: str,
    level: str,
    compat: set[str],
    start: datetime,
    end: datetime,
    *,
    force: bool,
    pauses: Sequence[float] = (),
) -> list[str]:
    names = _level_names(level, compat)
    for name in names:
        refresh_one(conn, sql.Identifier(schema, name).as_string(conn), start, end, force=force, pauses=pauses)
    return names


def refresh_hourly(conn: psycopg.Connection[Any], schema: str, start: datetime, end: datetime) -> list[str]:
    """The hourly aggregates over [start, end) as given (buckets wholly inside are materialised), on an open
    autocommit connection: what the parse job refreshes while it drains (parser/refresh_alongside.py). Not
    forced: TimescaleDB recomputes only what changed in the window, so a later refresh over the same hours
    costs little. The daily and monthly levels are left to the run's final refresh: they read the hourly
    level, a few rows per hour, where the hourly level reads every record. A refusal (a policy refreshing one of
    them) is raised at once: the caller tries those hours again later."""
    compat = _existing(conn, schema, [COMPAT_AGGREGATES["hourly"]])
    return _refresh_level(conn, schema, "hourly", compat, start, end, force=False)
