"""The same hostile requests on the timescaledb flavor: records with bounded values, and the continuous
aggregates' refresh (whose group keys they reach) succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.db.parser.hostile import EXPECTED, hostile_lines, ingest_and_parse, stored

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings


@pytest.fixture
def timescale_analytics(timescale_dsn: str) -> str:
    migrate(timescale_dsn, DatabaseSettings(flavor="timescaledb"))
    return timescale_dsn


@pytest.mark.parametrize("case", sorted(hostile_lines()))
def test_a_hostile_value_is_bounded_and_the_aggregates_refresh(
    timescale_analytics: str, tmp_path: Path, case: str
) -> None:
    summary = json.loads(ingest_and_parse(timescale_analytics, tmp_path, case, hostile_lines()[case]))
    records, rejects, left = stored(timescale_analytics)
    assert (summary["claimed"], summary["written"], left, sum(rejects.values())) == (3, 3, 0, 0)
    assert sorted(records, key=str) == sorted([("WMS", "getmap"), ("WMS", "getmap"), EXPECTED[case]], key=str)
    assert summary["aggregates_refreshed"] is True
