"""The real parse job logged in as the parser role on the timescaledb flavor (hypertable, continuous
aggregates): it drains the buffer the collector role fed, refreshes the aggregates over what it wrote (a refresh
it may not do would only be a warning, so the summary is checked), and the dashboards role reads the result.
Skips, saying why, where the timescaledb extension is missing."""

from __future__ import annotations

from collections import Counter

import psycopg
from tests.support.accesslogs import mixed_backlog
from tests.support.analytics_db import utc
from tests.support.role_logins import migrated_with_roles

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "usage_ts_roles"


def test_parse_job_and_its_refresh_run_as_the_parser_role(timescale_dsn: str) -> None:
    role_dsn = migrated_with_roles(timescale_dsn, DatabaseSettings(schema=SCHEMA, flavor="timescaledb"))
    rows = list(mixed_backlog(600, seed=5, start=utc(2026, 3, 30)))
    with psycopg.connect(role_dsn("collector")) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, rows)
    settings = ParserSettings(schema=SCHEMA, batch_size=100)
    summary = run_workers(role_dsn("parser"), settings)  # what `georchestra-analytics parse` runs
    pipeline = Pipeline(settings)
    results = [pipeline.parse_row(row) for row in rows]
    records = [result for result in results if not isinstance(result, Reject)]
    expected_written = len({(record["ts"], record["id"]) for record in records})
    assert summary.claimed == len(rows)
    assert summary.written == expected_written
    assert summary.rejected == Counter(result.reason for result in results if isinstance(result, Reject))
    assert summary.aggregates_refreshed is True
    with psycopg.connect(role_dsn("dashboards")) as conn:
        total = conn.execute(f"SELECT sum(requests) FROM {SCHEMA}.usage_monthly").fetchone()
    assert total == (expected_written,)
