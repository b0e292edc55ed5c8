"""`ingest`: log files to buffer rows, the same rows the collector would have written.

Text lines keep their raw text in `message`; JSON lines are buffer rows already. Each text line carries a
stable id (`log.record.uid`) from the file's name, the line and its occurrence number among identical lines,
so loading the same file twice stores each request once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from georchestra_analytics.db.buffer import BUFFER_COLUMNS
from georchestra_analytics.parser import jsonfast
from georchestra_analytics.parser.bounds import MAX_ROW_CHARS
from georchestra_analytics.parser.ids import line_id
from georchestra_analytics.parser.occurrences import OccurrenceCounter
from georchestra_analytics.parser.sources.otel import INGEST_PROBLEM_ATTRIBUTE, RECORD_UID_ATTRIBUTE, read_timestamp

FILE_SOURCE_TYPE = "file"
_COLUMNS = frozenset(BUFFER_COLUMNS)


def detect_format(first_line: str) -> str:
    """`json` when the file holds JSON objects (buffer rows), else `text`."""
    return "json" if first_line.lstrip().startswith("{") else "text"


def _text_row(line: str, source: str, occurrence: int, now: datetime) -> dict[str, Any]:
    return {
        "timestamp": now,
        "observed_timestamp": now,
        # PostgreSQL text cannot hold NUL: SUB (the substitute character) keeps the line storable and still
        # marks it as binary for the parser, which rejects it with that reason.
        "message": line.replace("\x00", "\x1a"),
        "attributes": {
            "log.file.name": source,
            RECORD_UID_ATTRIBUTE: line_id(source, line, occurrence),
        },
        "source_type": FILE_SOURCE_TYPE,
    }


# Buffer columns of each SQL type besides jsonb: a JSON value of another type would fail the whole COPY.
_TIME_COLUMNS = ("timestamp", "observed_timestamp")
_INT_COLUMNS = ("severity_number", "flags", "dropped_attributes_count")
_TEXT_COLUMNS = ("message", "trace_id", "span_id", "severity_text", "source_type")
_INT4 = 2**31


def _storable_columns(row: dict[str, Any]) -> bool:
    """Values the buffer cannot hold become NULL (in place), so one odd line never fails its chunk: a
    timestamp that is not one (the parser then rejects a Gateway row for it, as the dry-run does), an integer
    outside int4, a text column holding an object. Returns whether a timestamp was unreadable."""
    unreadable = False
    for column in _TIME_COLUMNS:
        value = row.get(column)
        if value is not None:
            row[column] = read_timestamp(value)
            unreadable = unreadable or row[column] is None
    for column in _INT_COLUMNS:
        value = row.get(column)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or abs(value) >= _INT4):
            row[column] = None
    for column in _TEXT_COLUMNS:
        if not isinstance(row.get(column), str | None):
            row[column] = None
    return unreadable


def _encodable(decoded: Any) -> bool:
    """jsonb and text cannot hold a lone surrogate (`"\\ud800"` decodes to one)."""
    try:
        json.dumps(decoded, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_row(line: str, source: str, occurrence: int, now: datetime) -> dict[str, Any]:
    try:
        # jsonb cannot hold \u0000 either, and a row over the bound is not decoded: such a row goes in as text
        # and is rejected there (as malformed, or as a line too long).
        decoded = None if "\\u0000" in line or len(line) > MAX_ROW_CHARS else jsonfast.loads(line)
    except ValueError:  # not JSON, or nested deeper than the parser reads
        decoded = None
    if not isinstance(decoded, dict) or ("\\u" in line and not _encodable(decoded)):
        # Kept as a text row: the parse job rejects it with its reason and keeps it in rejected_logs.
        return _text_row(line, source, occurrence, now)
    row = {key: value for key, value in decoded.items() if key in _COLUMNS}
    unreadable_time = _storable_columns(row)
    if occurrence > 0:
        # An identical row earlier in this file: a distinct request only its position tells apart.
        attributes = row.get("attributes")
        attributes = dict(attributes) if isinstance(attributes, dict) else {}
        attributes[RECORD_UID_ATTRIBUTE] = line_id(source, line, occurrence)
        row["attributes"] = attributes
    if not unreadable_time:  # else the row keeps no time at all, and is rejected for it as the dry-run does
        row.setdefault("observed_timestamp", now)
    return row


def buffer_rows(lines: Iterable[str], source: str, input_format: str) -> Iterator[dict[str, Any]]:
    """Buffer rows of one file's lines (blank lines carry nothing and are skipped)."""
    now = datetime.now(UTC)
    occurrences = OccurrenceCounter()
    build = _json_row if input_format == "json" else _text_row
    for line in lines:
        if not line.strip():
            continue
        yield build(line, source, occurrences.next(line), now)


def unreadable_input_row(source: str, problem: str, lines_read: int, now: datetime) -> dict[str, Any]:
    """The row that tells the parse job a file broke off after `lines_read` lines: it becomes a reject with
    `problem` as its reason, stored once however often the file is loaded (its id is the file and the place)."""
    return {
        "timestamp": now,
        "observed_timestamp": now,
        "message": problem,
        "attributes": {
            "log.file.name": source,
            RECORD_UID_ATTRIBUTE: line_id(source, f"{problem} after {lines_read} lines", 0),
            INGEST_PROBLEM_ATTRIBUTE: problem,
        },
        "source_type": FILE_SOURCE_TYPE,
    }
