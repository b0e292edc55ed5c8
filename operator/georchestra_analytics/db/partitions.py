"""postgresql flavor: partitions made ahead, and retention by dropping whole expired partitions.

A partition covers one period of `spec.database.partitionInterval` (periods start at multiples of it from
Monday 2000-01-03 00:00 UTC), less what older partitions already cover (schemas built before the interval was
honoured have monthly ones, `<table>_pYYYY_MM`). Partitions are named `<table>_pYYYYMMDD` after their lower
bound; bounds are read back from the catalog, never trusted from the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db import reject_retention
from georchestra_analytics.db.aggregates import FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.settings import DatabaseSettings

RAW_TABLES = ("access_logs", "access_log_layers")


@dataclass(frozen=True)
class Partition:
    parent: str
    name: str
    lower: datetime
    upper: datetime


def list_partitions(conn: psycopg.Connection[Any], schema: str) -> list[Partition]:
    """The partitions of the raw tables (not the DEFAULT ones), oldest first."""
    rows = conn.execute(
        """
        SELECT parent.relname, child.relname,
               (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz,
               (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz
        FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        JOIN pg_namespace ns ON ns.oid = parent.relnamespace
        WHERE ns.nspname = %s AND parent.relname = ANY(%s)
          AND pg_get_expr(child.relpartbound, child.oid) <> 'DEFAULT'
        ORDER BY 3, 1
        """,
        (schema, list(RAW_TABLES)),
    ).fetchall()
    return [Partition(parent=row[0], name=row[1], lower=row[2], upper=row[3]) for row in rows]


def ensure_ahead(conn: psycopg.Connection[Any], settings: DatabaseSettings, now: datetime) -> int:
    """Create the partitions of the current period and of `partitions_ahead` periods after it."""
    row = conn.execute(
        sql.SQL("SELECT {}(%s, %s)").format(sql.Identifier(settings.schema, "ensure_partitions")),
        (now, now + settings.chunk_interval * settings.partitions_ahead),
    ).fetchone()
    return int(row[0]) if row else 0


def apply_retention(conn: psycopg.Connection[Any], settings: DatabaseSettings, now: datetime) -> list[str]:
    """Drop raw partitions wholly older than the raw retention, delete expired rows of the DEFAULT partitions,
    of rejected_logs and of the rollup tables. Returns what was done."""
    actions: list[str] = []
    schema = settings.schema
    raw = settings.retention.raw
    if raw is not None:
        cutoff = now - raw
        for partition in list_partitions(conn, schema):
            if partition.upper <= cutoff:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, partition.name)))
                actions.append(f"dropped expired partition {partition.name}")
        for table in RAW_TABLES:
            cursor = conn.execute(
                sql.SQL("DELETE FROM {} WHERE ts < %s").format(sql.Identifier(schema, f"{table}_default")), (cutoff,)
            )
            if cursor.rowcount:
                actions.append(f"deleted {cursor.rowcount} expired rows from {table}_default")
        rejects = reject_retention.delete_expired(conn, schema, cutoff)
        if rejects:
            actions.append(f"deleted {rejects} expired rows from {reject_retention.TABLE}")
    kept: dict[str, timedelta | None] = {
        "hourly": settings.retention.hourly, "daily": settings.retention.daily, "monthly": settings.retention.monthly
    }  # fmt: skip
    for family in FAMILIES:
        for level in LEVELS:
            retention = kept[level]
            if retention is None:
                continue
            cursor = conn.execute(
                sql.SQL("DELETE FROM {} WHERE bucket < %s").format(sql.Identifier(schema, storage_name(family, level))),
                (now - retention,),
            )
            if cursor.rowcount:
                actions.append(f"deleted {cursor.rowcount} expired rows from {storage_name(family, level)}")
    return actions


def maintain(conn: psycopg.Connection[Any], settings: DatabaseSettings, now: datetime) -> list[str]:
    actions = apply_retention(conn, settings, now)
    created = ensure_ahead(conn, settings, now)
    if created:
        actions.append(f"created {created} partitions ahead")
    return actions
