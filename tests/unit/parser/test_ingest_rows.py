"""`ingest`'s rows: what lands in the buffer for text and JSON lines, and the ids they carry."""

from __future__ import annotations

import json

from tests.support.accesslogs import combined_line, gateway_row

from georchestra_analytics.db.buffer import BUFFER_COLUMNS
from georchestra_analytics.parser.ingest import buffer_rows, detect_format
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject


def test_text_rows_carry_ids_the_dry_run_gives_too(pipeline: Pipeline) -> None:
    line = combined_line("/geoserver/wms?request=GetMap&layers=a:b")
    rows = list(buffer_rows([line, "", line], "access.log", "text"))
    assert len(rows) == 2  # the blank line carries nothing
    assert all(set(row) <= set(BUFFER_COLUMNS) for row in rows)
    from_buffer = [pipeline.parse_row(row) for row in rows]
    from_dry_run = [pipeline.parse_line(line, "access.log", n) for n in (0, 1)]
    assert all(not isinstance(r, Reject) for r in from_buffer + from_dry_run)
    assert [r["id"] for r in from_buffer] == [r["id"] for r in from_dry_run]  # type: ignore[index]
    assert from_buffer[0]["id"] != from_buffer[1]["id"]  # type: ignore[index]


def test_json_rows_pass_through_and_keep_their_content_id(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wms?request=GetMap&layers=a:b")
    text = json.dumps(row)
    first, again = buffer_rows([text, text], "rows.jsonl", detect_format(text))
    assert first["attributes"] == row["attributes"]
    direct, loaded, duplicate = pipeline.parse_row(row), pipeline.parse_row(first), pipeline.parse_row(again)
    assert not isinstance(direct, Reject) and not isinstance(loaded, Reject) and not isinstance(duplicate, Reject)
    assert direct["id"] == loaded["id"] != duplicate["id"]


def test_unstorable_input_is_kept_for_the_parser_to_reject(pipeline: Pipeline) -> None:
    rows = list(buffer_rows(['{"truncated": ', "bin\x00ary", '{"message": "a\\u0000b"}'], "x.jsonl", "json"))
    assert all("\x00" not in str(row.get("message")) for row in rows)
    results = [pipeline.parse_row(row) for row in rows]
    assert all(isinstance(result, Reject) for result in results)
