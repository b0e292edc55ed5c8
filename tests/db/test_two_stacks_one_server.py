"""Two stacks on one PostgreSQL server (docs/two-stacks.md): with distinct schemas, or distinct role prefixes,
each gets its own roles, passwords and grants, in one database or two; with the same schema name and no prefix
in two databases they share the server-wide roles, and the last `db migrate` sets the passwords of both
stacks' pods. The way out: a role prefix on one of them, which takes the schema's privileges from the shared
roles in its database and leaves the other stack's untouched."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from tests.support.postgres import PostgresServer

from georchestra_analytics.db.aggregates import FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.roles import RECORDED_ROLE_KEYS, _scram_matches, role_names
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


ROW = {"message": "GET / HTTP/1.1", "source_type": "file"}


def _writes(dsn: str, role: str, schema: str) -> bool:
    """Whether `role` may append to the schema's buffer in that database."""
    with psycopg.connect(make_conninfo(dsn, user=role)) as conn:
        try:
            insert_buffer_rows(conn, schema, [ROW])
        except psycopg.errors.InsufficientPrivilege:
            return False
        conn.rollback()
        return True


def test_role_prefixes_keep_the_same_schema_in_two_databases_apart(two_databases: tuple[str, str]) -> None:
    first, second = two_databases
    production = DatabaseSettings(schema="analytics", flavor="postgresql", role_prefix="prod")
    staging = DatabaseSettings(schema="analytics", flavor="postgresql", role_prefix="staging")
    migrate(first, production, passwords=_passwords("prod"))
    migrate(second, staging, passwords=_passwords("staging"))

    production_roles, staging_roles = role_names(production), role_names(staging)
    assert production_roles == {"collector": "prod_collector", "parser": "prod_parser", "dashboards": "prod_dashboards"}
    assert set(staging_roles.values()).isdisjoint(production_roles.values())
    for purpose, password in _passwords("prod").items():
        assert _scram_matches(_verifier(first, production_roles[purpose]), password)
    for purpose, password in _passwords("staging").items():
        assert _scram_matches(_verifier(first, staging_roles[purpose]), password)
    assert _writes(first, production_roles["collector"], "analytics")
    assert not _writes(second, production_roles["collector"], "analytics")
    assert _writes(second, staging_roles["collector"], "analytics")
    assert not _writes(first, staging_roles["collector"], "analytics")


def test_a_stack_given_a_prefix_leaves_the_shared_roles_to_the_other(two_databases: tuple[str, str]) -> None:
    """The upgrade path: two stacks that share the default roles; the second one gets a prefix."""
    first, second = two_databases
    shared = DatabaseSettings(schema="analytics", flavor="postgresql")
    migrate(first, shared, passwords=_passwords("first"))
    migrate(second, shared, passwords=_passwords("second"))
    old = role_names(shared)["collector"]
    assert _writes(first, old, "analytics") and _writes(second, old, "analytics")

    renamed = shared.with_changes(role_prefix="moved_staging")
    report = migrate(second, renamed, passwords=_passwords("second"))
    new = role_names(renamed)
    assert sorted(report.roles_created) == sorted(new.values())
    # The shared roles lost the second database's schema, and only that.
    assert not _writes(second, old, "analytics")
    assert _writes(first, old, "analytics")
    assert _writes(second, new["collector"], "analytics")
    with psycopg.connect(second) as conn:
        for role in role_names(shared).values():
            assert conn.execute("SELECT has_schema_privilege(%s, 'analytics', 'USAGE')", (role,)).fetchone() == (False,)
        recorded = dict(conn.execute("SELECT key, value FROM analytics.settings WHERE key LIKE 'role_%'").fetchall())
    assert recorded == {RECORDED_ROLE_KEYS[p]: f"moved_staging_{p}" for p in RECORDED_ROLE_KEYS}

    # The first stack's next db-migrate takes its roles back for good: the second no longer sets their passwords.
    migrate(first, shared, passwords=_passwords("first"))
    migrate(second, renamed, passwords=_passwords("second"))
    for purpose, password in _passwords("first").items():
        assert _scram_matches(_verifier(first, role_names(shared)[purpose]), password)
    for purpose, password in _passwords("second").items():
        assert _scram_matches(_verifier(first, new[purpose]), password)
    assert not migrate(second, renamed, passwords=_passwords("second")).changed


def test_a_prefix_change_moves_the_aggregates_to_the_new_owner(timescale_dsn: str) -> None:
    before = DatabaseSettings(schema="analytics")
    after = before.with_changes(role_prefix="geo")
    migrate(timescale_dsn, before, passwords=_passwords("x"))
    migrate(timescale_dsn, after, passwords=_passwords("x"))
    storage = [storage_name(family, level) for family in FAMILIES for level in LEVELS]
    with psycopg.connect(timescale_dsn) as conn:
        owners = {
            row[0]
            for row in conn.execute(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'analytics'::regnamespace"
                " AND relname = ANY(%s)",
                (storage,),
            ).fetchall()
        }
        assert owners == {"geo_aggregates"}
        assert conn.execute("SELECT pg_has_role('geo_parser', 'geo_aggregates', 'MEMBER')").fetchone() == (True,)
        assert conn.execute("SELECT has_schema_privilege('analytics_aggregates', 'analytics', 'USAGE')").fetchone() == (
            False,
        )
        job_owners = {
            row[0]
            for row in conn.execute(
                "SELECT owner::text FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = ANY(%s)",
                (storage,),
            ).fetchall()
        }
        assert job_owners == {"geo_aggregates"}
