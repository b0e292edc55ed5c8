"""The parse job refreshes the hourly continuous aggregates behind its drain (parser/refresh_alongside.py): the
hours every batch has moved past are materialised while it runs, completely, and a record arriving later for an
hour already refreshed still counts once the run's final refresh is done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from tests.support.accesslogs import gateway_row

from georchestra_analytics.db.aggregates import storage_name
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_worker, run_workers
from georchestra_analytics.parser.settings import ParserSettings

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
HOURS = 10


def _backlog(straggler: bool) -> list[dict[str, Any]]:
    """A request every two minutes for ten hours, in time order as a backlog drains; optionally one more for the
    first hour at the very end (a line logged late)."""
    rows = [
        gateway_row(
            f"/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:roads&n={n}", ts=START + timedelta(minutes=2 * n)
        )
        for n in range(HOURS * 30)
    ]
    if straggler:
        rows.append(
            gateway_row("/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:late", ts=START + timedelta(minutes=7))
        )
    return rows


def _load(dsn: str, rows: list[dict[str, Any]]) -> None:
    migrate(dsn, DatabaseSettings(flavor="timescaledb"))
    with psycopg.connect(dsn) as conn:
        insert_buffer_rows(conn, "analytics", rows)
        conn.commit()


def _materialised_per_hour(conn: psycopg.Connection[Any]) -> dict[datetime, int]:
    view = sql.Identifier("analytics", storage_name("usage", "hourly"))
    # Only what a refresh materialised: real-time aggregation would otherwise add the raw rows on the fly.
    conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(view))
    rows = conn.execute(sql.SQL("SELECT bucket, sum(requests)::int FROM {} GROUP BY 1").format(view)).fetchall()
    return {bucket.astimezone(UTC): count for bucket, count in rows}


def _raw_per_hour(conn: psycopg.Connection[Any]) -> dict[datetime, int]:
    rows = conn.execute(
        "SELECT date_trunc('hour', ts, 'UTC'), count(*)::int FROM analytics.access_logs GROUP BY 1"
    ).fetchall()
    return {hour.astimezone(UTC): count for hour, count in rows}


def test_the_hours_behind_the_drain_are_materialised_while_it_runs(timescale_dsn: str) -> None:
    _load(timescale_dsn, _backlog(straggler=False))

    # One worker's drain alone: the run's final refresh (run_workers) is not part of it.
    summary = run_worker(timescale_dsn, ParserSettings(batch_size=20, connections=1))

    assert summary.written == HOURS * 30
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        materialised, raw = _materialised_per_hour(conn), _raw_per_hour(conn)
    assert START in materialised, "the first hour was settled long before the drain ended"
    assert START + timedelta(hours=HOURS - 1) not in materialised, "the last hour is left to the final refresh"
    assert {hour: raw[hour] for hour in materialised} == materialised, "a refreshed hour holds all its records"


def test_a_late_record_for_a_refreshed_hour_counts_after_the_run(timescale_dsn: str) -> None:
    _load(timescale_dsn, _backlog(straggler=True))

    summary = run_workers(timescale_dsn, ParserSettings(batch_size=20, connections=1))

    assert summary.written == HOURS * 30 + 1
    assert summary.aggregates_refreshed is True
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        materialised, raw = _materialised_per_hour(conn), _raw_per_hour(conn)
    assert materialised == raw
    assert materialised[START] == 31
