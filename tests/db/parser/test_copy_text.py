"""The parse job's own COPY text lines store exactly what psycopg's dumpers store, hostile values included, and
refuse what psycopg refuses, with the same errors (so a bad record is isolated the same way)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from georchestra_analytics.db.copy_text import copy_lines, line_writer

COLUMNS = {
    "ts": "timestamptz", "t": "text", "s": "smallint", "i": "integer", "b": "bigint", "d": "double precision",
    "flag": "boolean", "names": "text[]", "doc": "jsonb",
}  # fmt: skip
HOSTILE = ["", "\\", "\\N", "NULL", "a\tb", "a\nb", "a\rb", 'say "hi"', "{a,b}", "x,y", "é ü 漢字 🗺", "\\\\t", " "]


def _records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for n, text in enumerate(HOSTILE):
        records.append({
            "ts": datetime(2026, 1, 1, 0, 0, n, 123456, tzinfo=UTC), "t": text, "s": -32767 + n, "i": 2**31 - 1 - n,
            "b": -(2**63) + 1 + n, "d": (1.5, -0.0, 1e300, float("inf"), float("-inf"), 0.1 + 0.2)[n % 6],
            "flag": n % 2 == 0, "names": [text, "ws:layer", text + "\\"] if n % 3 else [],
            "doc": {"family": text, "nested": {"k": [text, n]}},
        })  # fmt: skip
    records.append(dict.fromkeys(COLUMNS))  # every value NULL
    return records


def _table(conn: psycopg.Connection[Any], name: str) -> None:
    definition = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(v)) for k, v in COLUMNS.items())
    conn.execute(sql.SQL("CREATE TEMPORARY TABLE {} ({})").format(sql.Identifier(name), definition))


def _by_psycopg(conn: psycopg.Connection[Any], name: str, records: list[dict[str, Any]]) -> None:
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
        for record in records:
            row = [record[key] for key in COLUMNS]
            row[-1] = None if row[-1] is None else Jsonb(row[-1])
            copy.write_row(row)


def _by_lines(conn: psycopg.Connection[Any], name: str, records: list[dict[str, Any]]) -> None:
    line = line_writer(COLUMNS)
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))) as copy:
        copy_lines(copy, (line(record) for record in records), chunk=4)


def test_lines_store_what_psycopg_stores(pg_dsn: str) -> None:
    records = _records()
    with psycopg.connect(pg_dsn) as conn:
        _table(conn, "by_psycopg")
        _table(conn, "by_lines")
        _by_psycopg(conn, "by_psycopg", records)
        _by_lines(conn, "by_lines", records)
        # jsonb and float8 compare by value; text and arrays exactly. NaN is absent: NaN = NaN is true in SQL
        # but would hide nothing here.
        differing = conn.execute(
            "SELECT (SELECT count(*) FROM (SELECT * FROM by_psycopg EXCEPT ALL SELECT * FROM by_lines) a)"
            " + (SELECT count(*) FROM (SELECT * FROM by_lines EXCEPT ALL SELECT * FROM by_psycopg) b)"
        ).fetchone()
        stored = conn.execute("SELECT count(*), count(DISTINCT t) FROM by_lines").fetchone()
    assert differing == (0,)
    assert stored == (len(records), len(set(HOSTILE)))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"t": "a\x00b"}, psycopg.DataError),
        ({"names": ["a\x00"]}, psycopg.DataError),
        ({"t": "lone \ud800"}, UnicodeEncodeError),
        ({"doc": {"a": "\ud800"}}, psycopg.errors.InvalidTextRepresentation),
        ({"doc": {"a": "\x00"}}, psycopg.errors.UntranslatableCharacter),
    ],
)
def test_what_psycopg_refuses_is_refused_alike(pg_dsn: str, value: dict[str, Any], error: type[Exception]) -> None:
    record = {**dict.fromkeys(COLUMNS), **value}
    with psycopg.connect(pg_dsn) as conn:
        _table(conn, "target")
        for write in (_by_psycopg, _by_lines):
            with pytest.raises(error), conn.transaction():
                write(conn, "target", [record])
