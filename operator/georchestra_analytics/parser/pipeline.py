"""One input to a record or a reject, never an exception: anything that raises becomes a reject with its
reason, so a poison row cannot stall the pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from georchestra_analytics.db.writer import record_problem
from georchestra_analytics.parser.classify.classifier import Classifier
from georchestra_analytics.parser.ids import line_id
from georchestra_analytics.parser.record import AccessRecord, Reject
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.sources.clf import parse_text_line
from georchestra_analytics.parser.sources.otel import json_safe, read_buffer_row
from georchestra_analytics.parser.window import OUTSIDE_WINDOW, outside_window

log = logging.getLogger(__name__)


def _internal_error(error: Exception) -> str:
    return f"internal error: {type(error).__name__}"


class Pipeline:
    def __init__(self, settings: ParserSettings) -> None:
        self.settings = settings
        self.classifier = Classifier(settings)

    def _checked(self, record: AccessRecord, raw: Callable[[], dict[str, Any]]) -> AccessRecord | Reject:
        """The checks the database side applies too, so the dry-run shows what would really be stored."""
        if outside_window(record["ts"], self.settings):
            return Reject(OUTSIDE_WINDOW, raw(), record["source"])
        problem = record_problem(record)
        if problem is not None:
            return Reject("unstorable record: " + problem.split(":", 1)[0], raw(), record["source"])
        return record

    @staticmethod
    def raw_of(row: Mapping[str, Any]) -> dict[str, Any]:
        """The row as `rejected_logs.raw` keeps it."""
        try:
            return json_safe(row)
        except Exception:  # noqa: BLE001 - the row is not even a mapping of columns
            return {"repr": repr(row)}

    def parse_row(self, row: Mapping[str, Any]) -> AccessRecord | Reject:
        """A buffer row (dict of its columns) to a record or a reject."""
        try:
            logged = read_buffer_row(row)
            if isinstance(logged, Reject):
                return logged
            return self._checked(self.classifier.classify(logged), lambda: self.raw_of(row))
        except Exception as error:  # a poison row becomes a reject, whatever it raised
            log.debug("row rejected by an internal error", exc_info=True)
            return Reject(_internal_error(error), self.raw_of(row))

    def parse_line(
        self, line: str, source: str, occurrence: int, format_hint: str | None = None
    ) -> AccessRecord | Reject:
        """A text log line to a record or a reject; its id comes from the source name, the content and the
        occurrence number of this identical line in the source (the same as `ingest` gives it)."""
        try:
            logged = parse_text_line(line, line_id(source, line, occurrence), format_hint=format_hint)
            if isinstance(logged, Reject):
                return Reject(logged.reason, {"message": line, "source": source})
            return self._checked(self.classifier.classify(logged), lambda: {"message": line, "source": source})
        except Exception as error:  # a poison line becomes a reject, whatever it raised
            log.debug("line rejected by an internal error", exc_info=True)
            return Reject(_internal_error(error), {"message": line, "source": source})
