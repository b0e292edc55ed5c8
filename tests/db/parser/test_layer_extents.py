"""The `layer_extents` aggregate (docs/classification.md#extents) on both flavors: requests with an extent, per
layer per day, counted in the grid cell of their extent's centre, through the real parse job into the real
database; requests without an extent, or with one larger than the grid's maximum, are left out."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Literal

import morecantile
import psycopg
import pytest
from tests.support.accesslogs import gateway_row

from georchestra_analytics.db.aggregates import CELLS_PER_DEGREE
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.settings import ParserSettings

DAY = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LYON = (4.8, 45.7, 4.9, 45.8)  # west, south, east, north


def _cell(west: float, south: float, east: float, north: float) -> tuple[int, int]:
    return math.floor((west + east) / 2 * CELLS_PER_DEGREE), math.floor((south + north) / 2 * CELLS_PER_DEGREE)


def _rows() -> tuple[list[dict[str, object]], Counter[tuple[str, int, int]]]:
    """Buffer rows, and the (layer, cell) -> requests the aggregate must hold, computed here independently."""
    rows = []
    expected: Counter[tuple[str, int, int]] = Counter()
    west, south, east, north = LYON
    for minute in range(3):  # WMS 1.3.0 in EPSG:4326: latitude first
        rows.append(
            gateway_row(
                f"/geoserver/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ws:roads,ws:rivers&CRS=EPSG:4326"
                f"&BBOX={south},{west},{north},{east}&WIDTH=800&HEIGHT=600",
                ts=DAY + timedelta(minutes=minute),
            )
        )
        expected[("ws:roads", *_cell(*LYON))] += 1  # a request of two layers counts once for each
        expected[("ws:rivers", *_cell(*LYON))] += 1
    z, x, y = 14, 8299, 5636  # a Web Mercator tile over Paris
    rows.append(
        gateway_row(
            f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:roads&TILEMATRIXSET=EPSG:900913"
            f"&TILEMATRIX=EPSG:900913:{z}&TILEROW={y}&TILECOL={x}&FORMAT=image/png",
            ts=DAY + timedelta(minutes=5),
        )
    )
    tile = morecantile.tms.get("WebMercatorQuad").bounds(morecantile.Tile(x, y, z))
    expected[("ws:roads", *_cell(tile.left, tile.bottom, tile.right, tile.top))] += 1
    # Left out: the whole world (no place in particular), no box at all.
    rows.append(
        gateway_row(
            "/geoserver/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=ws:roads&SRS=EPSG:4326&BBOX=-180,-90,180,90",
            ts=DAY + timedelta(minutes=6),
        )
    )
    rows.append(gateway_row("/geoserver/ows?SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=ws:roads", ts=DAY))
    return rows, expected


def _run(dsn: str, flavor: Literal["timescaledb", "postgresql"]) -> None:
    migrate(dsn, DatabaseSettings(flavor=flavor))
    rows, expected = _rows()
    with psycopg.connect(dsn) as conn:
        insert_buffer_rows(conn, "analytics", rows)
        conn.commit()
    summary = run_workers(dsn, ParserSettings(batch_size=2))  # several batches: rollups add up across them
    assert summary.written == len(rows)
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT layer, cell_x, cell_y, requests, cell_lon, cell_lat FROM analytics.layer_extents_daily"
        ).fetchall()
        stored = conn.execute(
            "SELECT extent_west, extent_south, extent_east, extent_north FROM analytics.access_logs"
            " WHERE request = 'getmap' AND query LIKE '%%1.3.0%%' LIMIT 1"
        ).fetchone()
    assert Counter({(layer, x, y): int(n) for layer, x, y, n, _, _ in found}) == expected
    for _, x, y, _, lon, lat in found:  # the view gives each cell's centre in degrees
        assert math.isclose(lon, (x + 0.5) / CELLS_PER_DEGREE) and math.isclose(lat, (y + 0.5) / CELLS_PER_DEGREE)
    assert stored == LYON


def test_the_postgresql_rollups_count_requests_per_layer_and_cell(pg_dsn: str) -> None:
    _run(pg_dsn, "postgresql")


@pytest.mark.timescale
def test_the_timescaledb_aggregates_count_requests_per_layer_and_cell(timescale_dsn: str) -> None:
    _run(timescale_dsn, "timescaledb")
