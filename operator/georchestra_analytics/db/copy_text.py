"""Records as lines of COPY's text format, written directly rather than through psycopg's per-value dumpers.

The parse job COPYs every record it writes; psycopg's generic dumpers (text arrays above all) cost more CPU than
classifying the record did. The record's column types are known (parser.record), so each column gets one small
formatter. What reaches the server is what psycopg would have sent, and a value it cannot take fails the same
way: NUL in text raises psycopg's DataError, a lone surrogate UnicodeEncodeError, JSON is the JSON psycopg writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
import psycopg

NULL = "\\N"
_NUL_MESSAGE = "PostgreSQL text fields cannot contain NUL (0x00) bytes"  # psycopg's own words


def escape(text: str) -> str:
    """COPY text escaping: backslash, tab, newline and carriage return (most values hold none)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    return text


def _text(value: Any) -> str:
    return escape(value if type(value) is str else str(value))


def _timestamp(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else _text(value)


def _integer(value: Any) -> str:
    return str(int(value))


def _double(value: Any) -> str:
    return repr(float(value))  # shortest exact text; inf, -inf and nan read back as PostgreSQL's


def _boolean(value: Any) -> str:
    return "t" if value else "f"


def _element(item: str) -> str:
    if "\\" in item or '"' in item:
        item = item.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + item + '"'


def _text_array(value: Any) -> str:
    if not value:
        return "{}"
    return escape("{" + ",".join([_element(item) for item in value]) + "}")


def _jsonb(value: Any) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (lone surrogates...): the standard library's JSON, as psycopg sends it
        text = json.dumps(value)
    return escape(text)


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "timestamptz": _timestamp,
    "text": _text,
    "smallint": _integer,
    "integer": _integer,
    "bigint": _integer,
    "double precision": _double,
    "boolean": _boolean,
    "text[]": _text_array,
    "jsonb": _jsonb,
}


def line_writer(columns: Mapping[str, str]) -> Callable[[Mapping[str, Any]], str]:
    """A function giving a record's COPY line (without its newline) for these columns (key -> SQL type)."""
    plan = tuple((key, FORMATTERS[kind]) for key, kind in columns.items())

    def line(record: Mapping[str, Any]) -> str:
        get = record.get
        return "\t".join([NULL if (value := get(key)) is None else form(value) for key, form in plan])

    return line


def copy_lines(copy: psycopg.Copy, lines: Iterable[str], chunk: int = 2000) -> None:
    """Send lines in chunks of `chunk` (one encode and one write each)."""
    pending: list[str] = []
    for text in lines:
        pending.append(text)
        if len(pending) >= chunk:
            _send(copy, pending)
            pending = []
    if pending:
        _send(copy, pending)


def _send(copy: psycopg.Copy, lines: list[str]) -> None:
    data = "\n".join(lines) + "\n"
    if "\x00" in data:
        raise psycopg.DataError(_NUL_MESSAGE)
    copy.write(data.encode())
