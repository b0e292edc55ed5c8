"""`georchestra-analytics db migrate|status|import-2x`: the schema, aggregates, roles and policies of a stack, and
the import of a georchestra-analytics 2.x history."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import psycopg

from georchestra_analytics.cli.exits import Refused
from georchestra_analytics.cli.stack_file import read_stack
from georchestra_analytics.db.flavor import FlavorError
from georchestra_analytics.db.guard import UnsafeConfiguration
from georchestra_analytics.db.legacy_import import (
    LegacyImportError,
    count_rows,
    import_history,
    imported_counts,
    read_checkpoint,
)
from georchestra_analytics.db.legacy_schema import SOURCE_SCHEMA_IN_PLACE, drop_legacy, find_legacy_schema, move_aside
from georchestra_analytics.db.migrate import MigrationError, migrate
from georchestra_analytics.db.migrations import MigrationFilesError
from georchestra_analytics.db.roles import PASSWORD_VARIABLES, passwords_from_environment
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.status import database_status
from georchestra_analytics.stack import environment

EXIT_FAILURE = 1  # a system fault (the shared meaning of georchestra_analytics.cli.EXIT_FAILURE)
EXIT_USAGE = 2  # a configuration the database refuses
log = logging.getLogger(__name__)

_dsn_option = click.option(
    "--dsn",
    envvar=environment.DSN,
    help="PostgreSQL connection string (default: $ANALYTICS_DSN). Put the password in it or in $PGPASSWORD.",
)
_stack_option = click.option(
    "-f",
    "--file",
    "stack_file",
    type=click.Path(exists=True, dir_okay=False),
    help="AnalyticsStack YAML supplying schema, flavor, time zone, retention, compression (default: defaults).",
)


def _settings(stack_file: str | None) -> DatabaseSettings:
    if stack_file is None:
        return DatabaseSettings()
    stack = read_stack(stack_file)
    try:
        return DatabaseSettings.from_stack(stack)
    except ValueError as error:
        raise Refused(f"{stack_file}: {error}") from None


def _require(dsn: str | None) -> str:
    if not dsn:
        raise click.UsageError("no database: give --dsn or set ANALYTICS_DSN")
    return dsn


@click.group("db")
def command() -> None:
    """Database schema: migrations, aggregates, roles, policies."""


_MIGRATE_HELP = (
    'Bring the database to the desired state; says "nothing to do" when it already is.\n\n'
    "Role passwords are set from the environment when present: " + ", ".join(PASSWORD_VARIABLES.values()) + "."
)


@command.command("migrate", help=_MIGRATE_HELP)
@_dsn_option
@_stack_option
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON object.")
@click.option(
    "--termination-log",
    type=click.Path(dir_okay=False),
    help="Also write the outcome as JSON to this path (Kubernetes terminationMessagePath), for the operator.",
)
def migrate_command(dsn: str | None, stack_file: str | None, as_json: bool, termination_log: str | None) -> None:
    settings = _settings(stack_file)

    def report_failure(message: str) -> None:
        log.error("%s", message)
        if termination_log:
            Path(termination_log).write_text(json.dumps({"error": message}), encoding="utf-8")

    try:
        report = migrate(_require(dsn), settings, passwords=passwords_from_environment())
    except (UnsafeConfiguration, FlavorError, MigrationFilesError) as error:
        report_failure(str(error))
        sys.exit(EXIT_USAGE)
    except (MigrationError, psycopg.Error) as error:
        report_failure(f"migration failed: {str(error).strip()}")
        sys.exit(EXIT_FAILURE)
    if termination_log:
        Path(termination_log).write_text(json.dumps(report.as_dict()), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        for line in report.lines():
            click.echo(line)


def _print_status(status: dict[str, Any]) -> None:
    click.echo(f"schema      {status['schema']}")
    click.echo(f"flavor      {status['flavor']} (configured: {status['configured_flavor']})")
    click.echo(f"time zone   {status['time_zone'] or '-'}")
    click.echo(f"server      PostgreSQL {status['server_version']}")
    click.echo(f"partitions  {status.get('partition_interval') or '-'} each")
    click.echo(f"timescaledb {status['timescaledb_version'] or 'not installed'}")
    if status.get("legacy_2x"):
        click.echo(f"2.x data    {status['legacy_2x']['message']}")
    click.echo("migrations:")
    for migration in status["migrations"]:
        click.echo(f"  applied  {migration['version']:<28} {migration['applied_at']}")
    for version in status["pending"]:
        click.echo(f"  pending  {version}")
    if "policies" in status:
        click.echo("policies:")
        for job in status["policies"]:
            click.echo(
                f"  {job['policy']:<38} {job['relation']:<28} every {job['schedule']:<10} "
                f"last run {job['last_run'] or 'never'} ({job['last_status'] or '-'})"
            )
    if "rejects" in status:
        rejects = status["rejects"]
        click.echo(
            f"rejects:    {rejects['total']} kept (last {rejects['last'] or 'never'}), "
            f"{rejects['recent']} in the last {rejects['recent_days']} days"
        )
        for reason in rejects["recent_by_reason"]:
            click.echo(f"  {reason['count']:>8}  {reason['reason']}  (last {reason['last']})")
    for done in status.get("imports_2x", []):
        state = f"finished {done['finished_at']}" if done["finished_at"] else f"in progress (last {done['updated_at']})"
        click.echo(f"2.x import: {done['source_schema']}: {done['rows_read']} rows read, {state}")
    if "partitions" in status:
        click.echo("retention: " + ", ".join(f"{level} {value}" for level, value in status["retention"].items()))
        click.echo("partitions:")
        for partition in status["partitions"]:
            click.echo(f"  {partition['name']:<32} {partition['from']} .. {partition['to']}")


@command.command("status")
@_dsn_option
@_stack_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object, for scripts.")
def status_command(dsn: str | None, stack_file: str | None, as_json: bool) -> None:
    """Applied and pending migrations, flavor, extension version, policies and their last runs.

    Exits 3 when migrations are pending."""
    try:
        status = database_status(_require(dsn), _settings(stack_file))
    except psycopg.Error as error:
        log.error("cannot read the database status: %s", str(error).strip())
        sys.exit(EXIT_FAILURE)
    if as_json:
        click.echo(json.dumps(status, default=str))
    else:
        _print_status(status)
    if status["pending"]:
        sys.exit(3)


@command.command("import-2x")
@_dsn_option
@_stack_option
@click.option(
    "--from-schema",
    "source",
    help=f"The georchestra-analytics 2.x schema to import (default: {SOURCE_SCHEMA_IN_PLACE} with --in-place).",
)
@click.option(
    "--in-place",
    is_flag=True,
    help=f"The 2.x database holds the stack's schema: rename it to {SOURCE_SCHEMA_IN_PLACE} first, so the new "
    "schema can take the name.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, show_default=True, help="Rows per transaction.")
@click.option(
    "--drop-source",
    is_flag=True,
    help="Drop the 2.x tables and aggregates afterwards, only if its rows = imported records + rejects.",
)
def import_2x_command(
    dsn: str | None, stack_file: str | None, source: str | None, in_place: bool, batch_size: int, drop_source: bool
) -> None:
    """Import the history of a georchestra-analytics 2.x installation (docs/upgrade-from-2x.md).

    Migrates the stack's schema, imports every 2.x access_logs row as a record (or a reject, with its reason),
    refreshes the aggregates over the imported span, copies the rows left in the 2.x buffer into this project's
    buffer and parses them. Resumable (an interrupted run goes on where it stopped) and idempotent (a second run
    adds nothing). The 2.x objects are only read, unless --drop-source."""
    from georchestra_analytics.cli.parse import load_settings
    from georchestra_analytics.parser.job import JobFault, run_workers

    settings = _settings(stack_file)
    parser_settings = load_settings(stack_file)
    target = settings.schema
    url = _require(dsn)
    source = source or (SOURCE_SCHEMA_IN_PLACE if in_place else None)
    if source is None:
        raise click.UsageError("name the 2.x schema with --from-schema, or give --in-place")
    if source == target:
        raise click.UsageError(f"the 2.x schema is the stack's schema {target!r}: give --in-place to move it aside")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if in_place and find_legacy_schema(conn, target) is not None:
                move_aside(conn, target, source)
                click.echo(f"moved the 2.x schema {target!r} aside to {source!r}")
            if find_legacy_schema(conn, source) is None:
                raise LegacyImportError(f"schema {source!r} holds no georchestra-analytics 2.x access_logs")
        for line in migrate(url, settings, passwords=passwords_from_environment()).lines():
            click.echo(line)
        with psycopg.connect(url, autocommit=True) as conn:
            remaining = max(count_rows(conn, source, "access_logs") - read_checkpoint(conn, target, source).rows, 0)
        with click.progressbar(length=remaining, label="importing 2.x rows", file=sys.stderr) as bar:
            run = import_history(url, source, target, parser_settings, batch_size=batch_size, on_batch=bar.update)
        for line in run.lines():
            click.echo(line)
        if run.refreshed:
            click.echo(f"aggregates refreshed over the imported span: {len(run.refreshed)}")
        summary = run_workers(url, parser_settings)
        click.echo(f"parse of the buffer: {summary.describe()}")
        counts = imported_counts(url, source, target)
        click.echo(counts.line())
        if drop_source:
            if not counts.matching:
                raise LegacyImportError(f"not dropping {source!r}: its rows are not all imported ({counts.line()})")
            with psycopg.connect(url, autocommit=True) as conn:
                for name in drop_legacy(conn, source):
                    click.echo(f"dropped {name}")
    except (UnsafeConfiguration, FlavorError, MigrationFilesError, ValueError) as error:
        log.error("%s", error)
        sys.exit(EXIT_USAGE)
    except (MigrationError, LegacyImportError, JobFault, psycopg.Error) as error:
        log.error("import failed: %s", str(error).strip())
        sys.exit(EXIT_FAILURE)
