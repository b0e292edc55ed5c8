"""After a run, the parse job refreshes the continuous aggregates over the span it wrote (timescaledb flavor),
so the materialised aggregates hold the new records without waiting for a refresh policy."""

from __future__ import annotations

import psycopg
from psycopg import sql
from tests.support.accesslogs import mixed_backlog

from georchestra_analytics.db.aggregates import LEVELS, storage_name
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.settings import ParserSettings


def _materialised_requests(conn: psycopg.Connection[tuple[int]], level: str) -> int:
    view = sql.Identifier("analytics", storage_name("usage", level))
    # Only what a refresh materialised: without this, real-time aggregation would add the raw rows on the fly.
    conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(view))
    row = conn.execute(sql.SQL("SELECT coalesce(sum(requests), 0)::bigint FROM {}").format(view)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_parse_run_materialises_what_it_wrote(timescale_dsn: str) -> None:
    migrate(timescale_dsn, DatabaseSettings(flavor="timescaledb"))
    with psycopg.connect(timescale_dsn) as conn:
        insert_buffer_rows(conn, "analytics", mixed_backlog(300, seed=11))
        conn.commit()

    summary = run_workers(timescale_dsn, ParserSettings(batch_size=100))

    assert summary.written > 0
    assert summary.aggregates_refreshed is True
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        for level in LEVELS:
            assert _materialised_requests(conn, level) == summary.written, level
