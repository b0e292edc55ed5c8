"""Migration 0013 drops the raw hypertables' default (ts DESC) index, which their unique key starting with ts
makes redundant, from the hypertables and every chunk, compressed history included; the parse job then writes
and the records read back by time as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tests.support.accesslogs import gateway_row
from tests.support.older_families import compress_every_chunk, migrate_as_before

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.settings import ParserSettings

NEW = "0013_one_time_index"
OLD_TS = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
TIME_INDEXES = (
    "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%access_logs_ts_idx'"
    " OR indexname LIKE '%%access_log_layers_ts_idx'"
)


def _count(conn: psycopg.Connection[tuple[int]], query: str, *params: object) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def test_0013_drops_the_duplicate_time_index_from_compressed_history(
    timescale_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = DatabaseSettings(flavor="timescaledb")
    migrate_as_before(timescale_dsn, settings, NEW, monkeypatch)
    with psycopg.connect(timescale_dsn) as conn:
        insert_buffer_rows(conn, "analytics", [gateway_row("/geoserver/wms?SERVICE=WMS&REQUEST=GetMap", ts=OLD_TS)])
        conn.commit()
    assert run_workers(timescale_dsn, ParserSettings()).written == 1
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert compress_every_chunk(conn) == 1
        assert _count(conn, TIME_INDEXES) >= 2  # the hypertables' own, and their chunks'

    report = migrate(timescale_dsn, settings)

    assert report.applied[0] == NEW
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        assert _count(conn, TIME_INDEXES) == 0
        unique_keys = (
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'analytics' AND indexname LIKE '%%_ts_id%%key'"
        )
        assert _count(conn, unique_keys) == 2
    with psycopg.connect(timescale_dsn) as conn:
        rows = [
            gateway_row(f"/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&n={n}", ts=OLD_TS + timedelta(minutes=n))
            for n in range(3)
        ]
        insert_buffer_rows(conn, "analytics", rows)
        conn.commit()
    assert run_workers(timescale_dsn, ParserSettings()).written == 3
    with psycopg.connect(timescale_dsn) as conn:
        in_range = "SELECT count(*) FROM analytics.access_logs WHERE ts >= %s AND ts < %s"
        assert _count(conn, in_range, OLD_TS, OLD_TS + timedelta(hours=1)) == 4
