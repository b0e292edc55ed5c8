"""Least privilege: each role can do its job and is refused the rest."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from tests.support.analytics_db import random_records, utc
from tests.support.postgres import PostgresServer

from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS
from georchestra_analytics.db.buffer import claim_batch, delete_claimed, insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.writer import Reject, write_records, write_rejects

SETTINGS = DatabaseSettings(schema="usage_roles", flavor="postgresql")


@pytest.fixture
def role_dsn(pg_dsn: str) -> Callable[[str], str]:
    passwords = {purpose: secrets.token_urlsafe(16) for purpose in ("collector", "parser", "dashboards")}
    migrate(pg_dsn, SETTINGS, passwords=passwords)
    names = SETTINGS.roles
    users = {"collector": names.collector, "parser": names.parser, "dashboards": names.dashboards}
    return lambda purpose: make_conninfo(pg_dsn, user=users[purpose], password=passwords[purpose])


def _refused(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)  # type: ignore[arg-type]


def test_collector_only_appends_to_the_buffer(role_dsn: Callable[[str], str]) -> None:
    dsn = role_dsn("collector")
    with psycopg.connect(dsn) as conn:
        assert insert_buffer_rows(conn, "usage_roles", [{"message": "GET 200 /ows", "source_type": "file"}]) == 1
    # Vector's postgres sink statement.
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO usage_roles.otel_buffer SELECT * FROM jsonb_populate_recordset(NULL::usage_roles.otel_buffer,"
            " %s::jsonb)",
            ('[{"message": "x", "attributes": {"a": 1}}]',),
        )
    _refused(dsn, "SELECT * FROM usage_roles.otel_buffer")
    _refused(dsn, "DELETE FROM usage_roles.otel_buffer")
    _refused(dsn, "SELECT * FROM usage_roles.access_logs")
    _refused(dsn, "INSERT INTO usage_roles.rejected_logs (reason) VALUES ('x')")
    _refused(dsn, "SELECT * FROM usage_roles.usage_daily")


def test_parser_runs_a_batch_and_no_more(role_dsn: Callable[[str], str]) -> None:
    with psycopg.connect(role_dsn("collector")) as conn:
        insert_buffer_rows(conn, "usage_roles", [{"message": f"line {n}"} for n in range(5)])
    dsn = role_dsn("parser")
    records = random_records(21, 40, utc(2031, 1, 1), timedelta(days=70))  # months with no partition yet
    with psycopg.connect(dsn) as conn, conn.transaction():
        claimed = claim_batch(conn, "usage_roles", 10)
        assert write_records(conn, "usage_roles", records) == 40
        write_rejects(conn, "usage_roles", [Reject("unreadable", {"message": "line 0"}, "test")])
        assert delete_claimed(conn, "usage_roles", [row.ctid for row in claimed]) == 5
    _refused(dsn, "SELECT user_agent FROM usage_roles.access_logs")
    _refused(dsn, "DELETE FROM usage_roles.access_logs")
    _refused(dsn, "SELECT * FROM usage_roles.rejected_logs")
    _refused(dsn, "SELECT * FROM usage_roles.usage_daily")
    _refused(dsn, "DROP TABLE usage_roles.access_logs_default")
    _refused(dsn, "CREATE TABLE usage_roles.mine (x int)")


def test_dashboards_read_the_views_only(role_dsn: Callable[[str], str], pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn, conn.transaction():
        write_records(conn, "usage_roles", random_records(22, 30, utc(2026, 4, 1), timedelta(days=3)))
    dsn = role_dsn("dashboards")
    with psycopg.connect(dsn) as conn:
        for view in DASHBOARD_VIEWS:
            conn.execute(f"SELECT * FROM usage_roles.{view} LIMIT 1")  # type: ignore[arg-type]
        total = conn.execute("SELECT sum(requests) FROM usage_roles.usage_monthly").fetchone()
        assert total == (30,)
    for table in ("access_logs", "access_log_layers", "otel_buffer", "rejected_logs", "agg_usage_daily", "settings"):
        _refused(dsn, f"SELECT * FROM usage_roles.{table}")
    _refused(dsn, "INSERT INTO usage_roles.otel_buffer (message) VALUES ('x')")


def test_passwords_already_set_are_left_alone(pg_dsn: str) -> None:
    passwords = {"collector": "s3cret'; --", "parser": secrets.token_urlsafe(8)}
    first = migrate(pg_dsn, SETTINGS, passwords=passwords)
    second = migrate(pg_dsn, SETTINGS, passwords=passwords)
    rotated = migrate(pg_dsn, SETTINGS, passwords={**passwords, "parser": "another"})
    assert set(first.passwords_set) == {SETTINGS.roles.collector, SETTINGS.roles.parser}
    assert second.passwords_set == [] and not second.changed
    assert rotated.passwords_set == [SETTINGS.roles.parser]
    with psycopg.connect(make_conninfo(pg_dsn, user=SETTINGS.roles.collector, password="s3cret'; --")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (SETTINGS.roles.collector,)


def test_no_password_reaches_the_server_only_its_verifier(pg_server: PostgresServer, pg_dsn: str) -> None:
    """As a managed PostgreSQL's admin (CREATEROLE, no superuser: pg_authid unreadable), with the server logging
    every DDL statement: the roles get their passwords, and the server's log holds SCRAM verifiers only."""
    assert pg_server.embedded is not None, "the server log is read from the throwaway cluster"
    owner, owner_password = "usage_roles_admin", secrets.token_urlsafe(12)
    database = psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                sql.Identifier(owner), sql.Literal(owner_password)
            )
        )
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(owner))
        )
        admin.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'ddl'").format(sql.Identifier(database)))
    passwords = {purpose: f"never-logged-{secrets.token_hex(8)}" for purpose in ("collector", "parser", "dashboards")}
    try:
        result = migrate(make_conninfo(pg_dsn, user=owner, password=owner_password), SETTINGS, passwords=passwords)
        assert set(result.passwords_set) == {SETTINGS.roles.collector, SETTINGS.roles.parser, SETTINGS.roles.dashboards}
        with psycopg.connect(make_conninfo(pg_dsn, user=SETTINGS.roles.parser, password=passwords["parser"])) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (SETTINGS.roles.parser,)
        log = (pg_server.embedded.base / "server.log").read_text(errors="replace")  # type: ignore[operator]
        altered = [line for line in log.splitlines() if "ALTER ROLE" in line and SETTINGS.roles.parser in line]
        assert altered and all("SCRAM-SHA-256$" in line for line in altered), altered
        assert not any(password in log for password in passwords.values())
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            for name in (SETTINGS.roles.collector, SETTINGS.roles.parser, SETTINGS.roles.dashboards, owner):
                admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SETTINGS.schema)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))
