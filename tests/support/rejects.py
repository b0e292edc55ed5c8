"""Rejected records of known ages and reasons, for the retention and `db status` tests of both flavors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

# (age, reason): two recent reasons, one reject a little older than the status window, one a year and more.
AGED_REJECTS: tuple[tuple[timedelta, str], ...] = (
    (timedelta(hours=1), "unparsable line"),
    (timedelta(hours=2), "unparsable line"),
    (timedelta(days=2), "no timestamp"),
    (timedelta(days=9), "no timestamp"),
    (timedelta(days=500), "unparsable line"),
)


def insert_aged_rejects(conn: psycopg.Connection[Any], schema: str, now: datetime, batch: str = "aged") -> None:
    """As the test's superuser, so rejected_at can be set (the parse job's rows take now())."""
    for position, (age, reason) in enumerate(AGED_REJECTS):
        conn.execute(
            sql.SQL("INSERT INTO {} (rejected_at, reason, raw, source, id) VALUES (%s, %s, %s, %s, %s)").format(
                sql.Identifier(schema, "rejected_logs")
            ),
            (now - age, reason, '{"message": "x"}', "test", f"{batch}-{position}"),
        )


def reject_ages(conn: psycopg.Connection[Any], schema: str, now: datetime) -> list[timedelta]:
    rows = conn.execute(
        sql.SQL("SELECT %s - rejected_at FROM {} ORDER BY 1").format(sql.Identifier(schema, "rejected_logs")), (now,)
    ).fetchall()
    return [row[0] for row in rows]
