"""Writing parsed records and rejects: what the parse job calls inside its one transaction per batch.

`write_records` COPYs the batch into a temporary staging table, then inserts with ON CONFLICT (ts, id) DO
NOTHING; only the rows really inserted go on to the per-layer table and, on the postgresql flavor, into the
rollups. A replayed batch therefore counts nothing twice. Nothing here commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db import aggregates
from georchestra_analytics.db.aggregates import LAYER_ROW_COLUMNS
from georchestra_analytics.db.context import schema_context
from georchestra_analytics.db.copy_text import copy_lines, line_writer
from georchestra_analytics.db.schema_info import SchemaInfo, read_schema_info
from georchestra_analytics.db.sql_templates import Quoted, render
from georchestra_analytics.parser.record import RECORD_COLUMNS, Reject

_INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
STAGING = "staging_access_logs"
INSERTED = "inserted_access_logs"
STAGING_LAYERS = "staging_access_log_layers"


class InvalidRecord(ValueError):
    """A record the writer cannot store; the parse job should have rejected it. Says which and why."""


# The columns by kind, for record_problem: one pass per kind, exact type tests (bool is not an integer here).
_COLUMN_NAMES = frozenset(RECORD_COLUMNS)
_TEXT_KEYS = tuple(key for key, kind in RECORD_COLUMNS.items() if kind == "text" and key != "id")
_INT_KEYS = tuple((key, kind, _INT_RANGES[kind]) for key, kind in RECORD_COLUMNS.items() if kind in _INT_RANGES)
_FLOAT_KEYS = tuple(key for key, kind in RECORD_COLUMNS.items() if kind == "double precision")
_BOOL_KEYS = tuple(key for key, kind in RECORD_COLUMNS.items() if kind == "boolean")
_LIST_KEYS = tuple(key for key, kind in RECORD_COLUMNS.items() if kind == "text[]")
_OBJECT_KEYS = tuple(key for key, kind in RECORD_COLUMNS.items() if kind == "jsonb")


def record_problem(record: Mapping[str, Any]) -> str | None:
    """Why this record cannot be stored, or None. Cheap enough to run on every record (twice: the parser's
    dry-run check and the writer's)."""
    if not _COLUMN_NAMES.issuperset(record):
        return f"unknown keys {sorted(set(record) - _COLUMN_NAMES)}"
    get = record.get
    record_id = get("id")
    if not record_id or type(record_id) is not str:
        return "missing id"
    ts = get("ts")
    if isinstance(ts, str):
        try:
            datetime.fromisoformat(ts)
        except ValueError:
            return f"ts is not ISO 8601: {ts!r}"
    elif not isinstance(ts, datetime):
        return "missing ts"
    for key in _TEXT_KEYS:
        value = get(key)
        if value is not None and not isinstance(value, str):
            return f"{key} is not a string: {value!r}"
    for key, kind, limit in _INT_KEYS:
        value = get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not -limit < value < limit):
            return f"{key} is not a {kind}: {value!r}"
    for key in _FLOAT_KEYS:
        value = get(key)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            return f"{key} is not a number: {value!r}"
    for key in _BOOL_KEYS:
        value = get(key)
        if value is not None and value is not True and value is not False:
            return f"{key} is not a boolean: {value!r}"
    for key in _LIST_KEYS:
        value = get(key)
        if value is None:
            continue
        if not isinstance(value, list | tuple):
            return f"{key} is not a list of strings: {value!r}"
        for item in value:
            if not isinstance(item, str):
                return f"{key} is not a list of strings: {value!r}"
    for key in _OBJECT_KEYS:
        value = get(key)
        if value is not None and not isinstance(value, dict):
            return f"{key} is not an object: {value!r}"
    return None


_copy_line = line_writer(RECORD_COLUMNS)


def _column_list(prefix: str = "") -> sql.Composed:
    return sql.SQL(", ").join(sql.SQL(prefix) + sql.Identifier(key) for key in RECORD_COLUMNS)


@cache
def _temp_tables_sql(flavor: str) -> bytes:
    """Create (once per session) and empty the batch's temporary tables, in one round trip. The timescaledb
    flavor needs only the staging table: its aggregates are not written by the batch."""
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(key), sql.SQL(sql_type)) for key, sql_type in RECORD_COLUMNS.items()
    )
    layer_definition = sql.SQL(", ").join(
        [
            sql.SQL("ts timestamptz, id text, layer text, workspace text"),
            *(
                sql.SQL("{} {}").format(sql.Identifier(key), sql.SQL(RECORD_COLUMNS[key]))
                for key in aggregates.LAYER_ROW_COLUMNS
            ),
        ]
    )
    tables: list[tuple[str, sql.Composable]] = [(STAGING, definition)]
    if flavor == "postgresql":
        tables += [(INSERTED, definition), (STAGING_LAYERS, layer_definition)]
        tables += [(_hours_table(family), _hours_definition(family)) for family in aggregates.FAMILIES]
    statements = [
        sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            sql.Identifier(name), columns
        )
        for name, columns in tables
    ]
    statements.append(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier(name) for name, _ in tables)))
    return sql.SQL("; ").join(statements).as_bytes(None)


def _hours_table(family: str) -> str:
    """The temporary table a batch's rows of one family are grouped into by hour (rollups/batch.sql.j2)."""
    return f"rollup_hours_{family}"


def _hours_definition(family: str) -> sql.Composable:
    columns: list[sql.Composable] = [sql.SQL("bucket timestamptz")]
    columns += [
        sql.SQL("{} {}").format(sql.Identifier(dim.name), sql.SQL(dim.type)) for dim in aggregates.DIMENSIONS[family]
    ]
    columns += [sql.SQL("{} {}").format(sql.Identifier(m.name), sql.SQL(m.type)) for m in aggregates.MEASURES]
    return sql.SQL(", ").join(columns)


def _prepare_temp_tables(cursor: psycopg.Cursor[Any], flavor: str = "postgresql") -> None:
    cursor.execute(_temp_tables_sql(flavor))


@cache
def _rollup_statements(schema: str, time_zone: str) -> bytes:
    """Every rollup upsert of a batch, sent as one round trip: per family, its rows grouped by hour once into a
    temporary table, then the hourly, daily and monthly upserts from it, in that order (rollups/batch.sql.j2)."""
    context = schema_context(schema, time_zone, "postgresql")
    statements = []
    for family in aggregates.FAMILIES:
        table = STAGING_LAYERS if aggregates.SOURCE_TABLE[family] == "access_log_layers" else INSERTED
        source = Quoted(sql.Identifier("pg_temp", table).as_string(None))
        hours = Quoted(sql.Identifier("pg_temp", _hours_table(family)).as_string(None))
        statements.append(render("rollups/batch.sql.j2", **context, family=family, source=source, hours=hours))
    return "\n".join(statements).encode()


def _lines(records: Iterable[Mapping[str, Any]], checked: bool, counter: list[int]) -> Iterator[str]:
    for position, record in enumerate(records):
        problem = None if checked else record_problem(record)
        if problem:
            raise InvalidRecord(f"record {position} (id {record.get('id')!r}): {problem}")
        counter[0] += 1
        yield _copy_line(record)


def _ensure_partitions(cursor: psycopg.Cursor[Any], schema: str) -> None:
    """The partitions of the periods the batch holds, not of the span between its oldest and newest record: one
    record of year 1 beside one of today would otherwise create a partition for every period between. A batch
    nearly always lies in one period: then its oldest and newest record name it, and partition_start (a function
    call per row) runs twice instead of once per record."""
    ensure = sql.Identifier(schema, "ensure_partitions")
    start = sql.Identifier(schema, "partition_start")
    staging = sql.Identifier(STAGING)
    row = cursor.execute(
        sql.SQL("SELECT {start}(min(ts)), {start}(max(ts)) FROM {staging}").format(start=start, staging=staging)
    ).fetchone()
    if row is not None and row[0] == row[1]:
        cursor.execute(sql.SQL("SELECT {ensure}(%s, %s)").format(ensure=ensure), (row[0], row[0]))
        return
    cursor.execute(
        sql.SQL(
            "SELECT {ensure}(period, period) FROM"
            " (SELECT DISTINCT {start}(ts) AS period FROM {staging}) periods ORDER BY period"
        ).format(ensure=ensure, start=start, staging=staging)
    )


@cache
def _insert_sql(schema: str, flavor: str) -> bytes:
    """The batch's records into access_logs, each (ts, id) once and only if new, and their layer rows into
    access_log_layers, in one round trip. On the postgresql flavor the new rows also go to temporary tables for
    the rollups; on timescaledb it is one statement, which returns how many records were new. Only the keys are
    read back (RETURNING ts, id): the parse job may read no more of access_logs."""
    layer_columns = sql.SQL(", ").join(map(sql.Identifier, ("ts", "id", "layer", "workspace", *LAYER_ROW_COLUMNS)))
    context = {
        "table": sql.Identifier(schema, "access_logs"),
        "layers_table": sql.Identifier(schema, "access_log_layers"),
        "columns": _column_list(),
        "staged": _column_list("s."),
        "staging": sql.Identifier(STAGING),
        "inserted": sql.Identifier(INSERTED),
        "staging_layers": sql.Identifier(STAGING_LAYERS),
        "layer_columns": layer_columns,
        "prefixed": sql.SQL(", ").join(sql.SQL("i.") + sql.Identifier(c) for c in LAYER_ROW_COLUMNS),
    }
    new_keys = (
        "inserted AS (INSERT INTO {table} ({columns})"
        " SELECT DISTINCT ON (ts, id) {columns} FROM {staging} ORDER BY ts, id"
        " ON CONFLICT (ts, id) DO NOTHING RETURNING ts, id)"
    )
    new_rows = (
        "SELECT DISTINCT ON (s.ts, s.id) {staged} FROM {staging} s JOIN inserted USING (ts, id) ORDER BY s.ts, s.id"
    )
    layer_rows = (
        "SELECT i.ts, i.id, l.layer, CASE WHEN position(':' in l.layer) > 0 THEN split_part(l.layer, ':', 1) END,"
        " {prefixed} FROM {source} i CROSS JOIN LATERAL (SELECT DISTINCT unnest(i.layers) AS layer) l"
        " WHERE l.layer IS NOT NULL AND l.layer <> ''"
    )
    if flavor == "postgresql":
        text = (
            "WITH " + new_keys + " INSERT INTO {inserted} ({columns}) " + new_rows + ";"
            " INSERT INTO {staging_layers} ({layer_columns}) " + layer_rows.replace("{source}", "{inserted}") + ";"
            " INSERT INTO {layers_table} ({layer_columns}) SELECT {layer_columns} FROM {staging_layers}"
        )
    else:
        text = (
            "WITH " + new_keys + ", new AS (" + new_rows + "),"
            " layers AS (INSERT INTO {layers_table} ({layer_columns}) " + layer_rows.replace("{source}", "new") + ")"
            " SELECT count(*) FROM inserted"
        )
    return sql.SQL(text).format(**context).as_bytes(None)


def write_records(
    conn: psycopg.Connection[Any],
    schema: str,
    records: Iterable[Mapping[str, Any]],
    *,
    info: SchemaInfo | None = None,
    checked: bool = False,
) -> int:
    """Store a batch of parsed records; returns how many were new (replays and duplicates are skipped).
    `checked`: every record already passed record_problem (the parse pipeline checks each one), so it is not
    checked twice on the hot path."""
    info = info or read_schema_info(conn, schema)
    with conn.cursor() as cursor:
        _prepare_temp_tables(cursor, info.flavor)
        copy_query = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(STAGING), _column_list())
        counter = [0]
        with cursor.copy(copy_query) as copy:
            copy_lines(copy, _lines(records, checked, counter))
        if counter[0] == 0:
            return 0
        if info.flavor == "postgresql":
            _ensure_partitions(cursor, schema)
        cursor.execute(_insert_sql(schema, info.flavor))
        if info.flavor != "postgresql":
            row = cursor.fetchone()
            return int(row[0]) if row else 0
        inserted = cursor.rowcount
        if inserted > 0:
            cursor.execute(_rollup_statements(schema, info.time_zone))
    return inserted


REJECTS_STAGING = "staging_rejected_logs"


def storable_json(raw: Any) -> str:
    """`raw` as jsonb text PostgreSQL accepts: what is not JSON as its text, lone surrogates replaced, no
    `\\u0000` (jsonb refuses both); nesting is already bounded by the reader."""
    try:
        text = json.dumps(raw, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:  # an infinite or NaN float: no JSON for it, its text is kept instead
        text = json.dumps({"repr": repr(raw)}, ensure_ascii=False)
    if "\\u0000" in text:
        text = text.replace("\\u0000", "\\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def write_rejects(
    conn: psycopg.Connection[Any],
    schema: str,
    rejects: Iterable[Reject | Mapping[str, Any]],
    *,
    new_ids: set[str] | None = None,
) -> int:
    """Keep what could not be used, with its reason; a reject whose id is already stored is skipped (a replay
    or a re-ingest). Returns how many were new; `new_ids` receives their ids."""
    with conn.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS {} (id text, reason text, raw jsonb, source text)"
                " ON COMMIT DELETE ROWS"
            ).format(sql.Identifier(REJECTS_STAGING))
        )
        cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(REJECTS_STAGING)))
        query = sql.SQL("COPY {} (id, reason, raw, source) FROM STDIN").format(sql.Identifier(REJECTS_STAGING))
        count = 0
        with cursor.copy(query) as copy:
            for reject in rejects:
                if isinstance(reject, Reject):
                    reason, raw, source, reject_id = reject.reason, reject.raw, reject.source, reject.id
                else:
                    reason, raw, source = reject["reason"], reject.get("raw"), reject.get("source")
                    reject_id = reject.get("id")
                if not reason:
                    raise ValueError("a reject needs a reason")
                copy.write_row([reject_id, reason, None if raw is None else storable_json(raw), source])
                count += 1
        if count == 0:
            return 0
        # One row per id within the batch too (the same line twice in one batch is one reject).
        cursor.execute(
            sql.SQL(
                "INSERT INTO {target} (id, reason, raw, source)"
                " SELECT id, reason, raw, source FROM {staging} WHERE id IS NULL"
                " UNION ALL"
                " SELECT DISTINCT ON (id) id, reason, raw, source FROM {staging} WHERE id IS NOT NULL"
                " ON CONFLICT DO NOTHING"  # no conflict target: that would need SELECT, the parser has none
                " RETURNING id"
            ).format(target=sql.Identifier(schema, "rejected_logs"), staging=sql.Identifier(REJECTS_STAGING))
        )
        inserted = 0
        for (reject_id,) in cursor:
            inserted += 1
            if new_ids is not None and reject_id is not None:
                new_ids.add(reject_id)
        return inserted
