"""`db status`: applied and pending migrations, flavor, extension version, policies and their last runs, the
rejected records kept (in all, and by reason over the recent window), and a georchestra-analytics 2.x database
found in the schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.flavor import MIN_SERVER_VERSION
from georchestra_analytics.db.legacy_schema import find_legacy_schema
from georchestra_analytics.db.migrate import MIGRATIONS_TABLE, applied_migrations
from georchestra_analytics.db.migrations import REPEATABLE_TEMPLATES, versioned_migrations
from georchestra_analytics.db.partitions import list_partitions
from georchestra_analytics.db.reject_retention import PROCEDURE, TABLE
from georchestra_analytics.db.settings import DatabaseSettings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# The window of `rejects.recent`: long enough to span a weekend without a look.
RECENT_REJECTS = timedelta(days=7)


def _timescale_jobs(conn: psycopg.Connection[Any], schema: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT j.job_id, j.proc_name,
               coalesce(j.hypertable_name, CASE WHEN j.proc_name = %s THEN %s END) AS relation,
               j.config, j.schedule_interval::text,
               -- a job that never ran has -infinity there, which Python has no datetime for
               CASE WHEN isfinite(s.last_run_started_at) THEN s.last_run_started_at END,
               s.last_run_status,
               CASE WHEN isfinite(s.next_start) THEN s.next_start END, s.total_runs, s.total_failures
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        WHERE j.hypertable_schema = %s OR (j.proc_schema = %s AND j.proc_name = %s)
        ORDER BY relation, j.proc_name
        """,
        (PROCEDURE, TABLE, schema, schema, PROCEDURE),
    ).fetchall()
    return [
        {
            "job_id": row[0], "policy": row[1], "relation": row[2], "config": row[3], "schedule": row[4],
            "last_run": _iso(row[5]), "last_status": row[6], "next_run": _iso(row[7]), "runs": row[8],
            "failures": row[9],
        }
        for row in rows
    ]  # fmt: skip


def _rejects(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    """How many rejects are kept, and how many of each reason arrived over the last RECENT_REJECTS."""
    table = sql.Identifier(schema, TABLE)
    total = conn.execute(sql.SQL("SELECT count(*), max(rejected_at) FROM {}").format(table)).fetchone()
    rows = conn.execute(
        sql.SQL(
            "SELECT reason, count(*), max(rejected_at) FROM {} WHERE rejected_at >= now() - %s"
            " GROUP BY reason ORDER BY 2 DESC, 1"
        ).format(table),
        (RECENT_REJECTS,),
    ).fetchall()
    return {
        "total": total[0] if total else 0,
        "last": _iso(total[1]) if total else None,
        "recent_days": RECENT_REJECTS.days,
        "recent": sum(row[1] for row in rows),
        "recent_by_reason": [{"reason": row[0], "count": row[1], "last": _iso(row[2])} for row in rows],
    }


def _imports(conn: psycopg.Connection[Any], schema: str) -> list[dict[str, Any]]:
    """The checkpoints of `db import-2x` into this schema (none before migration 0007 or any import)."""
    if conn.execute(
        "SELECT to_regclass(%s)", (sql.Identifier(schema, "legacy_imports").as_string(conn),)
    ).fetchone() == (None,):
        return []
    rows = conn.execute(
        sql.SQL("SELECT source_schema, rows_read, buffer_copied, finished_at, updated_at FROM {} ORDER BY 1").format(
            sql.Identifier(schema, "legacy_imports")
        )
    ).fetchall()
    return [
        {"source_schema": row[0], "rows_read": row[1], "buffer_rows_copied": row[2], "finished_at": _iso(row[3]),
         "updated_at": _iso(row[4])}
        for row in rows
    ]  # fmt: skip


def database_status(dsn: str, settings: DatabaseSettings) -> dict[str, Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()
        version_num = conn.execute("SHOW server_version_num").fetchone()
        extension = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        migrated = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            (settings.schema, MIGRATIONS_TABLE),
        ).fetchone()
        applied = applied_migrations(conn, settings.schema) if migrated else {}
        recorded: dict[str, str] = {}
        if migrated:
            recorded = dict(
                conn.execute(
                    sql.SQL("SELECT key, value FROM {}").format(sql.Identifier(settings.schema, "settings"))
                ).fetchall()
            )
        flavor = recorded.get("flavor", settings.flavor)
        known = versioned_migrations(flavor)
        status: dict[str, Any] = {
            "schema": settings.schema,
            "flavor": flavor,
            "configured_flavor": settings.flavor,
            "time_zone": recorded.get("time_zone"),
            "partition_interval": recorded.get("partition_interval"),
            "server_version": server_version[0] if server_version else None,
            "server_supported": bool(version_num and int(version_num[0]) >= MIN_SERVER_VERSION),
            "timescaledb_version": extension[0] if extension else None,
            "migrations": [
                {"version": version, "kind": kind, "applied_at": _iso(applied_at)}
                for version, (kind, _, applied_at) in sorted(applied.items())
            ],
            "pending": [m.version for m in known if m.version not in applied]
            + [unit for unit, _ in REPEATABLE_TEMPLATES if unit not in applied],
        }
        legacy = find_legacy_schema(conn, settings.schema)
        status["legacy_2x"] = (
            None
            if legacy is None
            else {
                "schema": legacy.schema,
                "relations": list(legacy.relations),
                "message": f"{legacy.describe()}: `db migrate` refuses it; {legacy.ways_forward(settings.schema)}",
            }
        )
        if migrated:
            status["rejects"] = _rejects(conn, settings.schema)
            status["imports_2x"] = _imports(conn, settings.schema)
        if migrated and flavor == "timescaledb" and extension:
            status["policies"] = _timescale_jobs(conn, settings.schema)
        elif migrated and flavor == "postgresql":
            status["partitions"] = [
                {"table": p.parent, "name": p.name, "from": _iso(p.lower), "to": _iso(p.upper)}
                for p in list_partitions(conn, settings.schema)
            ]
            status["retention"] = {
                level: (f"{value.total_seconds() / 86400:g} days" if value is not None else "forever")
                for level, value in vars(settings.retention).items()
            }
        return status
