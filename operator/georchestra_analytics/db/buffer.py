"""The landing table `<schema>.otel_buffer`: append (ingest), claim and delete (the parse job).

Rows are claimed with FOR UPDATE SKIP LOCKED, so parallel parse jobs never take the same row, and are deleted
in the same transaction (the parse job does both in one statement, `take_batch`): a failed batch rolls back and
its rows stay for the next run.
Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

BUFFER_COLUMNS: tuple[str, ...] = (
    "timestamp", "observed_timestamp", "message", "attributes", "resources", "scope", "trace_id", "span_id",
    "severity_text", "severity_number", "flags", "dropped_attributes_count", "source_type",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"attributes", "resources", "scope"})
_TIME_COLUMNS = ("timestamp", "observed_timestamp")


@dataclass(frozen=True)
class ClaimedRow:
    ctid: str  # the row's physical address, valid until the claiming transaction ends
    row: dict[str, Any]


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, "otel_buffer")


def claim_batch(conn: psycopg.Connection[Any], schema: str, limit: int) -> list[ClaimedRow]:
    """Lock up to `limit` rows no other transaction holds, and return them with their ctid."""
    if limit < 1:
        raise ValueError(f"batch limit must be positive, got {limit}")
    query = sql.SQL(
        "SELECT ctid::text, {columns}, {unreadable} FROM {table} LIMIT {limit} FOR UPDATE SKIP LOCKED"
    ).format(
        columns=sql.SQL(", ").join(_readable(column) for column in BUFFER_COLUMNS),
        unreadable=sql.SQL(", ").join(_out_of_range(column) for column in _TIME_COLUMNS),
        table=_table(schema),
        limit=sql.Literal(limit),
    )
    width = len(BUFFER_COLUMNS) + 1
    claimed = []
    with conn.cursor() as cursor:
        cursor.execute(query)
        for row in cursor:
            values = dict(zip(BUFFER_COLUMNS, row[1:width], strict=True))
            for column, text in zip(_TIME_COLUMNS, row[width:], strict=True):
                if text is not None:
                    values[column] = text  # not a timestamp Python can hold: the parser rejects it
            claimed.append(ClaimedRow(ctid=row[0], row=values))
    return claimed


def take_batch(conn: psycopg.Connection[Any], schema: str, limit: int) -> list[dict[str, Any]]:
    """Claim and delete up to `limit` rows no other transaction holds, in one statement (one round trip
    instead of a claim and a delete by ctid), and return them. The rows are gone only if the caller's
    transaction commits: a failed batch rolls back and its rows stay for the next run."""
    if limit < 1:
        raise ValueError(f"batch limit must be positive, got {limit}")
    table = _table(schema)
    query = sql.SQL(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} LIMIT {limit} FOR UPDATE SKIP LOCKED))"
        " RETURNING {columns}, {unreadable}"
    ).format(
        columns=sql.SQL(", ").join(_readable(column) for column in BUFFER_COLUMNS),
        unreadable=sql.SQL(", ").join(_out_of_range(column) for column in _TIME_COLUMNS),
        table=table,
        limit=sql.Literal(limit),
    )
    width = len(BUFFER_COLUMNS)
    taken = []
    with conn.cursor() as cursor:
        cursor.execute(query)
        for row in cursor:
            values = dict(zip(BUFFER_COLUMNS, row[:width], strict=True))
            for column, text in zip(_TIME_COLUMNS, row[width:], strict=True):
                if text is not None:
                    values[column] = text  # not a timestamp Python can hold: the parser rejects it
            taken.append(values)
    return taken


# Timestamps PostgreSQL takes and Python's datetime cannot hold (outside years 1-9999) would fail the whole
# claim when psycopg reads them: they are read as NULL, and their text beside them.
_IN_RANGE = "{name} >= '0001-01-02 00:00:00+00' AND {name} < '9999-12-31 00:00:00+00'"


def _readable(column: str) -> sql.Composable:
    name = sql.Identifier(column)
    if column not in _TIME_COLUMNS:
        return name
    return sql.SQL("CASE WHEN " + _IN_RANGE + " THEN {name} END").format(name=name)


def _out_of_range(column: str) -> sql.Composable:
    return sql.SQL("CASE WHEN NOT (" + _IN_RANGE + ") THEN {name}::text END").format(name=sql.Identifier(column))


def delete_claimed(conn: psycopg.Connection[Any], schema: str, ctids: Sequence[str]) -> int:
    """Delete rows claimed in this transaction. Returns how many went."""
    if not ctids:
        return 0
    query = sql.SQL("DELETE FROM {table} WHERE ctid = ANY({ctids}::tid[])").format(
        table=_table(schema), ctids=sql.Placeholder()
    )
    with conn.cursor() as cursor:
        cursor.execute(query, (list(ctids),))
        return cursor.rowcount


def _copy_value(column: str, value: Any) -> Any:
    if value is not None and column in _JSON_COLUMNS and not isinstance(value, Jsonb):
        return Jsonb(value)
    return value


def insert_buffer_rows(conn: psycopg.Connection[Any], schema: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append rows (mappings keyed by buffer column; missing keys are NULL) with COPY. Returns the count.

    A key that is not a buffer column is an error rather than silently dropped data.
    """
    query = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=_table(schema), columns=sql.SQL(", ").join(sql.Identifier(column) for column in BUFFER_COLUMNS)
    )
    known = frozenset(BUFFER_COLUMNS)
    count = 0
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for row in rows:
            unknown = set(row) - known
            if unknown:
                raise ValueError(f"not buffer columns: {', '.join(sorted(unknown))}")
            copy.write_row([_copy_value(column, row.get(column)) for column in BUFFER_COLUMNS])
            count += 1
    return count
