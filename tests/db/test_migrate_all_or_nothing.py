"""`db migrate` is all or nothing (docs/database.md): a failure in its last step, on a fresh database and on an
upgrade, leaves the database exactly as it was found, on both flavors. The failure is injected through
`migrate`'s `after_step` hook: no real statement of a migration can be made to fail on demand at that point."""

from __future__ import annotations

from typing import Any, Literal

import psycopg
import pytest
from tests.support.legacy_2x import database_fingerprint

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.migrations import versioned_migrations
from georchestra_analytics.db.settings import DatabaseSettings


class InjectedFault(RuntimeError):
    pass


def _fail_at(step: str) -> Any:
    def after_step(name: str) -> None:
        if name == step:
            raise InjectedFault(f"injected failure after {name}")

    return after_step


def _fresh_then_upgrade(dsn: str, flavor: Literal["timescaledb", "postgresql"]) -> None:
    settings = DatabaseSettings(flavor=flavor, time_zone="Europe/Paris")
    steps: list[str] = []

    # A fresh database: the last step fails, and nothing of the run stays.
    empty = database_fingerprint(dsn)
    with pytest.raises(InjectedFault):
        migrate(dsn, settings, after_step=_fail_at("policies"))
    assert database_fingerprint(dsn) == empty

    # The database an older version left: migrated, then without what 0004 adds (undone by hand, since this
    # version's own policy code needs it) and with views of another text; the upgrade then fails last.
    known = versioned_migrations(flavor)
    missing = next(migration for migration in known if migration.version.startswith("0004_"))
    migrate(dsn, settings, after_step=steps.append)
    assert steps[-1] == "policies"  # the step the failure is injected into is the last one
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX analytics.rejected_logs_id")
        conn.execute("ALTER TABLE analytics.rejected_logs DROP COLUMN id")
        conn.execute("DELETE FROM analytics.schema_migrations WHERE version = %s", (missing.version,))
        conn.execute("UPDATE analytics.schema_migrations SET checksum = 'older' WHERE version = 'views'")
    before_upgrade = database_fingerprint(dsn)
    with pytest.raises(InjectedFault):
        migrate(dsn, settings, after_step=_fail_at("policies"))
    assert database_fingerprint(dsn) == before_upgrade

    # Without the fault the same upgrade goes through, so the failed one really had something to change.
    upgrade = migrate(dsn, settings)
    assert upgrade.applied == [missing.version]
    assert upgrade.reapplied == ["views"]
    assert database_fingerprint(dsn) != before_upgrade


def test_a_failed_migrate_leaves_postgresql_as_found(pg_dsn: str) -> None:
    _fresh_then_upgrade(pg_dsn, "postgresql")


@pytest.mark.timescale
def test_a_failed_migrate_leaves_timescaledb_as_found(timescale_dsn: str) -> None:
    with psycopg.connect(timescale_dsn, autocommit=True) as conn:
        conn.execute("DROP EXTENSION timescaledb")  # the fresh run creates it, and its failure must not keep it
    _fresh_then_upgrade(timescale_dsn, "timescaledb")
