"""postgresql flavor: partitions of `partitionInterval` made ahead and on demand, only for the periods a batch
holds; a changed interval fills what existing partitions leave; retention drops expired partitions."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from tests.support.analytics_db import random_records, utc
from tests.support.older_families import families_before

from georchestra_analytics.cli import cli
from georchestra_analytics.db import migrate as migrate_module
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.migrations import versioned_migrations
from georchestra_analytics.db.partitions import Partition, apply_retention, list_partitions
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.writer import write_records

NOW = utc(2026, 11, 27, 20, 0)  # a Friday
WEEK_START = utc(2026, 11, 23)  # its Monday
SETTINGS = DatabaseSettings(flavor="postgresql", retention=Retention(raw=timedelta(days=400)))


def _count(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _of(conn: psycopg.Connection, parent: str = "access_logs") -> list[Partition]:
    return [p for p in list_partitions(conn, "analytics") if p.parent == parent]


def _assert_tiled(partitions: list[Partition]) -> None:
    """No overlap between partitions (PostgreSQL would refuse it anyway: this checks what list_partitions reads)."""
    ordered = sorted(partitions, key=lambda p: p.lower)
    assert all(a.upper <= b.lower for a, b in itertools.pairwise(ordered))


def test_migrate_makes_weekly_partitions_ahead_by_default(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    with psycopg.connect(pg_dsn) as conn:
        made = list_partitions(conn, "analytics")
        recorded = conn.execute("SELECT value FROM analytics.settings WHERE key = 'partition_interval'").fetchone()
    weeks = sorted(p.lower for p in made if p.parent == "access_logs")
    assert weeks == [WEEK_START + timedelta(weeks=n) for n in range(1 + SETTINGS.partitions_ahead)]
    assert all(p.upper - p.lower == timedelta(days=7) for p in made)
    assert {p.parent for p in made} == {"access_logs", "access_log_layers"}
    assert "access_logs_p20261123" in {p.name for p in made}
    assert recorded == ("604800 seconds",)


def test_daily_partitions_only_for_the_days_a_batch_holds(pg_dsn: str) -> None:
    settings = SETTINGS.with_changes(chunk_interval=timedelta(days=1))
    migrate(pg_dsn, settings, now=NOW)
    records = [
        *random_records(21, 20, utc(2021, 3, 4, 1), timedelta(hours=20)),
        *random_records(22, 20, utc(2024, 7, 9, 3), timedelta(hours=20)),
    ]
    with psycopg.connect(pg_dsn) as conn:
        before = {p.name for p in _of(conn)}
        with conn.transaction():
            write_records(conn, "analytics", records)
        new = [p for p in _of(conn) if p.name not in before]
        in_default = _count(conn, "SELECT count(*) FROM analytics.access_logs_default")
        layers = {p.name for p in _of(conn, "access_log_layers")}
    assert sorted((p.lower, p.upper) for p in new) == [
        (utc(2021, 3, 4), utc(2021, 3, 5)),
        (utc(2024, 7, 9), utc(2024, 7, 10)),
    ]
    assert in_default == 0
    assert {"access_log_layers_p20210304", "access_log_layers_p20240709"} <= layers


def test_records_outside_the_partitions_get_one_and_leave_the_default(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    records = random_records(11, 200, utc(2024, 2, 10), timedelta(days=90))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", records)
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs") == 200
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
        # A row already in the DEFAULT partition moves into the partition made for its week (Monday 2024-03-04).
        conn.execute("ALTER TABLE analytics.access_logs DETACH PARTITION analytics.access_logs_p20240304")
        conn.execute("INSERT INTO analytics.access_logs SELECT * FROM analytics.access_logs_p20240304 LIMIT 5")
        conn.execute("DROP TABLE analytics.access_logs_p20240304")
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 5
        assert _count(conn, "SELECT analytics.ensure_partitions('2024-03-05', '2024-03-06')") == 1
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_p20240304") == 5


def test_a_changed_interval_fills_what_older_partitions_leave(pg_dsn: str) -> None:
    """A schema with monthly partitions (made before the interval was honoured) or another interval: new
    partitions follow the configured interval, clipped to the old ones, so no record lands in DEFAULT."""
    migrate(pg_dsn, SETTINGS, now=NOW)
    with psycopg.connect(pg_dsn) as conn:
        for parent in ("access_logs", "access_log_layers"):  # a calendar month, as older versions made them
            conn.execute(
                f"CREATE TABLE analytics.{parent}_p2026_03 PARTITION OF analytics.{parent}"
                " FOR VALUES FROM ('2026-03-01 00:00+00') TO ('2026-04-01 00:00+00')"
            )
        conn.commit()
        # Weekly: the week of Monday 2026-03-30 begins inside the month partition.
        records = random_records(31, 300, utc(2026, 2, 20), timedelta(days=50))
        with conn.transaction():
            write_records(conn, "analytics", records)
        weekly = _of(conn)
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
    _assert_tiled(weekly)
    bounds = {(p.lower, p.upper) for p in weekly}
    assert (utc(2026, 2, 23), utc(2026, 3, 1)) in bounds  # the week before the month, clipped at its start
    assert (utc(2026, 4, 1), utc(2026, 4, 6)) in bounds  # the week it ends in, clipped at its end
    assert (utc(2026, 4, 6), utc(2026, 4, 13)) in bounds
    # Then daily: the next migrate records it, and partitions ahead follow it after the weekly ones.
    daily = SETTINGS.with_changes(chunk_interval=timedelta(days=1))
    report = migrate(pg_dsn, daily, now=NOW)
    assert "changed partition_interval from 604800 seconds to 86400 seconds" in report.lines()
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            write_records(conn, "analytics", random_records(32, 50, utc(2026, 4, 12), timedelta(days=4)))
        after = _of(conn)
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
    _assert_tiled(after)
    new = sorted((p.lower, p.upper) for p in after if p not in weekly)
    assert new[:2] == [(utc(2026, 4, 13), utc(2026, 4, 14)), (utc(2026, 4, 14), utc(2026, 4, 15))]
    assert all(upper - lower == timedelta(days=1) for lower, upper in new)
    assert not migrate(pg_dsn, daily, now=NOW).changed


def test_retention_drops_exactly_the_expired_partitions(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS, now=NOW)
    # Two and a half years of records, every week partitioned.
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


def test_partitions_shorter_than_a_day_are_refused_saying_why(pg_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1d on the postgresql flavor"):
        SETTINGS.with_changes(chunk_interval=timedelta(hours=6))
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "apiVersion: analytics.georchestra.org/v1alpha1\nkind: AnalyticsStack\n"
        "metadata: {name: analytics, namespace: georchestra}\n"
        "spec:\n  database: {flavor: postgresql, partitionInterval: 12h, managed: {}}\n"
    )
    result = CliRunner().invoke(cli, ["db", "migrate", "--dsn", pg_dsn, "-f", str(stack)])
    assert result.exit_code == 2
    assert "partitionInterval must be at least 1d on the postgresql flavor" in result.output
    with psycopg.connect(pg_dsn) as conn:  # refused before anything was created
        assert conn.execute("SELECT to_regnamespace('analytics')").fetchone() == (None,)


def test_upgrade_from_monthly_partitions(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema migrated before 0005 (monthly partitions made ahead by the old ensure_partitions) takes the
    new function in place: the parse job keeps its right to call it, and new partitions follow the interval."""
    newest = versioned_migrations("postgresql")
    monkeypatch.setattr(
        migrate_module, "versioned_migrations", lambda flavor: [m for m in newest if m.version < "0005"]
    )
    families_before(monkeypatch, "0005")
    migrate(pg_dsn, SETTINGS, now=NOW)
    with psycopg.connect(pg_dsn) as conn:
        monthly = _of(conn)
    assert [p.name for p in monthly][:2] == ["access_logs_p2026_11", "access_logs_p2026_12"]
    monkeypatch.undo()
    report = migrate(pg_dsn, SETTINGS, now=NOW)
    assert report.applied == [m.version for m in newest if m.version >= "0005"]  # 0005 and the later ones
    assert not migrate(pg_dsn, SETTINGS, now=NOW).changed
    with psycopg.connect(pg_dsn) as conn:
        allowed = conn.execute(
            "SELECT has_function_privilege('analytics_parser', 'analytics.ensure_partitions(timestamptz,timestamptz)',"
            " 'EXECUTE')"
        ).fetchone()
        end = max(p.upper for p in monthly)
        with conn.transaction():
            write_records(conn, "analytics", random_records(41, 100, end - timedelta(days=3), timedelta(days=10)))
        after = _of(conn)
        assert _count(conn, "SELECT count(*) FROM analytics.access_logs_default") == 0
    assert allowed == (True,)
    _assert_tiled(after)
    assert {p.name for p in monthly} <= {p.name for p in after}
    new = sorted((p for p in after if p not in monthly), key=lambda p: p.lower)
    assert new and new[0].lower == end and all(p.upper - p.lower <= timedelta(days=7) for p in new)
