"""`georchestra-analytics db migrate|status`: the schema, aggregates, roles and policies of a stack."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import psycopg

from georchestra_analytics.db.flavor import FlavorError
from georchestra_analytics.db.guard import UnsafeConfiguration
from georchestra_analytics.db.migrate import MigrationError, migrate
from georchestra_analytics.db.migrations import MigrationFilesError
from georchestra_analytics.db.roles import PASSWORD_VARIABLES, passwords_from_environment
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.status import database_status
from georchestra_analytics.stack import InvalidStackError, environment, load_stack

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
    try:
        return DatabaseSettings.from_stack(load_stack(stack_file))
    except (OSError, InvalidStackError, ValueError) as error:
        raise click.UsageError(str(error)) from error


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
