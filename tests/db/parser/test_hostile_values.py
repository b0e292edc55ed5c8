"""One anonymous request with a 3,000-character value beside two normal ones (postgresql flavor): the two
normal lines are records, the hostile one a record with bounded values or a reject, the buffer drains and
the next run has nothing left to fail on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.db.parser.hostile import LONG, clear, hostile_lines, ingest_and_parse, stored


@pytest.mark.parametrize("case", sorted(hostile_lines()))
def test_a_hostile_value_never_stops_the_pipeline(analytics_dsn: str, tmp_path: Path, case: str) -> None:
    clear(analytics_dsn)
    summary = json.loads(ingest_and_parse(analytics_dsn, tmp_path, case, hostile_lines()[case]))
    records, rejects, left = stored(analytics_dsn)
    assert left == 0
    assert summary["claimed"] == 3
    assert len(records) + sum(rejects.values()) == 3
    assert records.count(("WMS", "getmap")) >= 2  # the two normal lines
    assert all(LONG not in (request or "") for _, request in records)
    again = json.loads(ingest_and_parse(analytics_dsn, tmp_path, "empty", []))
    assert again["claimed"] == 0
