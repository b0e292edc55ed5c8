"""timescaledb flavor: the chunk interval of the raw hypertables follows `spec.database.partitionInterval`.

TimescaleDB applies a new interval to the chunks it creates from then on; existing chunks keep their span.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import RAW_TABLES
from georchestra_analytics.db.settings import DatabaseSettings


def reconcile_chunk_interval(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> list[str]:
    rows = conn.execute(
        "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
        " WHERE hypertable_schema = %s AND hypertable_name = ANY(%s) AND dimension_number = 1",
        (settings.schema, list(RAW_TABLES)),
    ).fetchall()
    actions: list[str] = []
    for table, current in rows:
        if current != settings.chunk_interval:
            conn.execute(
                "SELECT set_chunk_time_interval(%s::regclass, %s)",
                (sql.Identifier(settings.schema, table).as_string(None), settings.chunk_interval),
            )
            actions.append(f"set the chunk interval of {table} to {settings.chunk_interval} (new chunks)")
    return actions
