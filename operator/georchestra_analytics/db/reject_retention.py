"""Retention of `rejected_logs` (`retention.raw` covers rejected records too), by the time they were rejected.

postgresql: `db migrate` deletes the expired rows, with the rest of the flavor's retention. timescaledb: a
TimescaleDB job running `<schema>.prune_rejected_logs` daily, reconciled by `db migrate` like the other policies
(rejected_logs cannot be a hypertable: its unique id does not hold the time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from georchestra_analytics.db.settings import DatabaseSettings

TABLE = "rejected_logs"
PROCEDURE = "prune_rejected_logs"
SCHEDULE = timedelta(days=1)


def delete_expired(conn: psycopg.Connection[Any], schema: str, cutoff: datetime) -> int:
    """Delete the rejects older than `cutoff`; returns how many."""
    cursor = conn.execute(
        sql.SQL("DELETE FROM {} WHERE rejected_at < %s").format(sql.Identifier(schema, TABLE)), (cutoff,)
    )
    return cursor.rowcount


def _config(drop_after: timedelta) -> dict[str, str]:
    return {"drop_after": f"{int(drop_after.total_seconds())} seconds"}


def reconcile_job(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    """timescaledb: one job pruning rejected_logs when retention.raw is finite, none otherwise."""
    rows = conn.execute(
        "SELECT job_id, config, schedule_interval FROM timescaledb_information.jobs"
        " WHERE proc_schema = %s AND proc_name = %s ORDER BY job_id",
        (settings.schema, PROCEDURE),
    ).fetchall()
    actions: list[str] = []
    wanted = None if settings.retention.raw is None else _config(settings.retention.raw)
    keep = rows[:1] if wanted is not None else []
    for job_id, _, _ in rows[len(keep) :]:
        conn.execute("SELECT delete_job(%s)", (job_id,))
        actions.append(f"removed job {job_id} pruning {TABLE}")
    if wanted is None:
        return actions
    if keep:
        job_id, config, schedule = keep[0]
        if (config or {}) != wanted or schedule != SCHEDULE:
            conn.execute(
                "SELECT alter_job(%s, config => %s, schedule_interval => %s)", (job_id, Jsonb(wanted), SCHEDULE)
            )
            actions.append(f"altered job {job_id}: retention of {TABLE} (drop_after={wanted['drop_after']})")
        return actions
    procedure = sql.Identifier(settings.schema, PROCEDURE).as_string(None)
    row = conn.execute("SELECT add_job(%s::regproc, %s, config => %s)", (procedure, SCHEDULE, Jsonb(wanted))).fetchone()
    actions.append(f"added job {row[0] if row else '?'}: retention of {TABLE} (drop_after={wanted['drop_after']})")
    return actions
