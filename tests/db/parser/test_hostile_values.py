"""One anonymous request with a 3,000-character value beside two normal ones (postgresql flavor): all three
are records, the hostile value bounded (`other`, cut or dropped), the buffer drains and nothing is left to
fail the next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.db.parser.hostile import EXPECTED, clear, hostile_lines, ingest_and_parse, stored


@pytest.mark.parametrize("case", sorted(hostile_lines()))
def test_a_hostile_value_never_stops_the_pipeline(analytics_dsn: str, tmp_path: Path, case: str) -> None:
    clear(analytics_dsn)
    summary = json.loads(ingest_and_parse(analytics_dsn, tmp_path, case, hostile_lines()[case]))
    records, rejects, left = stored(analytics_dsn)
    assert (summary["claimed"], summary["written"], left, sum(rejects.values())) == (3, 3, 0, 0)
    assert sorted(records, key=str) == sorted([("WMS", "getmap"), ("WMS", "getmap"), EXPECTED[case]], key=str)
    again = json.loads(ingest_and_parse(analytics_dsn, tmp_path, "empty", []))
    assert again["claimed"] == 0
