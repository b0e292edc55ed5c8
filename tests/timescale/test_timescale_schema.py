"""The timescaledb flavor: continuous aggregates equal raw GROUP BYs, policies reconciled, unsafe retention refused.

Skips, saying why, where the timescaledb extension is missing (the `timescale_dsn` fixture).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.support.analytics_db import (
    aggregate_rows,
    assert_percentiles_within_one_bucket,
    catalog_snapshot,
    chunks,
    direct_rows,
    random_records,
    utc,
)

from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS, FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.guard import UnsafeConfiguration
from georchestra_analytics.db.legacy_schema import COMPAT_AGGREGATES
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.migrations import versioned_migrations
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings, Refresh, RefreshWindow, Retention
from georchestra_analytics.db.status import database_status
from georchestra_analytics.db.writer import write_records

SETTINGS = DatabaseSettings(flavor="timescaledb", time_zone="Europe/Paris")
HOSTILE_SCHEMA = 'ts"data; DROP SCHEMA public; --'


def _jobs(dsn: str, schema: str) -> dict[tuple[str, str], tuple[int, dict[str, object]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT proc_name, hypertable_name, job_id, config FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = %s",
            (schema,),
        ).fetchall()
    return {(row[0], row[1]): (row[2], row[3]) for row in rows}


def _write_and_refresh(dsn: str, schema: str, records: list[dict[str, object]], batch: int = 400) -> None:
    with psycopg.connect(dsn) as conn:
        for part in chunks(records, batch):
            with conn.transaction():
                write_records(conn, schema, part)
            times = [datetime.fromisoformat(str(record["ts"])) for record in part]
            refresh_aggregates(dsn, min(times), max(times), schema=schema)


def test_migrate_from_empty_then_twice_changes_nothing(timescale_dsn: str) -> None:
    first = migrate(timescale_dsn, SETTINGS)
    assert first.applied == [m.version for m in versioned_migrations("timescaledb")]
    assert first.server is not None and first.server.extension_version
    with psycopg.connect(timescale_dsn) as conn:
        before = catalog_snapshot(conn, "analytics")
        hypertables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = 'analytics'"
        ).fetchall()
        caggs = conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'analytics'"
        ).fetchall()
    assert {row[0] for row in hypertables} == {"access_logs", "access_log_layers"}
    assert len(caggs) == len(FAMILIES) * len(LEVELS) + len(COMPAT_AGGREGATES)  # and 2.x's grain
    assert set(DASHBOARD_VIEWS) <= {row[0] for row in before["views"]}
    second = migrate(timescale_dsn, SETTINGS)
    with psycopg.connect(timescale_dsn) as conn:
        after = catalog_snapshot(conn, "analytics")
    assert not second.changed, second.lines()
    assert after == before
    status = database_status(timescale_dsn, SETTINGS)
    assert status["pending"] == [] and status["timescaledb_version"]
    listed = {(job["policy"], job["relation"]) for job in status["policies"]}
    assert {(row[1], row[2] or "rejected_logs") for row in before["jobs"]} == listed
    assert all("last_run" in job and "next_run" in job for job in status["policies"])


@pytest.mark.parametrize("schema", ["analytics", HOSTILE_SCHEMA])
def test_continuous_aggregates_equal_a_direct_group_by(timescale_dsn: str, schema: str) -> None:
    settings = SETTINGS.with_changes(schema=schema)
    migrate(timescale_dsn, settings)
    # Over the March DST change; then late records for days already refreshed.
    records = random_records(31, 2_400, utc(2026, 3, 20), timedelta(days=20))
    late = random_records(32, 300, utc(2026, 3, 24), timedelta(days=5))
    _write_and_refresh(timescale_dsn, schema, records)
    _write_and_refresh(timescale_dsn, schema, records[:400])  # a replayed batch
    _write_and_refresh(timescale_dsn, schema, late)
    with psycopg.connect(timescale_dsn) as conn:
        for family in FAMILIES:
            for level in LEVELS:
                stored = aggregate_rows(conn, schema, family, level)
                assert stored, f"{family} {level} is empty"
                assert stored == direct_rows(conn, schema, family, level, settings.time_zone), f"{family} {level}"


def test_percentiles_within_one_bucket_of_exact(timescale_dsn: str) -> None:
    migrate(timescale_dsn, SETTINGS)
    _write_and_refresh(timescale_dsn, "analytics", random_records(33, 3_000, utc(2026, 1, 1), timedelta(days=60)))
    with psycopg.connect(timescale_dsn) as conn:
        assert_percentiles_within_one_bucket(conn, "time_bucket('1 month', ts, 'Europe/Paris')")


def test_policies_are_reconciled_in_place(timescale_dsn: str) -> None:
    migrate(timescale_dsn, SETTINGS)
    initial = _jobs(timescale_dsn, "analytics")
    raw_job, _ = initial[("policy_retention", "access_logs")]
    hourly_refresh, _ = initial[("policy_refresh_continuous_aggregate", "agg_usage_hourly")]
    assert ("policy_compression", "access_logs") in initial

    # Change: the same jobs, new values.
    changed = SETTINGS.with_changes(
        retention=Retention(raw=timedelta(days=500), hourly=timedelta(days=730), daily=timedelta(days=1825)),
        refresh=Refresh(hourly=RefreshWindow(timedelta(days=5), timedelta(hours=2), timedelta(minutes=30))),
    )
    report = migrate(timescale_dsn, changed)
    assert any(f"altered job {raw_job}" in action for action in report.policy_actions)
    jobs = _jobs(timescale_dsn, "analytics")
    assert len(jobs) == len(initial)
    with psycopg.connect(timescale_dsn) as conn:
        check = conn.execute(
            "SELECT (config->>'drop_after')::interval = interval '500 days' FROM timescaledb_information.jobs"
            " WHERE job_id = %s",
            (raw_job,),
        ).fetchone()
        refresh = conn.execute(
            "SELECT (config->>'start_offset')::interval = interval '5 days',"
            " (config->>'end_offset')::interval = interval '2 hours', schedule_interval = interval '30 minutes'"
            " FROM timescaledb_information.jobs WHERE job_id = %s",
            (hourly_refresh,),
        ).fetchone()
    assert check == (True,)
    assert refresh == (True, True, True)
    assert jobs[("policy_retention", "access_logs")][0] == raw_job

    # Remove: hourly retention and compression off; their jobs go, nothing else changes.
    removed = changed.with_changes(
        retention=Retention(raw=timedelta(days=500), hourly=None, daily=timedelta(days=1825)), compress_after=None
    )
    migrate(timescale_dsn, removed)
    after_removal = _jobs(timescale_dsn, "analytics")
    gone = set(jobs) - set(after_removal)
    assert gone == {("policy_retention", storage_name(family, "hourly")) for family in FAMILIES} | {
        ("policy_compression", "access_logs"),
        ("policy_compression", "access_log_layers"),
    }
    assert not migrate(timescale_dsn, removed).changed

    # Add back: new jobs appear for exactly those.
    migrate(timescale_dsn, changed)
    restored = _jobs(timescale_dsn, "analytics")
    assert set(restored) == set(jobs)
    assert restored[("policy_retention", "access_logs")][0] == raw_job


def test_raw_retention_shorter_than_a_refresh_window_is_refused(timescale_dsn: str) -> None:
    migrate(timescale_dsn, SETTINGS)
    before = _jobs(timescale_dsn, "analytics")
    unsafe = SETTINGS.with_changes(retention=Retention(raw=timedelta(days=2)))
    with pytest.raises(UnsafeConfiguration, match=r"raw retention \(2 days\) .* hourly aggregate's refresh window"):
        migrate(timescale_dsn, unsafe)
    assert _jobs(timescale_dsn, "analytics") == before


def test_roles_on_timescaledb(timescale_dsn: str) -> None:
    settings = SETTINGS.with_changes(schema="ts_roles")
    passwords = {"parser": "parser-secret", "dashboards": "dashboards-secret"}
    migrate(timescale_dsn, settings, passwords=passwords)
    parser = make_conninfo(timescale_dsn, user=settings.roles.parser, password=passwords["parser"])
    dashboards = make_conninfo(timescale_dsn, user=settings.roles.dashboards, password=passwords["dashboards"])
    records = random_records(34, 100, utc(2026, 2, 1), timedelta(days=40))
    with psycopg.connect(parser) as conn, conn.transaction():
        assert write_records(conn, "ts_roles", records) == 100  # new chunks, as the parse job
    refresh_aggregates(parser, utc(2026, 2, 1), utc(2026, 3, 13), schema="ts_roles")  # as the parse job
    with psycopg.connect(dashboards) as conn:
        total = conn.execute("SELECT sum(requests) FROM ts_roles.usage_monthly").fetchone()
        for table in ("access_logs", "otel_buffer", "agg_usage_hourly"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(f"SELECT 1 FROM ts_roles.{table}")  # type: ignore[arg-type]
    assert total == (100,)
