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

# Columns only 2.x's access_logs has: this project's has none of them.
_MARK_COLUMNS = ("app_id", "request_details", "oid")
BUFFER_TABLES = ("opentelemetry_buffer", "otel_buffer")
AGGREGATES = ("ogc_summary_hourly", "ogc_summary_daily", "ogc_summary_monthly")
SOURCE_SCHEMA_IN_PLACE = "analytics_2x"  # where `db import-2x --in-place` moves a 2.x schema


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
