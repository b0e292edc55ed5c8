"""The record's one declaration (parser.record.AccessRecord) is what both flavors' migrations create: the same
columns, in the same order, of the same SQL types; the writer's staging table is built from it."""

from __future__ import annotations

import psycopg
import pytest

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.record import RECORD_COLUMNS, RECORD_KEYS

SCHEMA = "analytics"


def _columns(dsn: str, table: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (f"{SCHEMA}.{table}",),
        ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows]


# format_type spells some types in full.
_SPELLED = {"timestamptz": "timestamp with time zone", "text[]": "text[]"}


def _declared() -> list[tuple[str, str]]:
    return [(key, _SPELLED.get(kind, kind)) for key, kind in RECORD_COLUMNS.items()]


def test_the_postgresql_flavor_creates_the_declared_columns(pg_dsn: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    assert _columns(pg_dsn, "access_logs") == _declared()
    assert tuple(RECORD_COLUMNS) == RECORD_KEYS


@pytest.mark.timescale
def test_the_timescaledb_flavor_creates_the_declared_columns(timescale_dsn: str) -> None:
    migrate(timescale_dsn, DatabaseSettings(flavor="timescaledb"))
    assert _columns(timescale_dsn, "access_logs") == _declared()


def test_the_staging_table_follows_the_declaration(pg_dsn: str) -> None:
    """The writer's temporary staging table is created from RECORD_COLUMNS: same columns as access_logs."""
    from georchestra_analytics.db.writer import STAGING, _prepare_temp_tables

    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    with psycopg.connect(pg_dsn) as conn, conn.transaction(), conn.cursor() as cursor:
        _prepare_temp_tables(cursor)
        staged = cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (f"pg_temp.{STAGING}",),
        ).fetchall()
    assert [(str(name), str(kind)) for name, kind in staged] == _declared()
