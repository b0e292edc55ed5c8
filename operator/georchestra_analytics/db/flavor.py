"""Which flavor a database runs, and whether the server can run the one requested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from georchestra_analytics.db.settings import DatabaseSettings

MIN_SERVER_VERSION = 150000  # UNIQUE ... NULLS NOT DISTINCT (rollup keys), date_trunc with a time zone


class FlavorError(RuntimeError):
    """The server cannot run the requested flavor; the message says why and what to do."""


@dataclass(frozen=True)
class ServerInfo:
    flavor: str
    server_version: str
    extension_version: str | None  # timescaledb's installed version, when installed
    license: str | None  # timescaledb.license: "timescale" (community) or "apache"


def _scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params or None).fetchone()
    return row[0] if row else None


def check_server(conn: psycopg.Connection[Any], settings: DatabaseSettings, *, create_extension: bool) -> ServerInfo:
    """Raise FlavorError when the server cannot run `settings.flavor`; create the extension when asked."""
    version_num = int(_scalar(conn, "SHOW server_version_num"))
    server_version = str(_scalar(conn, "SHOW server_version"))
    if version_num < MIN_SERVER_VERSION:
        raise FlavorError(f"PostgreSQL {server_version} is too old: georchestra-analytics needs 15 or later")
    installed = _scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    if settings.flavor == "postgresql":
        return ServerInfo("postgresql", server_version, installed, None)
    available = _scalar(conn, "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")
    if installed is None and available is None:
        raise FlavorError(
            "database flavor 'timescaledb' was requested but this server has no timescaledb extension: "
            "install TimescaleDB (and add it to shared_preload_libraries), or set the database flavor to "
            "'postgresql'"
        )
    if installed is None:
        if not create_extension:
            raise FlavorError("the timescaledb extension is available but not created in this database")
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error as error:
            raise FlavorError(f"cannot create the timescaledb extension: {error}".strip()) from error
        installed = _scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    license_name = _scalar(conn, "SELECT current_setting('timescaledb.license', true)")
    if license_name and license_name != "timescale":
        raise FlavorError(
            f"timescaledb runs its {license_name!r} build: continuous aggregates and policies need the "
            "Timescale License (community) build; install it or set the database flavor to 'postgresql'"
        )
    return ServerInfo("timescaledb", server_version, installed, license_name)
