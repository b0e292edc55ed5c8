"""The parse report: what the parse job writes is what the controller reads, field for field; a message from
another version or not JSON at all reads leniently."""

from __future__ import annotations

import json
from collections import Counter

from georchestra_analytics.parser.job import RunSummary
from georchestra_analytics.parser.report import ParseReport


def test_a_run_summary_reads_back_as_the_same_report() -> None:
    summary = RunSummary(claimed=12, written=9, duplicates=1, rejected=Counter({"bad line": 2}), batches=3)
    summary.seconds, summary.oldest_buffered_age_seconds, summary.finished_at = 1.23456, 41.7, "2026-01-01T00:00Z"
    written = summary.report()
    read = ParseReport.from_message(written.dumps())
    assert read == written
    assert (read.claimed, read.written, read.duplicates, read.rejected) == (12, 9, 1, 2)
    assert read.rejected_by_reason == {"bad line": 2}
    assert read.claimed_per_worker == (12,)
    assert read.seconds == 1.235 and read.oldest_age == 41
    assert summary.to_json() == json.loads(written.dumps())


def test_a_failure_reports_only_its_error() -> None:
    failed = ParseReport.failed("database unreachable")
    assert failed.to_json() == {"error": "database unreachable"}
    assert ParseReport.from_message(failed.dumps()) == failed


def test_unusable_messages_and_values_read_as_absent() -> None:
    assert ParseReport.from_message(None) == ParseReport()
    assert ParseReport.from_message("not json") == ParseReport()
    assert ParseReport.from_message("[1, 2]") == ParseReport()
    odd = ParseReport.from_message(
        json.dumps({"claimed": True, "written": -3, "rejected": "7", "oldest_age_s": 9.9, "finished_at": 5})
    )
    assert (odd.claimed, odd.written, odd.rejected, odd.finished_at) == (None, 0, None, None)
    assert odd.oldest_age == 9  # the older key is still read
