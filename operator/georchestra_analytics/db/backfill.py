"""Filling the continuous aggregates `db migrate` creates over the whole history (timescaledb flavor).

A migration creates them WITH NO DATA, in its transaction; their refresh policies only reach a few days back, so
on a database that already holds records, older history would never be materialised (and real-time aggregates
stop showing it once a policy has moved their watermark). `refresh_continuous_aggregate` cannot run in a
transaction block: `db migrate` records the new aggregates in `aggregate_backfills` inside its transaction and
fills them after the commit, each over NULL..NULL, hourly before daily before monthly (each level is computed
from the one below), deleting each record once its refresh is done; a run stopped in between leaves the records,
and the next `db migrate` fills them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.refresh import refresh_one
from georchestra_analytics.db.settings import DatabaseSettings

log = logging.getLogger(__name__)

TABLE = "aggregate_backfills"
_PAUSES = (0.2, 0.5, 1, 2, 4, 8, 15, 30)  # about a minute in all, then the error is raised
_LEVEL_ORDER = {"hourly": 0, "daily": 1, "monthly": 2}


def continuous_aggregates(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> set[str]:
    """The continuous aggregates of the schema (none on postgresql)."""
    if settings.flavor != "timescaledb":
        return set()
    rows = conn.execute(
        "SELECT view_name FROM timescaledb_information.continuous_aggregates WHERE view_schema = %s",
        (settings.schema,),
    ).fetchall()
    return {str(row[0]) for row in rows}


def _table_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, TABLE).as_string(conn),)).fetchone()
    return row is not None and row[0] is not None


def record(conn: psycopg.Connection[Any], schema: str, names: Iterable[str]) -> None:
    """Inside the migration's transaction; before migration 0011 made the table, the caller's list is all."""
    names = sorted(names)
    if not names or not _table_exists(conn, schema):
        return
    conn.execute(
        sql.SQL("INSERT INTO {} (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING").format(
            sql.Identifier(schema, TABLE)
        ),
        (names,),
    )


def _order(name: str) -> tuple[int, str]:
    """Hourly before daily before monthly: the daily aggregates are computed from the hourly ones."""
    return _LEVEL_ORDER.get(name.rsplit("_", 1)[-1], len(_LEVEL_ORDER)), name


def _refresh_whole(conn: psycopg.Connection[Any], name: str) -> None:
    """The refresh, retried while a refresh policy's job, which may start as soon as the migration commits, holds
    the aggregate (TimescaleDB refuses a concurrent refresh instead of waiting for it)."""
    refresh_one(conn, name, None, None, pauses=_PAUSES)


def fill(dsn: str, settings: DatabaseSettings, created: Iterable[str] = ()) -> list[str]:
    """Refresh the recorded aggregates (and `created`) over their whole span; returns those refreshed."""
    if settings.flavor != "timescaledb":
        return []
    schema = settings.schema
    with psycopg.connect(dsn, autocommit=True) as conn:
        pending = set(created)
        if _table_exists(conn, schema):
            pending |= {
                str(row[0])
                for row in conn.execute(sql.SQL("SELECT name FROM {}").format(sql.Identifier(schema, TABLE)))
            }
        existing = continuous_aggregates(conn, settings)
        filled = []
        for name in sorted(pending, key=_order):
            if name in existing:  # one dropped since it was recorded has nothing to fill
                log.info("filling continuous aggregate %s over the whole history", name)
                _refresh_whole(conn, sql.Identifier(schema, name).as_string(conn))
                filled.append(name)
            if _table_exists(conn, schema):
                conn.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(sql.Identifier(schema, TABLE)), (name,))
    return filled
