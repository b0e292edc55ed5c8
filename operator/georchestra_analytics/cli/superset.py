"""`georchestra-analytics superset bundle|sync`: render the dashboard bundle, or import it into a Superset.

Secrets come from the environment only, never from options (which show in process lists) nor logs:
SUPERSET_USERNAME / SUPERSET_PASSWORD for the Superset account, ANALYTICS_DASHBOARDS_PASSWORD for the
database role Superset connects as (the sync hands it to Superset in the import's `passwords` field).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from georchestra_analytics.cli.exits import EXIT_FAILURE, Refused
from georchestra_analytics.cli.stack_file import read_stack
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.kube.database_access import database_access
from georchestra_analytics.stack import AnalyticsStack
from georchestra_analytics.stack import environment as env
from georchestra_analytics.superset.bundle import Bundle, BundleError, build_bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.errors import SupersetError
from georchestra_analytics.superset.settings import BundleSettings, BundleSettingsError, DatabaseTarget
from georchestra_analytics.superset.sync import sync

SUPERSET_USERNAME_VARIABLE = env.SUPERSET_USERNAME
SUPERSET_PASSWORD_VARIABLE = env.SUPERSET_PASSWORD
DATABASE_PASSWORD_VARIABLE = env.ROLE_PASSWORDS["dashboards"]
# libpq's variables, which every Job of the operator carries (the stack's own database account).
FALLBACK_USER_VARIABLE, FALLBACK_PASSWORD_VARIABLE = env.PGUSER, env.PGPASSWORD
log = logging.getLogger(__name__)


def bundle_settings(stack: AnalyticsStack, db_user: str | None, db_host: str | None) -> BundleSettings:
    """How Superset reaches the stack's database: the dashboards role, over the host the Jobs use unless
    `spec.superset.databaseHost` (or `db_host`) says otherwise."""
    access = database_access(stack)
    database_settings = DatabaseSettings.from_stack(stack)
    superset_spec = stack.spec.superset
    host = db_host or (superset_spec.database_host if superset_spec else None) or access.host
    target = DatabaseTarget(
        host=host,
        port=access.port,
        database=access.database,
        username=db_user or database_settings.roles.dashboards,
        sslmode=access.ssl_mode,
    )
    return BundleSettings(
        stack_name=stack.name,
        database=target,
        schema=stack.spec.database.schema_name,
        time_zone=stack.spec.time_zone,
        database_name=superset_spec.database_name if superset_spec else BundleSettings.database_name,
    )


def _bundle(stack_file: str, db_user: str | None, db_host: str | None) -> tuple[AnalyticsStack, Bundle]:
    stack = read_stack(stack_file)
    try:
        return stack, build_bundle(bundle_settings(stack, db_user, db_host))
    except BundleSettingsError as error:
        raise Refused(str(error)) from None
    except BundleError as error:
        log.error("cannot render the dashboard bundle: %s", error)
        sys.exit(EXIT_FAILURE)


def database_credentials(db_user: str | None) -> tuple[str | None, str]:
    """Who Superset connects as, and the password: the read-only dashboards role with
    ANALYTICS_DASHBOARDS_PASSWORD; else the account in PGUSER/PGPASSWORD, with a warning (it can read more than
    the dashboard views). None as user means the dashboards role."""
    password = os.environ.get(DATABASE_PASSWORD_VARIABLE)
    if password:
        return db_user, password
    fallback_user, fallback_password = (
        os.environ.get(FALLBACK_USER_VARIABLE),
        os.environ.get(FALLBACK_PASSWORD_VARIABLE),
    )
    if fallback_user and fallback_password:
        log.warning(
            "%s is not set: Superset will connect as %s (from %s), not as the read-only dashboards role",
            DATABASE_PASSWORD_VARIABLE,
            db_user or fallback_user,
            FALLBACK_USER_VARIABLE,
        )
        return db_user or fallback_user, fallback_password
    raise click.UsageError(
        f"no password for the database account Superset connects as: set {DATABASE_PASSWORD_VARIABLE} "
        f"(the dashboards role), or {FALLBACK_USER_VARIABLE} and {FALLBACK_PASSWORD_VARIABLE}"
    )


def _required_env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise click.UsageError(f"{what}: set the environment variable {name}")
    return value


stack_option = click.option(
    "-f", "--file", "stack_file", required=True, type=click.Path(dir_okay=False), help="AnalyticsStack YAML file."
)
db_user_option = click.option(
    "--db-user",
    envvar=env.DASHBOARDS_USER,
    help="Database role Superset connects as. [default: the stack's dashboards role, <schema>_dashboards]",
)
db_host_option = click.option(
    "--db-host",
    envvar=env.DASHBOARDS_DB_HOST,
    help="Database host as Superset reaches it. [default: spec.superset.databaseHost, else the stack's host]",
)


@click.group("superset")
def command() -> None:
    """Superset dashboards: render the bundle, import it."""


@command.command("bundle")
@stack_option
@db_user_option
@db_host_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Zip file to write.")
def bundle_command(stack_file: str, db_user: str | None, db_host: str | None, out: str) -> None:
    """Write the rendered dashboard bundle (databases, datasets, charts, dashboards) as a zip.

    The zip holds no password; import it with Superset's assets API or `superset sync`.
    """
    _, bundle = _bundle(stack_file, db_user, db_host)
    Path(out).write_bytes(bundle.zip_bytes())
    click.echo(f"{out}: {len(bundle.files)} files, sha256 of contents {bundle.sha256}", err=True)


@command.command("sync")
@stack_option
@db_user_option
@db_host_option
@click.option("--url", envvar=env.SUPERSET_URL, help="Superset base URL. [default: spec.superset.url]")
@click.option("--force", is_flag=True, help="Import even when Superset already holds this bundle.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per HTTP request.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
def sync_command(
    stack_file: str,
    db_user: str | None,
    db_host: str | None,
    url: str | None,
    force: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Import the bundle into Superset, unless it already holds exactly this bundle.

    Needs SUPERSET_USERNAME, SUPERSET_PASSWORD and ANALYTICS_DASHBOARDS_PASSWORD in the environment (without
    the last one, Superset connects with PGUSER/PGPASSWORD, the account every Job of the operator has).
    """
    db_user, database_password = database_credentials(db_user)
    stack, bundle = _bundle(stack_file, db_user, db_host)
    url = url or (stack.spec.superset.url if stack.spec.superset else None)
    if not url:
        raise click.UsageError("no Superset URL: give --url, set SUPERSET_URL or spec.superset.url")
    username = _required_env(SUPERSET_USERNAME_VARIABLE, "no Superset user name")
    password = _required_env(SUPERSET_PASSWORD_VARIABLE, "no Superset password")
    try:
        client = SupersetClient.login(url, username, password, timeout=timeout)
        result = sync(client, bundle, database_password, force=force)
    except SupersetError as error:
        log.error("%s", error)
        sys.exit(EXIT_FAILURE)
    summary = {
        "imported": result.imported,
        "reason": result.reason,
        "bundleSha256": result.bundle_sha256,
        "dashboardId": result.dashboard_id,
        "dashboardUrl": f"{client.url}/superset/dashboard/{bundle.dashboard_slug}/",
        "warnings": list(result.warnings),
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        verb = "imported" if result.imported else "unchanged"
        click.echo(f"{verb}: {result.reason}; dashboard {summary['dashboardUrl']}", err=True)
