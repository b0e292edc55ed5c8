"""The real parse job logged in as the parser role (postgresql flavor: partitions and rollups maintained by the
job), fed by the collector role, read by the dashboards role: the chain works with least privilege only."""

from __future__ import annotations

from collections import Counter

import psycopg
from tests.support.accesslogs import mixed_backlog
from tests.support.analytics_db import utc
from tests.support.role_logins import migrated_with_roles

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "usage_parse_roles"


def test_parse_job_runs_as_the_parser_role_on_postgresql(pg_dsn: str) -> None:
    role_dsn = migrated_with_roles(pg_dsn, DatabaseSettings(schema=SCHEMA, flavor="postgresql"))
    # Far-future timestamps: months without a partition yet, so the job must be allowed to create them.
    rows = list(mixed_backlog(600, seed=3, start=utc(2033, 5, 30)))
    with psycopg.connect(role_dsn("collector")) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, rows)
    settings = ParserSettings(schema=SCHEMA, batch_size=100, connections=1)
    summary = run_worker(role_dsn("parser"), settings)
    pipeline = Pipeline(settings)
    results = [pipeline.parse_row(row) for row in rows]
    expected_written = len({(r["ts"], r["id"]) for r in results if not isinstance(r, Reject)})
    expected_rejects = Counter(r.reason for r in results if isinstance(r, Reject))
    assert summary.claimed == len(rows)
    assert summary.written == expected_written
    assert summary.rejected == expected_rejects
    with psycopg.connect(pg_dsn) as conn:  # the owner checks what the parser role stored
        stored = conn.execute(f"SELECT count(*) FROM {SCHEMA}.access_logs").fetchone()
        left = conn.execute(f"SELECT count(*) FROM {SCHEMA}.otel_buffer").fetchone()
    assert (stored, left) == ((expected_written,), (0,))
    with psycopg.connect(role_dsn("dashboards")) as conn:  # the rollups the job maintained, as Superset sees them
        total = conn.execute(f"SELECT sum(requests) FROM {SCHEMA}.usage_monthly").fetchone()
    assert total == (expected_written,)


def test_two_lanes_create_new_partitions_as_the_parser_role(pg_dsn: str) -> None:
    role_dsn = migrated_with_roles(pg_dsn, DatabaseSettings(schema=SCHEMA, flavor="postgresql"))
    rows = list(mixed_backlog(600, seed=3, start=utc(2033, 5, 30)))
    with psycopg.connect(role_dsn("collector")) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, rows)
    summary = run_worker(role_dsn("parser"), ParserSettings(schema=SCHEMA, batch_size=100, connections=2))
    assert summary.claimed == len(rows)
