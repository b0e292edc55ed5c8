"""Recognising a schema built by georchestra/analytics 2.x, before anything is changed in it.

2.x keeps its raw records in `<schema>.access_logs` too, but with other columns (`app_id`, `request_details`,
`oid`...), beside an `opentelemetry_buffer` and `ogc_summary_*` continuous aggregates. Migrating over it would mix
two schemas under one name, so `db migrate` refuses it and `db status` reports it; `db import-2x` brings its
history over (docs/upgrade-from-2x.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

# Columns only 2.x's access_logs has: this project's has none of them.
_MARK_COLUMNS = ("app_id", "request_details", "oid")
# Buffer tables a 2.x schema may hold, copied into this project's buffer by `db import-2x`.
BUFFER_TABLES = ("opentelemetry_buffer", "otel_buffer")
AGGREGATES = ("ogc_summary_hourly", "ogc_summary_daily", "ogc_summary_monthly")
SOURCE_SCHEMA_IN_PLACE = "analytics_2x"  # where `db import-2x --in-place` moves a 2.x schema
# This project's continuous aggregates with 2.x's ogc_summary_* grain (timescaledb flavor,
# views/ogc_summary_2x.sql.j2).
COMPAT_AGGREGATES = {
    "hourly": "legacy_ogc_hourly",
    "daily": "legacy_ogc_daily",
    "monthly": "legacy_ogc_monthly",
}


@dataclass(frozen=True)
class LegacySchema:
    schema: str
    relations: tuple[str, ...]  # what 2.x left there, by name

    def describe(self) -> str:
        return f"schema {self.schema!r} holds a georchestra-analytics 2.x database ({', '.join(self.relations)})"

    def ways_forward(self, target: str) -> str:
        return (
            f"either migrate into another schema (spec.database.schema, e.g. {target + '3'!r}) and bring the 2.x "
            f"history over with `georchestra-analytics db import-2x --from-schema {self.schema}`, or run "
            f"`georchestra-analytics db import-2x --in-place`, which renames the 2.x schema to "
            f"{SOURCE_SCHEMA_IN_PLACE!r}, builds a new {target!r} and imports the history into it "
            "(see docs/upgrade-from-2x.md)"
        )


def find_legacy_schema(conn: psycopg.Connection[Any], schema: str) -> LegacySchema | None:
    """The 2.x objects of `schema`, or None when its access_logs (if any) is not 2.x's."""
    marks = conn.execute(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'access_logs' AND column_name = ANY(%s)",
        (schema, list(_MARK_COLUMNS)),
    ).fetchone()
    if not marks or marks[0] != len(_MARK_COLUMNS):
        return None
    names = [
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')"
            " AND c.relname = ANY(%s) ORDER BY c.relname",
            (schema, ["access_logs", "opentelemetry_buffer", *AGGREGATES, "ogc_summary"]),
        )
    ]
    return LegacySchema(schema=schema, relations=tuple(names))


def schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def move_aside(conn: psycopg.Connection[Any], schema: str, new_name: str) -> None:
    """Rename the 2.x schema, so this project's schema can take its name (TimescaleDB follows the rename in its
    catalog: hypertables, aggregates and jobs keep working under the new name)."""
    if schema_exists(conn, new_name):
        raise ValueError(f"cannot move schema {schema!r} aside: schema {new_name!r} already exists")
    conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(schema), sql.Identifier(new_name)))


# What 2.x creates, dropped in this order (aggregates before what they read); data-api aggregates when present.
_DROP_ORDER = (
    ("VIEW", "ogc_summary"),
    *(("MATERIALIZED VIEW", f"{family}_summary_{level}") for family in ("ogc", "dataapi")
      for level in ("monthly", "daily", "hourly")),
    ("TABLE", "access_logs"),
    ("TABLE", "opentelemetry_buffer"),
)  # fmt: skip


def drop_legacy(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """Drop the 2.x objects of `schema` (their policies go with them), then the schema if nothing else is left
    in it. Returns what was dropped."""
    dropped = []
    with conn.transaction():
        for kind, name in _DROP_ORDER:
            if conn.execute("SELECT to_regclass(%s)", (sql.Identifier(schema, name).as_string(conn),)).fetchone() == (
                None,
            ):
                continue
            conn.execute(sql.SQL(f"DROP {kind} {{}}").format(sql.Identifier(schema, name)))
            dropped.append(f"{schema}.{name}")
        left = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            (schema,),
        ).fetchone()
        if left and left[0] == 0:
            conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(schema)))
            dropped.append(f"schema {schema}")
    return dropped
