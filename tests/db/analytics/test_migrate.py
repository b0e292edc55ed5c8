"""`db migrate` on plain PostgreSQL: from empty, idempotent, serialised, refusing what it must."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from tests.support.analytics_db import catalog_snapshot, random_records, utc

from georchestra_analytics.cli import cli
from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS
from georchestra_analytics.db.migrate import MigrationError, MigrationReport, migrate
from georchestra_analytics.db.migrations import versioned_migrations
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.status import database_status
from georchestra_analytics.db.writer import write_records

SETTINGS = DatabaseSettings(flavor="postgresql", time_zone="Europe/Paris")
HOSTILE_SCHEMA = 'an"alytics; DROP SCHEMA public CASCADE; --'


def _schema_exists(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def test_migrate_from_empty_then_twice_changes_nothing(pg_dsn: str) -> None:
    first = migrate(pg_dsn, SETTINGS)
    assert first.applied == [m.version for m in versioned_migrations("postgresql")]
    assert first.changed
    with psycopg.connect(pg_dsn) as conn:
        before = catalog_snapshot(conn, "analytics")
        views = {row[0] for row in before["views"]}
    assert set(DASHBOARD_VIEWS) <= views
    second = migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as conn:
        after = catalog_snapshot(conn, "analytics")
    assert not second.changed
    assert second.lines() == ["database is up to date: nothing to do"]
    assert after == before
    assert database_status(pg_dsn, SETTINGS)["pending"] == []


def test_a_dropped_view_is_restored(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("DROP VIEW analytics.usage_daily")
        conn.execute("DROP VIEW analytics.ogc_summary")
    report = migrate(pg_dsn, SETTINGS)
    assert report.reapplied == ["views", "compat_views"]  # the unit of each view dropped
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('analytics.ogc_summary')").fetchone() == ("analytics.ogc_summary",)
        assert conn.execute("SELECT to_regclass('analytics.usage_daily')").fetchone() == ("analytics.usage_daily",)


def test_hostile_schema_and_role_names_are_quoted(pg_dsn: str) -> None:
    settings = SETTINGS.with_changes(schema=HOSTILE_SCHEMA, parser_role="p'); DROP ROLE postgres; --")
    migrate(pg_dsn, settings)
    assert not migrate(pg_dsn, settings).changed
    records = random_records(7, 50, utc(2026, 6, 1), timedelta(days=2))
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            assert write_records(conn, HOSTILE_SCHEMA, records) == 50
        total = conn.execute(
            sql.SQL("SELECT sum(requests) FROM {}").format(sql.Identifier(HOSTILE_SCHEMA, "usage_daily"))
        ).fetchone()
        roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", ("p'%",)).fetchall()
    assert total == (50,)
    assert roles == [("p'); DROP ROLE postgres; --",)]
    assert _schema_exists(pg_dsn, "public")


def test_hostile_time_zone_is_refused_before_any_change(pg_dsn: str) -> None:
    settings = SETTINGS.with_changes(time_zone="UTC'); DROP SCHEMA public; --")
    with pytest.raises(MigrationError, match="unknown time zone"):
        migrate(pg_dsn, settings)
    assert not _schema_exists(pg_dsn, "analytics")
    assert _schema_exists(pg_dsn, "public")


def test_changing_the_time_zone_of_a_built_schema_is_refused(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with pytest.raises(MigrationError, match=r"time_zone 'Europe/Paris'.*'UTC'"):
        migrate(pg_dsn, SETTINGS.with_changes(time_zone="UTC"))


def test_switching_the_flavor_of_a_built_schema_is_refused(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with pytest.raises(MigrationError, match=r"built with flavor 'postgresql'.*'timescaledb'"):
        migrate(pg_dsn, SETTINGS.with_changes(flavor="timescaledb"))


def test_an_edited_migration_is_named(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    # The database remembers the checksum of what it applied; the file no longer matches it.
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE analytics.schema_migrations SET checksum = 'f00d' WHERE version = '0002_raw_tables'")
    with pytest.raises(MigrationError, match="migration 0002_raw_tables was changed after it was applied"):
        migrate(pg_dsn, SETTINGS)


def test_concurrent_migrations_are_serialised(pg_dsn: str) -> None:
    reports: list[MigrationReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate(pg_dsn, SETTINGS))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    applied = sorted(len(report.applied) for report in reports)
    assert applied == [0, 0, len(versioned_migrations("postgresql"))]


STACK = """
apiVersion: analytics.georchestra.org/v1alpha1
kind: AnalyticsStack
metadata: {name: analytics, namespace: georchestra}
spec:
  database:
    flavor: postgresql
    schema: usage
    external:
      host: db.example.org
      credentialsSecret: {name: db, usernameKey: user, passwordKey: pass}
  timeZone: Europe/Paris
"""


def test_cli_migrate_and_status(pg_dsn: str, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK)
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "migrate", "-f", str(stack), "--json"], env={"ANALYTICS_DSN": pg_dsn})
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["applied"] == [m.version for m in versioned_migrations("postgresql")]
    again = runner.invoke(cli, ["db", "migrate", "-f", str(stack)], env={"ANALYTICS_DSN": pg_dsn})
    assert (again.exit_code, again.stdout) == (0, "database is up to date: nothing to do\n")
    status = runner.invoke(cli, ["db", "status", "--dsn", pg_dsn, "-f", str(stack), "--json"])
    assert status.exit_code == 0
    document = json.loads(status.stdout)
    assert (document["schema"], document["flavor"], document["pending"]) == ("usage", "postgresql", [])
    assert document["partitions"]


def test_cli_migrate_writes_its_outcome_for_the_operator(pg_dsn: str, tmp_path: Path) -> None:
    """The db-migrate Job's termination message: the operator reads status.schemaVersion from it."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK)
    message = tmp_path / "termination-log"
    runner = CliRunner()
    args = ["db", "migrate", "-f", str(stack), "--termination-log", str(message)]
    for _ in range(2):  # a re-run on an up-to-date database reports the same version
        result = runner.invoke(cli, args, env={"ANALYTICS_DSN": pg_dsn})
        assert result.exit_code == 0, result.output
        outcome = json.loads(message.read_text())
        assert outcome["schema_version"] == versioned_migrations("postgresql")[-1].version
    failed = runner.invoke(cli, args, env={"ANALYTICS_DSN": "postgresql://nobody@127.0.0.1:1/none"})
    assert failed.exit_code == 1
    assert "migration failed" in json.loads(message.read_text())["error"]


def test_status_of_an_empty_database_lists_everything_pending(pg_dsn: str) -> None:
    result = CliRunner().invoke(cli, ["db", "status", "--dsn", pg_dsn])
    assert result.exit_code == 3
    assert "pending  0001_foundation" in result.output
