"""The PostgreSQL tier: a throwaway cluster for the whole session, a fresh database per test.

`ANALYTICS_TEST_DSN` points the tier at an existing server instead (it needs the right to create databases).
`ANALYTICS_TIMESCALEDB_TARBALL` names a TimescaleDB build to add to the cluster's server (tests/support/
timescaledb.py). The `timescale` fixtures skip, saying exactly why, when the timescaledb extension cannot be
created; they fail instead when `ANALYTICS_REQUIRE` names timescaledb (tests/support/components.py).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from georchestra_analytics.db.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_bindir
from tests.support import timescaledb
from tests.support.components import skip_or_fail


@dataclass
class PostgresServer:
    """What the tests need to know about the server they run against."""

    dsn: str  # a maintenance database, for CREATE/DROP DATABASE
    embedded: EmbeddedPostgres | None
    timescaledb_missing: str | None  # None when the extension can be created; else why not

    def dsn_for(self, dbname: str) -> str:
        return make_conninfo(self.dsn, dbname=dbname)

    def create_database(self) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _probe_timescaledb(server: PostgresServer) -> str | None:
    name = server.create_database()
    try:
        with psycopg.connect(server.dsn_for(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            license_row = conn.execute("SHOW timescaledb.license").fetchone()
            if license_row and license_row[0] != "timescale":
                return (
                    f"timescaledb is the {license_row[0]!r} build; continuous aggregates and policies need the "
                    "Timescale License (community) build"
                )
        return None
    except psycopg.Error as error:
        where = "the server at ANALYTICS_TEST_DSN" if server.embedded is None else "the test cluster's binaries"
        hint = "" if server.embedded is None or os.environ.get(timescaledb.TARBALL_ENV) else (
            f"; set {timescaledb.TARBALL_ENV} to a TimescaleDB build for this PostgreSQL major version"
        )  # fmt: skip
        return f"timescaledb extension not available on {where}: {str(error).strip().splitlines()[0]}{hint}"
    finally:
        server.drop_database(name)


def server_binaries() -> tuple[Path | None, str | None]:
    """The bin folder the test cluster runs from, and why TimescaleDB cannot be added to it (None: it can, or
    nobody asked). With ANALYTICS_TIMESCALEDB_TARBALL, a private server tree with the extension added."""
    tarball = os.environ.get(timescaledb.TARBALL_ENV)
    if not tarball:
        return None, None
    try:
        return timescaledb.install(Path(tarball)), None
    except (timescaledb.TimescaleInstallError, OSError, subprocess.SubprocessError) as error:
        return None, f"{timescaledb.TARBALL_ENV}={tarball} cannot be installed: {error}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    external = os.environ.get("ANALYTICS_TEST_DSN")
    if external:
        params = conninfo_to_dict(external)
        server = PostgresServer(
            dsn=make_conninfo(external, dbname=params.get("dbname") or "postgres"),
            embedded=None,
            timescaledb_missing=None,
        )
        server.timescaledb_missing = _probe_timescaledb(server)
        yield server
        return
    bindir, install_error = server_binaries()
    try:
        embedded = EmbeddedPostgres(bindir=bindir or find_bindir()).start()
    except EmbeddedPostgresError as error:
        pytest.fail(f"cannot start the test PostgreSQL cluster: {error}")
    try:
        server = PostgresServer(dsn=embedded.dsn, embedded=embedded, timescaledb_missing=None)
        server.timescaledb_missing = install_error or _probe_timescaledb(server)
        yield server
    finally:
        embedded.stop()


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> Iterator[str]:
    """A DSN to a fresh, empty database, dropped after the test."""
    name = pg_server.create_database()
    try:
        yield pg_server.dsn_for(name)
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def timescale_dsn(pg_server: PostgresServer) -> Iterator[str]:
    """A DSN to a fresh database with the timescaledb extension created; skips where it cannot be."""
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    name = pg_server.create_database()
    try:
        with psycopg.connect(pg_server.dsn_for(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        yield pg_server.dsn_for(name)
    finally:
        pg_server.drop_database(name)
