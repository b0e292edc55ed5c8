"""Two stacks on one PostgreSQL server (docs/two-stacks.md): with distinct schemas each gets its own roles,
passwords and grants, in one database or two; with the same schema name in two databases they share the
server-wide roles, and the last `db migrate` sets the passwords of both stacks' pods."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.support.postgres import PostgresServer

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.roles import _scram_matches, role_names
from georchestra_analytics.db.settings import DatabaseSettings


def _passwords(tag: str) -> dict[str, str]:
    return {purpose: f"{purpose}-{tag}-pw" for purpose in ("collector", "parser", "dashboards")}


def _verifier(dsn: str, role: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    assert row is not None and row[0]
    return str(row[0])


@pytest.fixture
def two_databases(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    names = [pg_server.create_database(), pg_server.create_database()]
    try:
        yield pg_server.dsn_for(names[0]), pg_server.dsn_for(names[1])
    finally:
        for name in names:
            pg_server.drop_database(name)


def test_distinct_schemas_in_one_database_keep_roles_and_grants_apart(pg_dsn: str) -> None:
    staging = DatabaseSettings(schema="analytics_staging", flavor="postgresql")
    production = DatabaseSettings(schema="analytics_prod", flavor="postgresql")
    migrate(pg_dsn, staging, passwords=_passwords("staging"))
    migrate(pg_dsn, production, passwords=_passwords("prod"))

    staging_roles, production_roles = role_names(staging), role_names(production)
    assert set(staging_roles.values()).isdisjoint(production_roles.values())
    for purpose, password in _passwords("staging").items():
        assert _scram_matches(_verifier(pg_dsn, staging_roles[purpose]), password)
    for purpose, password in _passwords("prod").items():
        assert _scram_matches(_verifier(pg_dsn, production_roles[purpose]), password)
    # One stack's collector writes into its own buffer, not into the other's.
    row = {"message": "GET / HTTP/1.1", "source_type": "file"}
    with psycopg.connect(make_conninfo(pg_dsn, user=staging_roles["collector"])) as conn:
        assert insert_buffer_rows(conn, "analytics_staging", [row]) == 1
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert_buffer_rows(conn, "analytics_prod", [row])


def test_the_same_schema_in_two_databases_shares_the_roles(two_databases: tuple[str, str]) -> None:
    first, second = two_databases
    settings = DatabaseSettings(schema="shared_name", flavor="postgresql")
    migrate(first, settings, passwords=_passwords("first"))
    migrate(second, settings, passwords=_passwords("second"))

    collector = role_names(settings)["collector"]
    # One role for both stacks: the second stack's db-migrate gave it the second stack's password, so the first
    # stack's collector, logging in with its own Secret, would now be refused.
    assert not _scram_matches(_verifier(first, collector), "collector-first-pw")
    assert _scram_matches(_verifier(first, collector), "collector-second-pw")
    # And that one role may write into both stacks' buffers.
    row = {"message": "GET / HTTP/1.1", "source_type": "file"}
    for dsn in (first, second):
        with psycopg.connect(make_conninfo(dsn, user=collector)) as conn:
            assert insert_buffer_rows(conn, "shared_name", [row]) == 1
            conn.commit()
