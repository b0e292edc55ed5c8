"""`db status`: applied and pending migrations, flavor, extension version, policies and their last runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.flavor import MIN_SERVER_VERSION
from georchestra_analytics.db.migrate import MIGRATIONS_TABLE, applied_migrations
from georchestra_analytics.db.migrations import REPEATABLE_TEMPLATES, versioned_migrations
from georchestra_analytics.db.partitions import list_partitions
from georchestra_analytics.db.settings import DatabaseSettings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _timescale_jobs(conn: psycopg.Connection[Any], schema: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT j.job_id, j.proc_name, j.hypertable_name, j.config, j.schedule_interval::text,
               s.last_run_started_at, s.last_run_status, s.next_start, s.total_runs, s.total_failures
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        WHERE j.hypertable_schema = %s
        ORDER BY j.hypertable_name, j.proc_name
        """,
        (schema,),
    ).fetchall()
    return [
        {
            "job_id": row[0], "policy": row[1], "relation": row[2], "config": row[3], "schedule": row[4],
            "last_run": _iso(row[5]), "last_status": row[6], "next_run": _iso(row[7]), "runs": row[8],
            "failures": row[9],
        }
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
