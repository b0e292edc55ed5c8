"""The Superset tier's fixtures: one real Superset for the session, one analytics database with parsed records
(migrated by `db migrate`'s own code, written through the parse job's writer) that Superset queries."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from tests.support.analytics_db import random_records
from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer
from tests.support.superset import SupersetServer, superset_server  # noqa: F401 - the session fixture

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.writer import write_records
from georchestra_analytics.superset.bundle import Bundle, build_bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.settings import BundleSettings, DatabaseTarget

SCHEMA = "analytics"
# Sixty days of traffic up to today's midnight: enough for the hourly, daily and monthly views to differ, and
# recent enough for the dashboard's default time range ("Last quarter") to show it.
DATA_END = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DATA_SPAN = timedelta(days=60)
RECORDS = 4000


@dataclass(frozen=True)
class AnalyticsDatabase:
    dsn: str  # as the tests' owner role
    settings: DatabaseSettings
    bundle_settings: BundleSettings
    dashboards_password: str
    records: int


def _analytics_database(pg_server: PostgresServer, flavor: str, stack_name: str) -> Iterator[AnalyticsDatabase]:
    name = pg_server.create_database()
    dsn = pg_server.dsn_for(name)
    settings = DatabaseSettings(schema=SCHEMA, flavor=flavor, time_zone="UTC")
    password = secrets.token_urlsafe(16)
    try:
        migrate(dsn, settings, passwords={"dashboards": password})
        start = DATA_END - DATA_SPAN
        records = random_records(9, RECORDS, start, DATA_SPAN)
        with psycopg.connect(dsn) as conn, conn.transaction():
            written = write_records(conn, SCHEMA, records)
        refresh_aggregates(dsn, start, DATA_END, schema=SCHEMA)  # continuous aggregates; nothing on postgresql
        params = conninfo_to_dict(dsn)
        target = DatabaseTarget(
            host=str(params.get("host") or "127.0.0.1"),
            port=int(params.get("port") or 5432),
            database=name,
            username=settings.roles.dashboards,
            sslmode="disable",
        )
        # Two stacks in one Superset need distinct connection names: Superset matches databases by name too.
        bundle_settings = BundleSettings(
            stack_name, target, schema=SCHEMA, database_name=f"geOrchestra analytics ({stack_name})"
        )
        yield AnalyticsDatabase(dsn, settings, bundle_settings, password, written)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def analytics_db(pg_server: PostgresServer) -> Iterator[AnalyticsDatabase]:
    """The postgresql flavor: rollup tables maintained by the writer."""
    yield from _analytics_database(pg_server, "postgresql", "tier")


@pytest.fixture(scope="session", params=["postgresql", "timescaledb"])
def flavored_db(
    request: pytest.FixtureRequest, pg_server: PostgresServer, analytics_db: AnalyticsDatabase
) -> Iterator[AnalyticsDatabase]:
    """Each database flavor in turn: the dashboards must read both alike. Skips timescaledb where missing."""
    if request.param == "postgresql":
        yield analytics_db
        return
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    yield from _analytics_database(pg_server, "timescaledb", "tier-ts")


@pytest.fixture(scope="session")
def bundle(analytics_db: AnalyticsDatabase) -> Bundle:
    return build_bundle(analytics_db.bundle_settings)


@pytest.fixture
def client(superset_server: SupersetServer) -> SupersetClient:  # noqa: F811 - pytest injects the fixture
    return SupersetClient.login(superset_server.url, superset_server.username, superset_server.password)
