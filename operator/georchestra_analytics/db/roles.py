"""The three login roles (collector, parser, dashboards): created if missing, passwords set from the environment.

Passwords never appear in SQL files or logs. `db migrate` reads them from ANALYTICS_COLLECTOR_PASSWORD,
ANALYTICS_PARSER_PASSWORD and ANALYTICS_DASHBOARDS_PASSWORD (the operator fills these from generated Secrets)
and skips a password the role already has, so an up-to-date database stays untouched.

Role names are `<prefix>_<purpose>` (the prefix is `spec.database.rolePrefix`, else the schema name). The schema
records the names it was last granted to; when they change, the previous roles lose every privilege on the
schema in this database (docs/two-stacks.md). The roles themselves are left on the server: another database may
still use them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.stack import environment

PASSWORD_VARIABLES = environment.ROLE_PASSWORDS
PURPOSES = ("collector", "parser", "dashboards", "aggregates")
# Keys of the schema's settings table recording the role of each purpose.
RECORDED_ROLE_KEYS = {purpose: f"role_{purpose}" for purpose in PURPOSES}
log = logging.getLogger(__name__)


def role_names(settings: DatabaseSettings) -> dict[str, str]:
    roles = settings.roles
    return {"collector": roles.collector, "parser": roles.parser, "dashboards": roles.dashboards}


def passwords_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {purpose: environ[variable] for purpose, variable in PASSWORD_VARIABLES.items() if environ.get(variable)}


def ensure_roles(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    """Create the missing roles (no special attribute), and take the schema's privileges from the roles it used
    before, when the names changed. Returns the names created.

    The three login roles always; on timescaledb also the role that owns the continuous aggregates
    (refreshing one takes its owner's rights, and the parse job refreshes what it wrote). TimescaleDB runs an
    aggregate's policies as its owner, which must therefore have LOGIN; it never gets a password."""
    wanted = [(name, "LOGIN") for name in role_names(settings).values()]
    if settings.flavor == "timescaledb":
        wanted.append((settings.roles.aggregates, "LOGIN"))
    created = []
    for name, login in wanted:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE ROLE {} {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION").format(
                    sql.Identifier(name), sql.SQL(login)
                )
            )
            created.append(name)
    retire_previous_roles(conn, settings)
    return created


def retire_previous_roles(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    """Revoke, in this database, every privilege on the schema from the roles it recorded before (or, for a
    schema from before the record, the names every earlier version used: `<schema>_<purpose>`) that are not
    among the current names; then record the current names. Objects a previous role owns (the aggregates) are
    left to the grants, which give them to the new owner. Returns the roles retired."""
    current = {**role_names(settings), "aggregates": settings.roles.aggregates}
    table = sql.Identifier(settings.schema, "settings")
    recorded = dict(
        conn.execute(
            sql.SQL("SELECT key, value FROM {} WHERE key = ANY(%s)").format(table), (list(RECORDED_ROLE_KEYS.values()),)
        ).fetchall()
    )
    retired = []
    for purpose, key in RECORDED_ROLE_KEYS.items():
        previous = recorded.get(key, f"{settings.schema}_{purpose}")
        if previous not in current.values() and _role_exists(conn, previous):
            _revoke_schema(conn, settings.schema, previous)
            retired.append(previous)
        if recorded.get(key) != current[purpose]:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                ).format(table),
                (key, current[purpose]),
            )
    for name in retired:
        log.info("role %s no longer has privileges on schema %s (the stack's roles are renamed)", name, settings.schema)
    return retired


def _role_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _revoke_schema(conn: psycopg.Connection[Any], schema: str, role: str) -> None:
    """Every privilege of `role` on the schema and what it holds, except on the objects the role owns."""
    relations = conn.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)""",
        (schema, role),
    ).fetchall()
    for (relation,) in relations:
        conn.execute(
            sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.Identifier(schema, relation), sql.Identifier(role))
        )
    conn.execute(
        sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM {}").format(sql.Identifier(schema), sql.Identifier(role))
    )
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), sql.Identifier(role)))


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from this password."""
    try:
        method, rest = verifier.split("$", 1)
        iterations_salt, keys = rest.split("$", 1)
        iterations, salt = iterations_salt.split(":", 1)
        stored_key = keys.split(":", 1)[0]
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key)


def set_passwords(conn: psycopg.Connection[Any], settings: DatabaseSettings, passwords: Mapping[str, str]) -> list[str]:
    """Set the given passwords (by purpose) where the role does not have them yet. Returns the roles changed."""
    names = role_names(settings)
    changed = []
    for purpose, password in passwords.items():
        name = names[purpose]
        try:
            with conn.transaction():  # a savepoint: a refused read must not abort the migration's transaction
                row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,)).fetchone()
            current = row[0] if row else None
        except psycopg.errors.InsufficientPrivilege:
            current = None  # cannot tell (a managed PostgreSQL): set it
        if current and _scram_matches(current, password):
            continue
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(scram_verifier(conn, name, password))
            )
        )
        changed.append(name)
    return changed


def scram_verifier(conn: psycopg.Connection[Any], name: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of `password`, computed by libpq on this side: the server (and its statement
    log, e.g. under log_statement=ddl) only ever sees the verifier, never the password."""
    return conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
