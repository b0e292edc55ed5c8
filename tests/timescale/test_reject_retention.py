"""timescaledb flavor: a TimescaleDB job prunes rejected_logs after `retention.raw` (reconciled by `db migrate`,
listed by `db status` with the reject counts), and the raw tables' chunk interval follows partitionInterval.

Skips, saying why, where the timescaledb extension is missing (the `timescale_dsn` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from tests.support.analytics_db import catalog_snapshot
from tests.support.rejects import AGED_REJECTS, insert_aged_rejects, reject_ages

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.status import database_status

SETTINGS = DatabaseSettings(flavor="timescaledb", retention=Retention(raw=timedelta(days=400)))


def _prune_jobs(conn: psycopg.Connection) -> list[tuple[int, dict[str, str]]]:
    return [
        (row[0], row[1])
        for row in conn.execute(
            "SELECT job_id, config FROM timescaledb_information.jobs"
            " WHERE proc_schema = 'analytics' AND proc_name = 'prune_rejected_logs'"
        )
    ]


def test_a_job_prunes_rejects_older_than_the_raw_retention(timescale_dsn: str) -> None:
    first = migrate(timescale_dsn, SETTINGS)
    assert any("retention of rejected_logs (drop_after=34560000 seconds)" in line for line in first.lines())
    now = datetime.now(UTC)
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        jobs = _prune_jobs(conn)
        assert [config for _, config in jobs] == [{"drop_after": "34560000 seconds"}]
        before = catalog_snapshot(conn, "analytics")
        insert_aged_rejects(conn, "analytics", now)
        conn.execute("CALL run_job(%s)", (jobs[0][0],))
        assert reject_ages(conn, "analytics", now) == sorted(age for age, _ in AGED_REJECTS if age < timedelta(400))
    again = migrate(timescale_dsn, SETTINGS)
    assert not again.changed, again.lines()
    with psycopg.connect(timescale_dsn) as conn:
        assert catalog_snapshot(conn, "analytics") == before
    status = database_status(timescale_dsn, SETTINGS)
    listed = {(job["policy"], job["relation"]) for job in status["policies"]}
    assert ("prune_rejected_logs", "rejected_logs") in listed
    assert (status["rejects"]["total"], status["rejects"]["recent"]) == (4, 3)
    # Altered in place when the retention changes; removed when rejects are kept forever.
    shorter = SETTINGS.with_changes(retention=Retention(raw=timedelta(days=200)))
    assert any(line.startswith(f"altered job {jobs[0][0]}") for line in migrate(timescale_dsn, shorter).lines())
    with psycopg.connect(timescale_dsn) as conn:
        assert _prune_jobs(conn) == [(jobs[0][0], {"drop_after": "17280000 seconds"})]
    migrate(timescale_dsn, SETTINGS.with_changes(retention=Retention(raw=None)))
    with psycopg.connect(timescale_dsn) as conn:
        assert _prune_jobs(conn) == []


def test_the_chunk_interval_follows_the_partition_interval(timescale_dsn: str) -> None:
    def intervals() -> dict[str, timedelta]:
        with psycopg.connect(timescale_dsn) as conn:
            return dict(
                conn.execute(
                    "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
                    " WHERE hypertable_schema = 'analytics'"
                ).fetchall()
            )

    migrate(timescale_dsn, SETTINGS)
    assert intervals() == {"access_logs": timedelta(days=7), "access_log_layers": timedelta(days=7)}
    daily = SETTINGS.with_changes(chunk_interval=timedelta(days=1))
    report = migrate(timescale_dsn, daily)
    assert "set the chunk interval of access_logs to 1 day, 0:00:00 (new chunks)" in report.lines()
    assert intervals() == {"access_logs": timedelta(days=1), "access_log_layers": timedelta(days=1)}
    assert not migrate(timescale_dsn, daily).changed
