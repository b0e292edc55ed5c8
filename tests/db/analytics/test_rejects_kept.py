"""postgresql flavor: `retention.raw` prunes rejected_logs too (on `db migrate`), and `db status` counts the
rejects kept, in all and by reason over the last week, in its text and JSON outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from click.testing import CliRunner
from tests.support.rejects import AGED_REJECTS, insert_aged_rejects, reject_ages

from georchestra_analytics.cli import cli
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.status import database_status

SETTINGS = DatabaseSettings(flavor="postgresql", retention=Retention(raw=timedelta(days=400)))


def test_migrate_deletes_rejects_older_than_the_raw_retention(pg_dsn: str) -> None:
    now = datetime.now(UTC)
    migrate(pg_dsn, SETTINGS, now=now)
    with psycopg.connect(pg_dsn) as conn:
        insert_aged_rejects(conn, "analytics", now)
    report = migrate(pg_dsn, SETTINGS, now=now)
    assert "deleted 1 expired rows from rejected_logs" in report.lines()
    with psycopg.connect(pg_dsn) as conn:
        assert reject_ages(conn, "analytics", now) == sorted(age for age, _ in AGED_REJECTS if age < timedelta(400))
    assert not migrate(pg_dsn, SETTINGS, now=now).changed
    forever = SETTINGS.with_changes(retention=Retention(raw=None))
    with psycopg.connect(pg_dsn) as conn:
        insert_aged_rejects(conn, "analytics", now - timedelta(days=1000), batch="older")
    migrate(pg_dsn, forever, now=now)
    with psycopg.connect(pg_dsn) as conn:
        assert len(reject_ages(conn, "analytics", now)) == 4 + len(AGED_REJECTS)


def test_status_counts_rejects_by_reason(pg_dsn: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    migrate(pg_dsn, SETTINGS, now=now)
    assert database_status(pg_dsn, SETTINGS)["rejects"] == {
        "total": 0, "last": None, "recent_days": 7, "recent": 0, "recent_by_reason": []
    }  # fmt: skip
    with psycopg.connect(pg_dsn) as conn:
        insert_aged_rejects(conn, "analytics", now)
    status = database_status(pg_dsn, SETTINGS)["rejects"]
    assert (status["total"], status["recent"]) == (5, 3)
    assert [(r["reason"], r["count"]) for r in status["recent_by_reason"]] == [
        ("unparsable line", 2), ("no timestamp", 1)
    ]  # fmt: skip
    assert datetime.fromisoformat(status["last"]) == datetime.fromisoformat(status["recent_by_reason"][0]["last"])
    runner = CliRunner()
    document = json.loads(runner.invoke(cli, ["db", "status", "--dsn", pg_dsn, "--json"]).stdout)
    assert document["rejects"]["recent_by_reason"] == status["recent_by_reason"]
    assert document["partition_interval"] == "604800 seconds"
    text = runner.invoke(cli, ["db", "status", "--dsn", pg_dsn]).stdout
    assert "rejects:    5 kept" in text and "3 in the last 7 days" in text
    assert any(line.split()[:3] == ["2", "unparsable", "line"] for line in text.splitlines())
