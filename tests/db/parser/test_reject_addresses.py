"""The parse job stores a reject's input with its client addresses truncated like the records' (the privacy
rule), and still keeps the same input once: the reject's id is taken from the input as it came."""

from __future__ import annotations

from typing import Any

import psycopg
from tests.support.accesslogs import gateway_row

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "analytics"


def _rows() -> list[dict[str, Any]]:
    no_time = gateway_row("/geoserver/wms?request=GetMap", extra={"http.request.remote-addr": "/192.0.2.44:51234"})
    no_time["timestamp"] = no_time["observed_timestamp"] = None
    line = {"timestamp": "2026-11-27T10:00:00Z", "observed_timestamp": "2026-11-27T10:00:00Z",
            "message": "203.0.113.77 - - this is no access-log line", "source_type": "file",
            "attributes": {"log.file.name": "access.log"}}  # fmt: skip
    return [no_time, line]


def test_rejected_input_is_stored_with_truncated_addresses(analytics_dsn: str) -> None:
    summaries = []
    for _ in range(2):  # the second time, both are rejects already stored
        with psycopg.connect(analytics_dsn) as conn, conn.transaction():
            insert_buffer_rows(conn, SCHEMA, _rows())
        summaries.append(run_worker(analytics_dsn, ParserSettings()))
    assert [(sum(s.rejected.values()), s.duplicates) for s in summaries] == [(2, 0), (0, 2)]
    with psycopg.connect(analytics_dsn) as conn:
        stored = conn.execute("SELECT reason, raw::text FROM analytics.rejected_logs ORDER BY reason").fetchall()
    assert [reason for reason, _ in stored] == ["malformed or truncated access-log line", "missing or bad timestamp"]
    text = " ".join(raw for _, raw in stored)
    assert "203.0.113.0 - - this is no access-log line" in text and "/192.0.2.0:51234" in text
    assert "203.0.113.77" not in text and "192.0.2.44" not in text
