"""The demo's week in the Superset tier: the data `georchestra-analytics demo` reports on (its seed, record count
and generator, its steps: migrate, ingest, parse, refresh), on the timescaledb flavor, registered in Superset
as a stack of its own. The README's and docs' pictures are taken of it.

The schema has its own name so that its roles (named after the schema, and shared by the whole cluster) are
not those of the tier's other databases: setting the dashboards role's password here changes no other test's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer

from georchestra_analytics.db import roles
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.demo import run
from georchestra_analytics.demo.sample import DEFAULT_RECORDS, DEFAULT_SEED, Sample, generate
from georchestra_analytics.superset.bundle import Bundle, build_bundle
from georchestra_analytics.superset.settings import BundleSettings, DatabaseTarget

SCHEMA = "demo"
STACK = "demo"


@dataclass(frozen=True)
class DemoWeek:
    dsn: str  # as the tests' owner role
    sample: Sample
    records: int  # parsed into access_logs
    rejected: int  # kept aside in rejected_logs
    bundle: Bundle
    dashboards_password: str


def load_demo_week(pg_server: PostgresServer) -> Iterator[DemoWeek]:
    """A database holding the demo's default week, parsed and aggregated; dropped afterwards."""
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    name = pg_server.create_database()
    dsn = pg_server.dsn_for(name)
    password = secrets.token_urlsafe(16)
    try:
        run.migrate_schema(dsn, "timescaledb", SCHEMA)
        with psycopg.connect(dsn, autocommit=True) as conn:
            roles.set_passwords(conn, DatabaseSettings(schema=SCHEMA), {"dashboards": password})
        sample = generate(seed=DEFAULT_SEED, records=DEFAULT_RECORDS)
        run.ingest(dsn, sample.buffer_rows(), SCHEMA)
        summary = run.parse(dsn, schema=SCHEMA)
        run.refresh(dsn, sample, SCHEMA)
        params = conninfo_to_dict(dsn)
        target = DatabaseTarget(
            host=str(params.get("host") or "127.0.0.1"),
            port=int(params.get("port") or 5432),
            database=name,
            username=DatabaseSettings(schema=SCHEMA).roles.dashboards,
            sslmode="disable",
        )
        settings = BundleSettings(STACK, target, schema=SCHEMA, database_name=f"geOrchestra analytics ({STACK})")
        rejected = sum(summary.rejected.values())
        yield DemoWeek(dsn, sample, summary.written, rejected, build_bundle(settings), password)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def demo_week(pg_server: PostgresServer) -> Iterator[DemoWeek]:
    yield from load_demo_week(pg_server)
