"""Migration 0010 on a database that already holds records (compressed chunks on timescaledb): older rows keep
NULL in the new columns and count as people; the parse job then stores robot, country and client application;
the audience and client_layers views, on both flavors, count people and robots apart (`traffic`), which is what
the dashboards' Traffic filter selects (people by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from tests.support.accesslogs import combined_line
from tests.support.older_families import compress_every_chunk, migrate_as_before

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.ingest import buffer_rows
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

NEW = "0010_audience"
OLD_TS = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) - timedelta(days=10)
NEW_TS = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
GETMAP = "/geoserver/wms?service=WMS&request=GetMap&layers=topp:states&bbox=0,0,1,1&width=256&height=256"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
MAPSTORE = "https://sdi.example.org/mapstore/context/urbanisme"


def _upgrade(dsn: str, flavor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = DatabaseSettings(flavor=flavor)  # type: ignore[arg-type]
    migrate_as_before(dsn, settings, NEW, monkeypatch)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO analytics.access_logs (ts, id, source, path, service, request, roles, layers, workspaces,"
            " tiled, is_download, tags) VALUES (%s, 'old', 'gateway', '/geoserver/wms', 'WMS', 'getmap', '{}',"
            " '{topp:states}', '{topp}', false, false, '{}')",
            (OLD_TS,),
        )
        conn.execute(
            "INSERT INTO analytics.access_log_layers (ts, id, layer, workspace, app, service) VALUES"
            " (%s, 'old', 'topp:states', 'topp', NULL, 'WMS')",
            (OLD_TS,),
        )
        if flavor == "timescaledb":
            assert compress_every_chunk(conn) == 1
    report = migrate(dsn, settings)
    assert report.applied[0] == NEW  # later migrations may follow
    assert not migrate(dsn, settings).changed


def _parse(dsn: str) -> None:
    lines = [
        combined_line(GETMAP, agent=GOOGLEBOT, ip="66.249.66.1", ts=NEW_TS),
        combined_line(GETMAP, agent=GOOGLEBOT, ip="66.249.66.1", ts=NEW_TS + timedelta(seconds=1)),
        combined_line(GETMAP, agent="QGIS/34000/Windows 10", ip="8.8.8.8", ts=NEW_TS + timedelta(seconds=2)),
        combined_line(GETMAP, referrer=MAPSTORE, ip="[2001:4860:4860::8888]:443", ts=NEW_TS + timedelta(seconds=3)),
    ]
    with psycopg.connect(dsn) as conn:
        insert_buffer_rows(conn, "analytics", buffer_rows(lines, "access.log", "text"))
    summary = run_worker(dsn, ParserSettings())
    assert (summary.written, sum(summary.rejected.values())) == (4, 0), summary


def _rows(conn: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(query).fetchall()]


@pytest.mark.parametrize("flavor", ["postgresql", pytest.param("timescaledb", marks=pytest.mark.timescale)])
def test_0010_on_stored_records_then_people_and_robots_apart_in_the_views(
    flavor: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn: str = request.getfixturevalue("pg_dsn" if flavor == "postgresql" else "timescale_dsn")
    _upgrade(dsn, flavor, monkeypatch)
    _parse(dsn)
    if flavor == "timescaledb":
        refresh_aggregates(dsn, OLD_TS - timedelta(days=40), datetime.now(UTC) + timedelta(days=1))
    with psycopg.connect(dsn) as conn:
        columns = "id, is_robot, robot_family, country, client_app, client_ip"
        stored = _rows(conn, f"SELECT {columns} FROM analytics.access_logs ORDER BY ts")
        assert stored[0] == ("old", None, None, None, None, None)  # history is not rewritten
        assert [row[1:5] for row in stored[1:]] == [
            (True, "Googlebot", "US", "robot"),
            (True, "Googlebot", "US", "robot"),
            (False, None, "US", "QGIS"),
            (False, None, "US", "MapStore: urbanisme"),
        ]
        assert {row[5] for row in stored[1:]} == {"66.249.66.0", "8.8.8.0", "2001:4860:4860::"}  # truncated after
        traffic = _rows(conn, "SELECT traffic, robot_family, sum(requests)::int FROM analytics.audience_monthly"
                              " GROUP BY 1, 2 ORDER BY 1, 2")  # fmt: skip
        assert traffic == [("people", None, 3), ("robots", "Googlebot", 2)]  # the old row counts as people
        people = _rows(conn, "SELECT client_app, country, sum(requests)::int FROM analytics.audience_daily"
                             " WHERE traffic = 'people' GROUP BY 1, 2 ORDER BY 1 NULLS FIRST")  # fmt: skip
        assert people == [(None, None, 1), ("MapStore: urbanisme", "US", 1), ("QGIS", "US", 1)]
        per_layer = _rows(conn, "SELECT layer, traffic, sum(requests)::int FROM analytics.client_layers_hourly"
                                " GROUP BY 1, 2 ORDER BY 1, 2")  # fmt: skip
        assert per_layer == [("topp:states", "people", 3), ("topp:states", "robots", 2)]
