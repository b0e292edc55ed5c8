"""The write path the parse job uses: records, layer rows, rollups (postgresql flavor) and rejects."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from tests.support.analytics_db import (
    aggregate_rows,
    assert_percentiles_within_one_bucket,
    chunks,
    direct_rows,
    random_records,
    utc,
)

from georchestra_analytics.db.aggregates import FAMILIES, LEVELS
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.writer import InvalidRecord, Reject, write_records, write_rejects

SETTINGS = DatabaseSettings(flavor="postgresql", time_zone="Europe/Paris")


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("analytics", table))).fetchone()
    assert row is not None
    return int(row[0])


def test_replayed_batch_counts_nothing_twice(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    records = random_records(1, 300, utc(2026, 3, 1), timedelta(days=40))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            first = write_records(conn, "analytics", records)
        hourly_before = aggregate_rows(conn, "analytics", "usage", "hourly")
        with conn.transaction():
            again = write_records(conn, "analytics", records[:150] + records)  # replay, with duplicates inside
        assert (first, again) == (300, 0)
        assert _count(conn, "access_logs") == 300
        assert aggregate_rows(conn, "analytics", "usage", "hourly") == hourly_before


def test_each_named_layer_gets_one_row(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    record = random_records(2, 1, utc(2026, 5, 1), timedelta(hours=1))[0]
    record.update(service="WMS", request="getmap", layers=["topp:states", "roads", "topp:states", "ne:rivers"])
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", [record])
        rows = conn.execute("SELECT layer, workspace FROM analytics.access_log_layers ORDER BY layer").fetchall()
        per_layer = conn.execute("SELECT layer, requests FROM analytics.layer_usage_daily ORDER BY layer").fetchall()
    assert rows == [("ne:rivers", "ne"), ("roads", None), ("topp:states", "topp")]
    assert per_layer == [("ne:rivers", 1), ("roads", 1), ("topp:states", 1)]


@pytest.mark.parametrize("time_zone", ["Europe/Paris", "America/St_Johns"])
def test_rollups_equal_a_direct_group_by(pg_dsn: str, time_zone: str) -> None:
    settings = SETTINGS.with_changes(time_zone=time_zone)
    migrate(pg_dsn, settings)
    # Over a DST change, in batches, with a replayed batch in the middle.
    records = random_records(3, 2_000, utc(2026, 3, 20), timedelta(days=20))
    with psycopg.connect(pg_dsn) as conn:
        batches = list(chunks(records, 250))
        for batch in [*batches[:3], batches[1], *batches[3:]]:
            with conn.transaction():
                write_records(conn, "analytics", batch)
        for family in FAMILIES:
            for level in LEVELS:
                stored = aggregate_rows(conn, "analytics", family, level)
                direct = direct_rows(conn, "analytics", family, level, time_zone)
                assert stored, f"{family} {level} is empty"
                assert stored == direct, f"{family} {level} differs from a GROUP BY over raw records"
        assert _count(conn, "access_logs") == len(records)


def test_percentiles_within_one_bucket_of_exact(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    records = random_records(4, 3_000, utc(2026, 1, 1), timedelta(days=60))
    with psycopg.connect(pg_dsn) as conn:
        for batch in chunks(records, 500):
            with conn.transaction():
                write_records(conn, "analytics", batch)
        assert_percentiles_within_one_bucket(conn, "date_trunc('month', ts, 'Europe/Paris')")


def test_invalid_record_is_refused_with_its_reason(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    record = random_records(5, 1, utc(2026, 1, 1), timedelta(hours=1))[0]
    with psycopg.connect(pg_dsn) as conn:
        with pytest.raises(InvalidRecord, match=r"record 0 .*status is not a smallint"), conn.transaction():
            write_records(conn, "analytics", [{**record, "status": 99999}])
        with pytest.raises(InvalidRecord, match="unknown keys"), conn.transaction():
            write_records(conn, "analytics", [{**record, "colour": "red"}])


def test_rejects_are_kept_with_reason_and_raw(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            written = write_rejects(
                conn,
                "analytics",
                [Reject("no timestamp", {"message": "GET 200 /x"}, "otel"), {"reason": "bad line", "raw": "x\ty"}],
            )
        rows = conn.execute("SELECT reason, raw, source FROM analytics.rejected_logs ORDER BY reason").fetchall()
    assert written == 2
    assert rows == [("bad line", "x\ty", None), ("no timestamp", {"message": "GET 200 /x"}, "otel")]


def test_refresh_is_a_no_op_on_postgresql(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    assert refresh_aggregates(pg_dsn, utc(2026, 1, 1), utc(2026, 1, 2)) == []
    with pytest.raises(ValueError, match="ends"):
        refresh_aggregates(pg_dsn, utc(2026, 1, 2), utc(2026, 1, 1))
