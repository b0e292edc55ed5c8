"""postgresql flavor: monthly partitions made ahead and on demand, retention by dropping expired partitions."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from tests.support.analytics_db import random_records, utc

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.partitions import apply_retention, list_partitions
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.writer import write_records

NOW = utc(2026, 11, 27, 20, 0)
SETTINGS = DatabaseSettings(flavor="postgresql", retention=Retention(raw=timedelta(days=400)))


def _count(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_migrate_makes_partitions_ahead(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    with psycopg.connect(pg_dsn) as conn:
        made = list_partitions(conn, "analytics")
    months = sorted({p.lower for p in made if p.parent == "access_logs"})
    assert months[0] <= NOW < made[0].upper
    assert len(months) == 1 + SETTINGS.partitions_ahead
    assert {p.parent for p in made} == {"access_logs", "access_log_layers"}


def test_records_outside_the_partitions_get_one_and_leave_the_default(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    records = random_records(11, 200, utc(2024, 2, 10), timedelta(days=90))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", records)
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs") == 200
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
        # A row already in the DEFAULT partition moves into the partition made for its month.
        conn.execute("ALTER TABLE analytics.access_logs DETACH PARTITION analytics.access_logs_p2024_03")
        conn.execute("INSERT INTO analytics.access_logs SELECT * FROM analytics.access_logs_p2024_03 LIMIT 5")
        conn.execute("DROP TABLE analytics.access_logs_p2024_03")
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 5
        assert _count(conn, "SELECT analytics.ensure_partitions('2024-03-05', '2024-03-06')") == 1
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_p2024_03") == 5


def test_retention_drops_exactly_the_expired_partitions(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    # Two and a half years of records, every month partitioned.
    records = random_records(12, 1_500, utc(2024, 5, 1), timedelta(days=900))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", records)
        before = list_partitions(conn, "analytics")
        cutoff = NOW - SETTINGS.retention.raw  # type: ignore[operator]
        expired = {p.name for p in before if p.upper <= cutoff}
        first_kept = min(p.lower for p in before if p.name not in expired)
        row = conn.execute("SELECT count(*) FROM analytics.access_logs WHERE ts >= %s", (first_kept,)).fetchone()
        kept_rows = row[0] if row else None
        with conn.transaction():
            actions = apply_retention(conn, SETTINGS, NOW)
        after = list_partitions(conn, "analytics")
        remaining_rows = _count(conn, "SELECT count(*) FROM analytics.access_logs")
        oldest = conn.execute("SELECT min(ts) FROM analytics.access_logs").fetchone()
    assert expired  # the data reaches far enough back for retention to act
    assert {p.name for p in before} - {p.name for p in after} == expired
    assert all(p.upper > cutoff for p in after)
    assert sorted(a.removeprefix("dropped expired partition ") for a in actions if a.startswith("dropped")) == sorted(
        expired
    )
    assert remaining_rows == kept_rows
    assert oldest is not None and oldest[0] >= min(p.lower for p in after)


def test_retention_deletes_expired_rollup_rows_only(pg_dsn: str) -> None:
    settings = SETTINGS.with_changes(retention=Retention(raw=None, hourly=timedelta(days=30), daily=None, monthly=None))
    migrate(pg_dsn, settings, now=NOW)
    records = random_records(13, 300, NOW - timedelta(days=60), timedelta(days=59))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", records)
        daily_before = _count(conn, "SELECT sum(requests) FROM analytics.usage_daily")
        with conn.transaction():
            apply_retention(conn, settings, NOW)
        oldest_hour = conn.execute("SELECT min(bucket) FROM analytics.usage_hourly").fetchone()
        daily_after = _count(conn, "SELECT sum(requests) FROM analytics.usage_daily")
        raw = _count(conn, "SELECT count(*) FROM analytics.access_logs")
    assert oldest_hour is not None and oldest_hour[0] >= NOW - timedelta(days=30)
    assert daily_after == daily_before == raw == 300
