"""What `db migrate` recorded about a schema (flavor, time zone), read back by the writer and the refresh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


class SchemaNotMigrated(RuntimeError):
    """The schema has not been set up by `georchestra-analytics db migrate`."""


@dataclass(frozen=True)
class SchemaInfo:
    schema: str
    flavor: str
    time_zone: str


def read_schema_info(conn: psycopg.Connection[Any], schema: str) -> SchemaInfo:
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT key, value FROM {}").format(sql.Identifier(schema, "settings")))
            values = dict(cursor.fetchall())
    except psycopg.errors.UndefinedTable as error:
        raise SchemaNotMigrated(
            f"schema {schema!r} is not set up: run `georchestra-analytics db migrate` first"
        ) from error
    missing = {"flavor", "time_zone"} - set(values)
    if missing:
        raise SchemaNotMigrated(f"schema {schema!r} lacks settings {sorted(missing)}: run `db migrate`")
    return SchemaInfo(schema=schema, flavor=values["flavor"], time_zone=values["time_zone"])
