"""`db migrate`: bring a schema to the desired state, and say what changed (or that nothing did).

Order: refuse unsafe configurations and a schema georchestra-analytics 2.x built; then, in ONE transaction
(all or nothing: a failure at any step leaves the database as it was found): take the schema's advisory lock
(concurrent runs wait), check the server can run the flavor (creating the extension), apply pending versioned
migrations with their records, create missing roles, re-apply repeatable units (grants, views) whose rendered
text changed, set passwords the roles lack, reconcile policies (timescaledb chunk interval and jobs, or
postgresql partitions and retention). Every statement involved is transactional on both flavors (TimescaleDB's
hypertables, continuous aggregates created WITH NO DATA, and jobs included). The continuous aggregates created
there are recorded in `aggregate_backfills` in the same transaction, then, after the commit, refreshed over their
whole span (db/backfill.py): their refresh policies only reach a few days back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db import backfill, chunks, partitions, reject_retention, roles, timescale_policies
from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS
from georchestra_analytics.db.context import template_context
from georchestra_analytics.db.flavor import ServerInfo, check_server
from georchestra_analytics.db.guard import check_configuration
from georchestra_analytics.db.legacy_schema import find_legacy_schema
from georchestra_analytics.db.migrations import REPEATABLE_TEMPLATES, Migration, versioned_migrations
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.sql_templates import checksum, render

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "schema_migrations"


class MigrationError(RuntimeError):
    """The database cannot be migrated as it is; the message says which migration or setting and why."""


class LegacySchemaFound(MigrationError):
    """The schema was built by georchestra-analytics 2.x; the message names the ways forward."""


# Called with each step's name once the step is done, inside the migration's transaction: tests inject a
# failure there (a fault the real statements cannot be made to raise on demand).
AfterStep = Callable[[str], None]


@dataclass
class MigrationReport:
    server: ServerInfo | None = None
    schema_version: str | None = None  # the newest versioned migration, applied now or before
    applied: list[str] = field(default_factory=list)
    reapplied: list[str] = field(default_factory=list)
    roles_created: list[str] = field(default_factory=list)
    passwords_set: list[str] = field(default_factory=list)
    policy_actions: list[str] = field(default_factory=list)
    settings_changed: list[str] = field(default_factory=list)
    backfilled: list[str] = field(default_factory=list)  # continuous aggregates refreshed over their whole span

    @property
    def changed(self) -> bool:
        return any((self.applied, self.reapplied, self.roles_created, self.passwords_set, self.policy_actions,
                    self.settings_changed, self.backfilled))  # fmt: skip

    def lines(self) -> list[str]:
        if not self.changed:
            return ["database is up to date: nothing to do"]
        return [
            *(f"applied migration {version}" for version in self.applied),
            *(f"re-applied {unit}" for unit in self.reapplied),
            *(f"created role {name}" for name in self.roles_created),
            *(f"set the password of role {name}" for name in self.passwords_set),
            *self.settings_changed,
            *self.policy_actions,
            *(f"filled continuous aggregate {name} over the whole history" for name in self.backfilled),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "schema_version": self.schema_version,
            "flavor": self.server.flavor if self.server else None,
            "applied": self.applied,
            "reapplied": self.reapplied,
            "roles_created": self.roles_created,
            "passwords_set": self.passwords_set,
            "settings_changed": self.settings_changed,
            "policy_actions": self.policy_actions,
            "backfilled": self.backfilled,
        }


def _lock_key(schema: str) -> str:
    return f"georchestra-analytics migrate {schema}"


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _bootstrap(conn: psycopg.Connection[Any], schema: str) -> None:
    """The schema and the migrations table; touched only when missing, so an up-to-date run changes nothing."""
    exists = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (schema, MIGRATIONS_TABLE),
    ).fetchone()
    if exists:
        return
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version text PRIMARY KEY, kind text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(_table(schema, MIGRATIONS_TABLE))
        )


def applied_migrations(conn: psycopg.Connection[Any], schema: str) -> dict[str, tuple[str, str, datetime]]:
    """version -> (kind, checksum, applied_at)."""
    rows = conn.execute(
        sql.SQL("SELECT version, kind, checksum, applied_at FROM {}").format(_table(schema, MIGRATIONS_TABLE))
    ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _check_applied(applied: Mapping[str, tuple[str, str, datetime]], known: list[Migration]) -> None:
    by_version = {migration.version: migration for migration in known}
    for version, (kind, stored, _) in sorted(applied.items()):
        if kind != "versioned":
            continue
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version}, which this version of georchestra-analytics does not know "
                "(was it migrated by a newer version, or with the other flavor?)"
            )
        if migration.checksum != stored:
            raise MigrationError(
                f"migration {version} was changed after it was applied (checksum {stored[:12]} in the database, "
                f"{migration.checksum[:12]} in {migration.template}): restore the file, and put changes in a new "
                "migration"
            )


def _record(conn: psycopg.Connection[Any], schema: str, version: str, kind: str, digest: str) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (version, kind, checksum) VALUES (%s, %s, %s)"
            " ON CONFLICT (version) DO UPDATE SET checksum = excluded.checksum, applied_at = now()"
        ).format(_table(schema, MIGRATIONS_TABLE)),
        (version, kind, digest),
    )


def _execute_script(conn: psycopg.Connection[Any], text: str) -> None:
    # Several statements in one call: psycopg sends a query without parameters as one simple query.
    conn.execute(text.encode())


def _recorded_settings(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> dict[str, str]:
    """Flavor and time zone the schema was built with (none before its first migration); refuses a change of
    either, which the tables and aggregates cannot follow in place."""
    if conn.execute("SELECT to_regclass(%s)", (_table(settings.schema, "settings").as_string(conn),)).fetchone() == (
        None,
    ):
        return {}
    current = dict(
        conn.execute(sql.SQL("SELECT key, value FROM {}").format(_table(settings.schema, "settings"))).fetchall()
    )
    wanted = {"flavor": settings.flavor, "time_zone": settings.time_zone}
    for key in ("flavor", "time_zone"):
        if key in current and current[key] != wanted[key]:
            raise MigrationError(
                f"the schema was built with {key} {current[key]!r}, and the configuration now says {wanted[key]!r}: "
                "tables and aggregates are built for it, so it cannot change in place; migrate into a new schema"
            )
    return current


def partition_interval_text(settings: DatabaseSettings) -> str:
    """The partition interval as `settings.partition_interval` records it (read by the SQL functions)."""
    return f"{int(settings.chunk_interval.total_seconds())} seconds"


def _sync_settings(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    """Record flavor and time zone for the writer, and the partition interval (which may change: it applies to
    the partitions or chunks made from then on)."""
    table = _table(settings.schema, "settings")
    current = _recorded_settings(conn, settings)
    wanted = {"flavor": settings.flavor, "time_zone": settings.time_zone,
              "partition_interval": partition_interval_text(settings)}  # fmt: skip
    changes = []
    for key, value in wanted.items():
        if key not in current:
            conn.execute(sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(table), (key, value))
            changes.append(f"recorded {key} {value}")
        elif current[key] != value:  # only the partition interval: the others are refused above
            conn.execute(sql.SQL("UPDATE {} SET value = %s WHERE key = %s").format(table), (value, key))
            changes.append(f"changed {key} from {current[key]} to {value}")
    return changes


def _check_time_zone(conn: psycopg.Connection[Any], time_zone: str) -> None:
    row = conn.execute("SELECT count(*) FROM pg_timezone_names WHERE name = %s", (time_zone,)).fetchone()
    if not row or not row[0]:
        raise MigrationError(f"unknown time zone {time_zone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'")


# The views each repeatable unit creates: a unit is re-applied when one of them was dropped by hand.
_COMPAT_VIEWS = tuple(view for view in DASHBOARD_VIEWS if view.startswith("ogc_summary"))
_UNIT_VIEWS = {
    "views": tuple(view for view in DASHBOARD_VIEWS if view not in _COMPAT_VIEWS),
    "compat_views": _COMPAT_VIEWS,
}


def _views_missing(conn: psycopg.Connection[Any], schema: str, unit: str) -> bool:
    """Whether a view of this unit was dropped by hand (its unit then needs re-applying despite its checksum)."""
    views = _UNIT_VIEWS.get(unit, ())
    if not views:
        return False
    row = conn.execute(
        "SELECT count(*) FROM pg_views WHERE schemaname = %s AND viewname = ANY(%s)", (schema, list(views))
    ).fetchone()
    return not row or row[0] != len(views)


def _refuse_legacy(conn: psycopg.Connection[Any], schema: str) -> None:
    legacy = find_legacy_schema(conn, schema)
    if legacy is not None:
        raise LegacySchemaFound(
            f"{legacy.describe()}, which this version does not migrate in place; nothing was changed. Ways forward: "
            + legacy.ways_forward(schema)
        )


def migrate(
    dsn: str,
    settings: DatabaseSettings,
    *,
    passwords: Mapping[str, str] | None = None,
    now: datetime | None = None,
    migrations: list[Migration] | None = None,
    after_step: AfterStep | None = None,
) -> MigrationReport:
    """`migrations`: the versioned migrations to apply (default: this version's), so a test can build the
    database an older version left."""
    check_configuration(settings)
    report = MigrationReport()
    context = template_context(settings)
    known = versioned_migrations(settings.flavor) if migrations is None else migrations
    done: AfterStep = after_step or (lambda _step: None)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _check_time_zone(conn, settings.time_zone)
        _refuse_legacy(conn, settings.schema)
        _recorded_settings(conn, settings)  # before anything is created, the extension included
        with conn.transaction():
            # Released at commit or rollback; a concurrent run waits here, then sees what this one committed.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_lock_key(settings.schema),))
            report.server = check_server(conn, settings, create_extension=True)
            aggregates_before = backfill.continuous_aggregates(conn, settings)
            _bootstrap(conn, settings.schema)
            applied = applied_migrations(conn, settings.schema)
            _check_applied(applied, known)
            for migration in known:
                if migration.version in applied:
                    continue
                log.info("applying migration %s", migration.version)
                _execute_script(conn, migration.render(context))
                _record(conn, settings.schema, migration.version, "versioned", migration.checksum)
                report.applied.append(migration.version)
                done(f"migration {migration.version}")
            report.schema_version = known[-1].version if known else None
            report.settings_changed = _sync_settings(conn, settings)
            report.roles_created = roles.ensure_roles(conn, settings)
            done("roles")
            for unit, template in REPEATABLE_TEMPLATES:
                text = render(template, **context)
                digest = checksum(text)
                previous = applied.get(unit)
                up_to_date = previous and previous[1] == digest and not report.roles_created
                if up_to_date and not _views_missing(conn, settings.schema, unit):
                    continue
                log.info("applying %s", unit)
                _execute_script(conn, text)
                _record(conn, settings.schema, unit, "repeatable", digest)
                report.reapplied.append(unit)
                done(unit)
            report.passwords_set = roles.set_passwords(conn, settings, passwords or {})
            moment = now or datetime.now(UTC)
            if settings.flavor == "timescaledb":
                report.policy_actions = [
                    *chunks.reconcile_chunk_interval(conn, settings),
                    *timescale_policies.reconcile(conn, settings),
                    *reject_retention.reconcile_job(conn, settings),
                ]
            else:
                report.policy_actions = partitions.maintain(conn, settings, moment)
            done("policies")
            created = backfill.continuous_aggregates(conn, settings) - aggregates_before
            backfill.record(conn, settings.schema, created)
    # After the commit: a refresh cannot run in a transaction block.
    report.backfilled = backfill.fill(dsn, settings, created)
    for line in report.lines():
        log.info("%s", line)
    return report
