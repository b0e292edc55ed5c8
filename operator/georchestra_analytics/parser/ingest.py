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
from georchestra_analytics.parser.ids import line_id
from georchestra_analytics.parser.occurrences import OccurrenceCounter
from georchestra_analytics.parser.sources.otel import RECORD_UID_ATTRIBUTE

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


def _json_row(line: str, source: str, occurrence: int, now: datetime) -> dict[str, Any]:
    try:
        # jsonb cannot hold \u0000 either: such a row goes in as text and is rejected there.
        decoded = None if "\\u0000" in line else json.loads(line)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        # Kept as a text row: the parse job rejects it with its reason and keeps it in rejected_logs.
        return _text_row(line, source, occurrence, now)
    row = {key: value for key, value in decoded.items() if key in _COLUMNS}
    if occurrence > 0:
        # An identical row earlier in this file: a distinct request only its position tells apart.
        attributes = row.get("attributes")
        attributes = dict(attributes) if isinstance(attributes, dict) else {}
        attributes[RECORD_UID_ATTRIBUTE] = line_id(source, line, occurrence)
        row["attributes"] = attributes
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
