"""Input that cannot be read is a reject with its reason, never a traceback: nesting, size, encoding,
timestamps, broken files, dates outside the window; and the dry-run refuses what the writer would."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.support.accesslogs import combined_line, gateway_row, proxy_line

from georchestra_analytics.cli import cli
from georchestra_analytics.parser.bounds import MAX_ROW_CHARS
from georchestra_analytics.parser.ingest import buffer_rows, unreadable_input_row
from georchestra_analytics.parser.jsonfast import MAX_DEPTH, Unreadable, loads_column
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.settings import STACK_MAX_FUTURE, ParserSettings
from georchestra_analytics.parser.window import OUTSIDE_WINDOW
from georchestra_analytics.stack import duration_hours, load_stack

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
DEEP = "[" * 10_000 + "]" * 10_000


def _dry_run(*args: str, stdin: str | None = None) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["parse", "--dry-run", *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _reason(result: object) -> str:
    assert isinstance(result, Reject), result
    return result.reason


def test_deeply_nested_json_is_a_reject_in_the_dry_run() -> None:
    row = json.dumps(gateway_row("/geoserver/wms?request=GetMap&layers=a"))
    nested = '{"attributes": {"a": ' + DEEP + "}}"
    outputs = _dry_run("--format", "otel", "-", stdin="\n".join([row, nested, DEEP, row]) + "\n")
    assert [output.get("rejected") for output in outputs] == [
        None, f"JSON nested deeper than {MAX_DEPTH} levels", f"JSON nested deeper than {MAX_DEPTH} levels", None,
    ]  # fmt: skip


def test_a_deep_jsonb_column_read_from_the_buffer_is_a_reject(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wms?request=GetMap&layers=a")
    row["attributes"] = loads_column(json.dumps({"a": json.loads("[" * 100 + "]" * 100)}))
    assert isinstance(row["attributes"], Unreadable)
    assert _reason(pipeline.parse_row(row)) == f"unreadable attributes: JSON nested deeper than {MAX_DEPTH} levels"


def test_a_line_over_the_limit_is_refused_whole(pipeline: Pipeline) -> None:
    line = proxy_line("http://geoserver:8080/geoserver/ows?a=" + "b" * 100_000)
    assert _reason(pipeline.parse_line(line, "x.log", 0)) == "line too long"
    url = gateway_row("/geoserver/ows?" + "a=&" * 30_000)
    assert _reason(pipeline.parse_row(url)) == "request URL too long"


def test_a_json_row_over_the_bound_is_refused_whole_by_dry_run_and_ingest(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wms?request=GetMap&layers=a")
    row["attributes"]["padding"] = "x" * MAX_ROW_CHARS
    line = json.dumps(row)
    assert _dry_run("--format", "otel", "-", stdin=line + "\n") == [{"rejected": "line too long"}]
    (loaded,) = buffer_rows([line], "rows.jsonl", "json")
    assert loaded["message"] == line and _reason(pipeline.parse_row(loaded)) == "line too long"


def test_a_timestamp_that_is_not_one_is_rejected_alike_by_ingest_and_dry_run(pipeline: Pipeline) -> None:
    for value in ("0", "yesterday", [], {"a": 1}, "20000-01-01T00:00:00Z"):
        original = gateway_row("/geoserver/wms?request=GetMap&layers=a")
        original["timestamp"] = value
        del original["observed_timestamp"]
        (loaded,) = buffer_rows([json.dumps(original)], "rows.jsonl", "json")
        assert loaded["timestamp"] is None and loaded.get("observed_timestamp") is None
        assert (
            _reason(pipeline.parse_row(loaded)) == _reason(pipeline.parse_row(original)) == ("missing or bad timestamp")
        )


def test_ingest_keeps_every_json_line_storable() -> None:
    lines = [
        json.dumps({"message": "x", "severity_number": "high", "flags": 2**40, "trace_id": {"a": 1}}),
        '{"message": "lone \\ud800 surrogate"}',
        '{"attributes": ' + DEEP + "}",
        '{"timestamp": 1764230400, "message": "epoch seconds"}',
        '{"message": "x", "attributes": {"a": NaN, "b": 1}}',
        '{"message": "x", "attributes": {"a": 1e400}}',
    ]
    rows = list(buffer_rows(lines, "rows.jsonl", "json"))
    assert rows[4]["message"] == lines[4]  # NaN is not JSON: a text line, rejected as malformed
    assert rows[5]["attributes"] == {"a": "1e400"}  # too large for a double: kept as its text
    assert (rows[0]["severity_number"], rows[0]["flags"], rows[0]["trace_id"]) == (None, None, None)
    assert rows[1]["message"] == lines[1] and rows[1]["source_type"] == "file"  # kept as text, rejected later
    assert rows[2]["message"] == lines[2]
    assert rows[3]["timestamp"] == datetime(2025, 11, 27, 8, 0, tzinfo=UTC)


def test_a_truncated_gzip_gives_its_lines_then_a_reject(tmp_path: Path) -> None:
    lines = [combined_line(f"/geoserver/wms?request=GetMap&layers=a&n={n}") for n in range(2000)]
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    broken = tmp_path / "access.log.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    outputs = _dry_run("--format", "clf", str(broken))
    assert 0 < len(outputs) - 1 < len(lines)
    assert all("rejected" not in output for output in outputs[:-2])  # the last line read may be cut
    assert outputs[-1] == {"rejected": "unreadable input: truncated or corrupt compressed file (EOFError)"}


def test_dates_outside_the_window_are_rejected() -> None:
    now = datetime.now(UTC)
    pipeline = Pipeline(ParserSettings(max_age=timedelta(days=365), max_future=timedelta(days=1)))
    for ts, kept in ((now, True), (now - timedelta(days=300), True), (datetime(2001, 1, 1, tzinfo=UTC), False),
                     (now + timedelta(hours=23), True), (now + timedelta(days=2), False)):  # fmt: skip
        result = pipeline.parse_row(gateway_row("/geoserver/wms?request=GetMap&layers=a", ts=ts))
        assert (not isinstance(result, Reject)) is kept, ts
        if not kept:
            assert _reason(result) == OUTSIDE_WINDOW


def test_absurd_dates_are_rejected_even_without_a_stack(pipeline: Pipeline) -> None:
    cases = ((1970, False), (1990, True), (2199, True), (9999, False))
    for year, kept in cases:
        ts = datetime(year, 1, 1, tzinfo=UTC)
        result = pipeline.parse_row(gateway_row("/geoserver/wms?request=GetMap&layers=a", ts=ts))
        assert (not isinstance(result, Reject)) is kept, ts


def test_the_stack_window_is_off_without_a_stack_and_from_the_raw_retention_with_one() -> None:
    assert (ParserSettings().max_age, ParserSettings().max_future) == (None, None)
    stack = load_stack(str(EXAMPLES / "minimal.yaml"))
    settings = ParserSettings.from_stack(stack)
    raw_hours = duration_hours(stack.spec.retention.raw)
    assert raw_hours is not None
    assert (settings.max_age, settings.max_future) == (timedelta(hours=raw_hours), STACK_MAX_FUTURE)


def test_the_dry_run_refuses_what_the_writer_would(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """The classifier bounds every value: a stand-in classifier returning a status beyond smallint (said so)
    shows the dry-run applies the writer's own check."""
    original = pipeline.classifier.classify

    def faulty(logged: Any) -> Any:
        record = original(logged)
        record["status"] = 70_000
        return record

    monkeypatch.setattr(pipeline.classifier, "classify", faulty)
    line = combined_line("/geoserver/wms?request=GetMap&layers=a")
    assert _reason(pipeline.parse_line(line, "x.log", 0)) == "unstorable record: status is not a smallint"


def test_only_ingest_s_own_notice_names_its_reason(pipeline: Pipeline) -> None:
    notice = unreadable_input_row("a.log", "unreadable input: truncated or corrupt compressed file (EOFError)", 9, NOW)
    assert _reason(pipeline.parse_row(notice)) == notice["message"]
    forged = dict(notice, attributes={**notice["attributes"], "log.ingest.problem": "unreadable input: " + "x" * 5000})
    assert _reason(pipeline.parse_row(forged)) == "malformed or truncated access-log line"
