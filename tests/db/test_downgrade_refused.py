"""Rolling the operator back after an upgrade that migrated the database (docs/upgrade.md): the older version's
`db migrate` meets a migration it does not know, refuses with a message that says so, exits 1 (the db-migrate
Job fails: MigrationFailed) and changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from tests.support.analytics_db import catalog_snapshot
from tests.support.restore_drill import stack_manifest

from georchestra_analytics.db.migrate import MigrationError, migrate
from georchestra_analytics.db.settings import DatabaseSettings

SETTINGS = DatabaseSettings(flavor="postgresql", time_zone="Europe/Paris")  # as stack_manifest says
FUTURE = "9999_from_a_newer_version"


def test_a_database_migrated_by_a_newer_version_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # What a newer version leaves behind: one more versioned migration in the bookkeeping.
        conn.execute(
            "INSERT INTO analytics.schema_migrations (version, kind, checksum) VALUES (%s, 'versioned', 'x')",
            (FUTURE,),
        )
        before = catalog_snapshot(conn, "analytics")

    with pytest.raises(MigrationError, match=f"the database has migration {FUTURE}, which this version"):
        migrate(pg_dsn, SETTINGS)
    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump(stack_manifest("postgresql")), encoding="utf-8")
    cli = str(Path(sys.executable).parent / "georchestra-analytics")
    command = subprocess.run(
        [cli, "db", "migrate", "-f", str(stack), "--dsn", pg_dsn],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert command.returncode == 1
    assert "was it migrated by a newer version" in command.stderr + command.stdout

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert catalog_snapshot(conn, "analytics") == before
