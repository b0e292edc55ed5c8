"""One anonymous request with a 3,000-character value beside two normal ones (postgresql flavor): all three
are records, the hostile value bounded (`other`, cut or dropped), the buffer drains and nothing is left to
fail the next run."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from tests.db.parser.hostile import EXPECTED, clear, hostile_lines, ingest_and_parse, stored
from tests.support.accesslogs import proxy_line

from georchestra_analytics.parser.bounds import MAX_LAYERS, OVERFLOW_LAYER


@pytest.mark.parametrize("case", sorted(hostile_lines()))
def test_a_hostile_value_never_stops_the_pipeline(analytics_dsn: str, tmp_path: Path, case: str) -> None:
    clear(analytics_dsn)
    summary = json.loads(ingest_and_parse(analytics_dsn, tmp_path, case, hostile_lines()[case]))
    records, rejects, left = stored(analytics_dsn)
    assert (summary["claimed"], summary["written"], left, sum(rejects.values())) == (3, 3, 0, 0)
    assert sorted(records, key=str) == sorted([("WMS", "getmap"), ("WMS", "getmap"), EXPECTED[case]], key=str)
    again = json.loads(ingest_and_parse(analytics_dsn, tmp_path, "empty", []))
    assert again["claimed"] == 0


def test_a_request_naming_thousands_of_layers_counts_fifty_and_one_overflow(analytics_dsn: str, tmp_path: Path) -> None:
    clear(analytics_dsn)
    names = ",".join(f"ws{n % 9}:layer{n}" for n in range(4000))
    lines = [proxy_line(f"http://geoserver:8080/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS={names}")]
    summary = json.loads(ingest_and_parse(analytics_dsn, tmp_path, "layers", lines))
    assert summary["written"] == 1
    layers, hourly = (
        sql.Identifier("analytics", "access_log_layers"),
        sql.Identifier("analytics", "agg_layer_usage_hourly"),
    )
    with psycopg.connect(analytics_dsn) as conn:
        layer_rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(layers)).fetchone()
        counted = conn.execute(sql.SQL("SELECT sum(requests) FROM {}").format(hourly)).fetchone()
        overflow = conn.execute(
            sql.SQL("SELECT requests FROM {} WHERE layer = %s").format(hourly), (OVERFLOW_LAYER,)
        ).fetchone()
    assert (layer_rows, counted, overflow) == ((MAX_LAYERS + 1,), (MAX_LAYERS + 1,), (1,))
