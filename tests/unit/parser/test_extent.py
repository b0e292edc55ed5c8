"""Requested extents (docs/classification.md#extents): every protocol's box or tile to EPSG:4326, axis order by
service, version and CRS form, and nothing (never an exception) for what is absent, absurd or unknown.

Expected values come from independent code: tile bounds from morecantile's own TileMatrixSet.bounds (the code
under test only reads the matrices' parameters from it), projected boxes from a pyproj transform of the corners.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import morecantile
import pytest
from pyproj import Transformer

from georchestra_analytics.parser.classify.classifier import Classifier
from georchestra_analytics.parser.crs import parse_crs
from georchestra_analytics.parser.request import LoggedRequest
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.tile_grids import LAMB93_ORIGIN, LAMB93_SCALE_DENOMINATORS, grid_name, tile_extent

CLASSIFIER = Classifier(ParserSettings())


def extent_of(url: str) -> tuple[float, float, float, float] | None:
    """The record's extent keys, through the classifier as the parse job runs it."""
    record = CLASSIFIER.classify(
        LoggedRequest(ts=datetime(2026, 1, 5, tzinfo=UTC), id="x", source="clf", method="GET", url=url)
    )
    corners = (record["extent_west"], record["extent_south"], record["extent_east"], record["extent_north"])
    if corners == (None, None, None, None):
        return None
    assert None not in corners  # all four or none
    return corners  # type: ignore[return-value]


def close(found: tuple[float, ...] | None, expected: tuple[float, ...], tolerance: float = 1e-6) -> bool:
    return found is not None and all(
        math.isclose(a, b, abs_tol=tolerance) for a, b in zip(found, expected, strict=True)
    )


def mercator_tile(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    bounds = morecantile.tms.get("WebMercatorQuad").bounds(morecantile.Tile(x, y, z))
    return bounds.left, bounds.bottom, bounds.right, bounds.top


LYON_2154 = (840000.0, 6510000.0, 850000.0, 6520000.0)


def lyon_degrees() -> tuple[float, float, float, float]:
    transformer = Transformer.from_crs(2154, 4326, always_xy=True)
    minx, miny, maxx, maxy = LYON_2154
    xs, ys = transformer.transform([minx, minx, maxx, maxx], [miny, maxy, miny, maxy])
    return min(xs), min(ys), max(xs), max(ys)


@pytest.mark.parametrize(
    "url",
    [
        # WMS 1.3.0 with EPSG:4326: latitude first; 1.1.1 and CRS:84: longitude first.
        "/geoserver/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ws:a&CRS=EPSG:4326&BBOX=45,4,46,5",
        "/geoserver/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=ws:a&SRS=EPSG:4326&BBOX=4,45,5,46",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ws:a&CRS=CRS:84&BBOX=4,45,5,46",
        "/geoserver/wms?SERVICE=WMS&REQUEST=GetFeatureInfo&QUERY_LAYERS=ws:a&CRS=EPSG%3A4326&BBOX=45,4,46,5",
        # WFS: the urn form asks for the EPSG order, `EPSG:n` and WFS 1.0.0 for longitude first.
        "/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=ws:a"
        "&bbox=45,4,46,5,urn:ogc:def:crs:EPSG::4326",
        "/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=ws:a"
        "&bbox=45,4,46,5,http://www.opengis.net/def/crs/EPSG/0/4326",
        "/geoserver/wfs?service=WFS&version=1.1.0&request=GetFeature&typeName=ws:a&bbox=4,45,5,46,EPSG:4326",
        "/geoserver/wfs?service=WFS&version=1.0.0&request=GetFeature&typeName=ws:a&bbox=4,45,5,46&srsName=EPSG:4326",
        # WCS 2.0 subsets by axis label, WCS 1.1 BoundingBox (urn order), WCS 1.0 bbox.
        "/geoserver/wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId=ws__a&subset=Lat(45,46)&subset=Long(4,5)",
        "/geoserver/wcs?service=WCS&version=1.1.1&request=GetCoverage&identifier=ws:a"
        "&BoundingBox=45,4,46,5,urn:ogc:def:crs:EPSG::4326",
        "/geoserver/wcs?service=WCS&version=1.0.0&request=GetCoverage&coverage=ws:a&crs=EPSG:4326&bbox=4,45,5,46",
        # OGC API: CRS84 by default.
        "/geoserver/ogc/features/v1/collections/ws:a/items?bbox=4,45,5,46",
        "/geoserver/ogc/features/v1/collections/ws:a/items?bbox=4,45,0,5,46,100",
        "/geoserver/ogc/features/v1/collections/ws:a/items?bbox=45,4,46,5"
        "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
    ],
)
def test_degree_boxes_in_every_axis_order(url: str) -> None:
    assert extent_of(url) == (4.0, 45.0, 5.0, 46.0)


@pytest.mark.parametrize(
    "url",
    [
        "/geoserver/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ws:a&CRS=EPSG:2154"
        "&BBOX=840000,6510000,850000,6520000",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=ws:a&SRS=EPSG:2154"
        "&BBOX=840000,6510000,850000,6520000",
        "/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=ws:a"
        "&bbox=840000,6510000,850000,6520000,urn:ogc:def:crs:EPSG::2154",
        "/geoserver/wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId=ws__a&subset=E(840000,850000)"
        "&subset=N(6510000,6520000)&subsettingCRS=http://www.opengis.net/def/crs/EPSG/0/2154",
    ],
)
def test_lambert93_boxes_are_transformed(url: str) -> None:
    assert close(extent_of(url), lyon_degrees(), 1e-4)


def test_an_epsg_north_first_projection_is_swapped_in_wms_130_only() -> None:
    """EPSG:3035 (LAEA Europe) orders northing first: WMS 1.3.0 sends it so, WMS 1.1.1 easting first."""
    north_first = extent_of(
        "/geoserver/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=a&CRS=EPSG:3035&BBOX=2500000,3900000,2600000,4000000"
    )
    east_first = extent_of(
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:3035&BBOX=3900000,2500000,4000000,2600000"
    )
    assert north_first is not None and north_first == east_first
    assert 3 < north_first[0] < 6 and 44 < north_first[1] < 47  # around Lyon


Z, X, Y = 12, 2100, 1450  # a Web Mercator tile over the Rhône valley (rows from the top)


@pytest.mark.parametrize(
    "url",
    [
        f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:a&TILEMATRIXSET=EPSG:900913"
        f"&TILEMATRIX=EPSG:900913:{Z}&TILEROW={Y}&TILECOL={X}",
        f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:a&TILEMATRIXSET=GoogleMapsCompatible"
        f"&TILEMATRIX={Z}&TILEROW={Y}&TILECOL={X}",
        f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:a&TILEMATRIXSET=PM"
        f"&TILEMATRIX={Z}&TILEROW={Y}&TILECOL={X}",
        f"/geoserver/gwc/service/wmts/rest/ws:a/default/EPSG%3A900913/EPSG%3A900913%3A{Z}/{Y}/{X}?format=image/png",
        f"/geoserver/gwc/rest/wmts/ws:a/default/WebMercatorQuad/{Z}/{Y}/{X}.png",
        f"/geoserver/gwc/service/tms/1.0.0/ws:a@EPSG:900913@png/{Z}/{X}/{2**Z - 1 - Y}.png",
        f"/geoserver/gwc/service/gmaps?layers=ws:a&zoom={Z}&x={X}&y={Y}&format=image/png",
        f"/mapproxy/tiles/1.0.0/osm/webmercator/{Z}/{X}/{2**Z - 1 - Y}.png",
        f"/mapproxy/tiles/osm_EPSG3857/{Z}/{X}/{2**Z - 1 - Y}.png",
        f"/mapproxy/tiles/osm_EPSG3857/{Z}/{X}/{Y}.png?origin=nw",
        f"/mapproxy/wmts/osm/webmercator/{Z}/{X}/{Y}.png",
        f"/geoserver/ogc/tiles/v1/collections/ws:a/tiles/WebMercatorQuad/{Z}/{Y}/{X}",
    ],
)
def test_web_mercator_tiles_in_every_protocol(url: str) -> None:
    assert close(extent_of(url), mercator_tile(Z, X, Y))


def test_geodetic_tiles_match_world_crs84_quad() -> None:
    url = "/geoserver/gwc/service/wmts/rest/ws:a/default/EPSG:4326/EPSG:4326:10/300/1030?format=image/png"
    bounds = morecantile.tms.get("WorldCRS84Quad").bounds(morecantile.Tile(1030, 300, 10))
    assert close(extent_of(url), (bounds.left, bounds.bottom, bounds.right, bounds.top))


def test_lamb93_tiles_follow_ign_matrix_set() -> None:
    """IGN's LAMB93 set: 256 px tiles from (0, 12000000), resolution = scale denominator x 0.28 mm."""
    level, row, col = 12, 830, 150
    span = LAMB93_SCALE_DENOMINATORS[level] * 0.00028 * 256
    west, north = LAMB93_ORIGIN[0] + col * span, LAMB93_ORIGIN[1] - row * span
    transformer = Transformer.from_crs(2154, 4326, always_xy=True)
    xs, ys = transformer.transform([west, west, west + span, west + span], [north - span, north, north - span, north])
    found = extent_of(
        f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ws:a&TILEMATRIXSET=LAMB93"
        f"&TILEMATRIX={level}&TILEROW={row}&TILECOL={col}"
    )
    assert close(found, (min(xs), min(ys), max(xs), max(ys)), 1e-4)
    assert found is not None and 42 < found[1] < 51 and -5 < found[0] < 9  # in metropolitan France


@pytest.mark.parametrize(
    "name, grid",
    [
        ("urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible", "WebMercatorQuad"),
        ("http://www.opengis.net/def/tilematrixset/OGC/1.0/WorldCRS84Quad", "WorldCRS84Quad"),
        ("EPSG:900913", "WebMercatorQuad"),
        ("epsg:4326", "WorldCRS84Quad"),
        ("LAMB93", "LAMB93"),
        ("my-grid", None),
    ],
)
def test_grid_names(name: str, grid: str | None) -> None:
    assert grid_name(name) == grid


@pytest.mark.parametrize(
    "name, expected",
    [
        ("EPSG:4326", (4326, "short")),
        ("urn:ogc:def:crs:EPSG:6.6:4326", (4326, "uri")),
        ("https://www.opengis.net/def/crs/EPSG/0/2154", (2154, "uri")),
        ("http://www.opengis.net/gml/srs/epsg.xml#4326", (4326, "xy")),
        ("OGC:CRS84", (4326, "xy")),
        ("EPSG:900913", (3857, "short")),
        ("EPSG:102100", (3857, "short")),
        ("IGNF:LAMB93", (2154, "xy")),
        ("EPSG:99999999", None),
        ("EPSG:", None),
        ("", None),
    ],
)
def test_crs_names(name: str, expected: object) -> None:
    assert parse_crs(name) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=a&CRS=EPSG:4326",  # no box
        "/geoserver/wms?SERVICE=WMS&REQUEST=GetCapabilities&BBOX=4,45,5,46&SRS=EPSG:4326",  # not a map
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&BBOX=4,45,5,46",  # no CRS
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:1&BBOX=4,45,5,46",  # unknown
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=5,45,4,46",  # inverted
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=4,45,4,46",  # empty
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=4,95,5,96",  # off world
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=nan,45,5,46",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=-inf,45,inf,46",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:3857&BBOX=0,0,1e308,1e308",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=4,45,5",
        "/geoserver/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=a&SRS=EPSG:4326&BBOX=a,b,c,d",
        "/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=a&bbox=4,45,5,46",  # no CRS
        "/geoserver/wcs?service=WCS&version=2.0.1&request=GetCoverage&coverageId=a&subset=E(1,2)&subset=N(3,4)",
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=a&TILEMATRIXSET=EPSG:900913"
        "&TILEMATRIX=EPSG:900913:3&TILEROW=8&TILECOL=0",  # row outside the matrix
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=a&TILEMATRIXSET=custom"
        "&TILEMATRIX=3&TILEROW=1&TILECOL=1",  # a grid nobody published
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=a&TILEMATRIXSET=PM"
        "&TILEMATRIX=99&TILEROW=1&TILECOL=1",
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=a&TILEMATRIXSET=PM"
        "&TILEMATRIX=3&TILEROW=%C2%B2&TILECOL=1",  # a superscript digit is not a digit here
        "/geoserver/gwc/service/tms/1.0.0/ws:a@EPSG:900913@png/3/1/999.png",
        "/geoserver/ogc/features/v1/collections/a/items?bbox=170,45,-170,46",  # across the antimeridian
    ],
)
def test_no_extent(url: str) -> None:
    assert extent_of(url) is None


def test_tile_extent_is_memoised_but_grids_are_not_rebuilt() -> None:
    tile_extent.cache_clear()
    first = extent_of(f"/geoserver/gwc/service/gmaps?layers=ws:a&zoom={Z}&x={X}&y={Y}")
    second = extent_of(f"/geoserver/gwc/service/gmaps?layers=ws:b&zoom={Z}&x={X}&y={Y}")
    assert first == second and tile_extent.cache_info().hits == 1


def test_long_text_takes_no_memo_entry() -> None:
    """A hostile client sending kilobytes of box or CRS name cannot fill the memos: such text is computed
    without one (and a box padded with blanks still reads)."""
    from georchestra_analytics.parser.crs import _parse_crs
    from georchestra_analytics.parser.extent import _memo_box_extent, box_extent

    _memo_box_extent.cache_clear()
    _parse_crs.cache_clear()
    padded = "4" + " " * 300 + ",45,5,46"
    assert box_extent(padded, "EPSG:4326", "xy") == (4.0, 45.0, 5.0, 46.0)
    assert box_extent("4,45,5,46", "EPSG:4326" + " " * 5000, "xy") is None
    assert parse_crs("x" * 5000) is None
    assert _memo_box_extent.cache_info().currsize == 0
    assert _parse_crs.cache_info().currsize == 1  # EPSG:4326, from the padded box
