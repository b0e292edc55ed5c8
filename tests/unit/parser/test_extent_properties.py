"""Property-based: whatever a client puts in a box, a CRS, a tile matrix or a path, extent extraction answers a
usable EPSG:4326 extent or None, never an exception; valid tiles agree with morecantile's own bounds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import morecantile
from hypothesis import given, settings
from hypothesis import strategies as st

from georchestra_analytics.parser.classify.classifier import Classifier
from georchestra_analytics.parser.extent import requested_extent
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord, Reject
from georchestra_analytics.parser.request import LoggedRequest
from georchestra_analytics.parser.settings import ParserSettings

SERVICES = st.sampled_from(["WMS", "WFS", "WCS", "WMTS", "TMS", "OGC API Features", "OGC API Tiles", "OGC API Maps"])
REQUESTS = st.sampled_from(["getmap", "getfeatureinfo", "getfeature", "getcoverage", "gettile", "items", "map"])
NAMES = st.sampled_from([
    "bbox", "crs", "srs", "version", "srsname", "subset", "subsettingcrs", "boundingbox", "tilematrixset",
    "tilematrix", "tilerow", "tilecol", "zoom", "x", "y", "origin", "bbox-crs",
])  # fmt: skip
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "1_0", "²", "", " ", "0x10", "１２"]),
)
CRS_NAMES = st.sampled_from([
    "EPSG:4326", "EPSG:2154", "EPSG:3857", "EPSG:3035", "CRS:84", "urn:ogc:def:crs:EPSG::4326", "EPSG:0",
    "EPSG:999999", "http://www.opengis.net/def/crs/EPSG/0/27572", "IGNF:LAMB93", "EPSG:900913", "x",
])  # fmt: skip
GRIDS = st.sampled_from(["EPSG:900913", "EPSG:4326", "PM", "LAMB93", "WebMercatorQuad", "WorldCRS84Quad", "x"])


@st.composite
def boxes(draw: st.DrawFn) -> str:
    parts = draw(st.lists(NUMBERS, min_size=0, max_size=7))
    if draw(st.booleans()):
        parts.append(draw(CRS_NAMES))
    return ",".join(parts)


VALUES = st.one_of(boxes(), CRS_NAMES, GRIDS, NUMBERS, st.text(max_size=60))
PATHS = st.lists(
    st.one_of(st.sampled_from(["gwc", "service", "wmts", "rest", "tms", "1.0.0", "tiles", "gmaps", "mapproxy"]),
              GRIDS, NUMBERS, st.text(max_size=20)),
    max_size=10,
).map(lambda parts: "/" + "/".join(parts))  # fmt: skip


def usable(extent: tuple[float, float, float, float] | None) -> bool:
    if extent is None:
        return True
    west, south, east, north = extent
    return all(math.isfinite(value) for value in extent) and -180 <= west < east <= 180 and -90 <= south < north <= 90


@settings(max_examples=400, deadline=None)
@given(SERVICES, REQUESTS, st.dictionaries(NAMES, VALUES, max_size=8), PATHS)
def test_any_input_gives_a_usable_extent_or_none(service: str, request: str, params: dict[str, str], path: str) -> None:
    assert usable(requested_extent(service, request, params, path))


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-180, max_value=180),
    st.floats(min_value=-90, max_value=90),
    st.floats(min_value=-180, max_value=180),
    st.floats(min_value=-90, max_value=90),
)
def test_wms_130_degrees_read_latitude_first(a: float, b: float, c: float, d: float) -> None:
    params = {"version": "1.3.0", "crs": "EPSG:4326", "bbox": f"{b!r},{a!r},{d!r},{c!r}"}
    found = requested_extent("WMS", "getmap", params, "/geoserver/wms")
    if a < c and b < d:
        assert found is not None
        assert all(math.isclose(x, y, abs_tol=1e-7) for x, y in zip(found, (a, b, c, d), strict=True))
    else:
        assert found is None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=22), st.data())
def test_valid_tiles_agree_with_morecantile(z: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(min_value=0, max_value=2**z - 1))
    y = data.draw(st.integers(min_value=0, max_value=2**z - 1))
    params = {"tilematrixset": "EPSG:900913", "tilematrix": f"EPSG:900913:{z}", "tilerow": str(y), "tilecol": str(x)}
    found = requested_extent("WMTS", "gettile", params, "/geoserver/gwc/service/wmts")
    bounds = morecantile.tms.get("WebMercatorQuad").bounds(morecantile.Tile(x, y, z))
    expected = (bounds.left, bounds.bottom, bounds.right, bounds.top)
    assert found is not None
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(found, expected, strict=True))


PIPELINE = Pipeline(ParserSettings())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=6), PATHS, SERVICES)
def test_the_parse_job_never_fails_on_hostile_extents(params: dict[str, str], path: str, service: str) -> None:
    """Through the whole pipeline: a record with all four extent keys or none, or a reject; never a crash."""
    classifier: Classifier = PIPELINE.classifier
    request = LoggedRequest(
        ts=datetime(2026, 1, 5, tzinfo=UTC), id="x", source="gateway", method="GET", url=path,
        extra_params={"service": service.split()[0], "request": "GetMap", **params},
    )  # fmt: skip
    result: AccessRecord | Reject = classifier.classify(request)
    assert isinstance(result, dict)
    corners = [result["extent_west"], result["extent_south"], result["extent_east"], result["extent_north"]]
    assert all(value is None for value in corners) or usable(tuple(corners))  # type: ignore[arg-type]
