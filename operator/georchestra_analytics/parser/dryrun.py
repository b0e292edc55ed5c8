"""`parse --dry-run`: JSON lines in (buffer rows) or text lines in, one JSON line out per input line, a record
or `{"rejected": "<reason>"}`, in input order, with no database."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from georchestra_analytics.parser import jsonfast
from georchestra_analytics.parser.bounds import MAX_LINE_CHARS, MAX_ROW_CHARS
from georchestra_analytics.parser.occurrences import OccurrenceCounter
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord, Reject, record_to_json


def _otel_results(pipeline: Pipeline, lines: Iterable[str]) -> Iterator[AccessRecord | Reject]:
    for line in lines:
        if len(line) > MAX_ROW_CHARS:
            yield Reject("line too long", {"message": line[:MAX_LINE_CHARS]})
            continue
        try:
            row: Any = jsonfast.loads(line)
        except jsonfast.TooDeep as error:
            yield Reject(str(error), {"message": line})
            continue
        except ValueError:
            yield Reject("invalid JSON", {"message": line})
            continue
        if not isinstance(row, dict):
            yield Reject("not a JSON object", {"message": line})
            continue
        yield pipeline.parse_row(row)


def _text_results(pipeline: Pipeline, lines: Iterable[str], source: str) -> Iterator[AccessRecord | Reject]:
    occurrences = OccurrenceCounter()
    for line in lines:
        yield pipeline.parse_line(line, source, occurrences.next(line))


def dry_run(pipeline: Pipeline, lines: Iterable[str], input_format: str, source: str, out: TextIO) -> Counter[str]:
    """Writes one JSON line per input line; returns the count of records (`written`) and of each reject reason."""
    counts: Counter[str] = Counter()
    results = _otel_results(pipeline, lines) if input_format == "otel" else _text_results(pipeline, lines, source)
    for result in results:
        if isinstance(result, Reject):
            counts[result.reason] += 1
            out.write(json.dumps({"rejected": result.reason}, ensure_ascii=False))
        else:
            counts["written"] += 1
            out.write(json.dumps(record_to_json(result), ensure_ascii=False))
        out.write("\n")
    return counts
