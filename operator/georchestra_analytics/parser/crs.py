"""Coordinate reference systems of requested extents: their names, axis order, and the way to EPSG:4326 degrees
(docs/classification.md#extents).

Names come in the forms OGC services accept (`EPSG:2154`, `urn:ogc:def:crs:EPSG::4326`,
`http://www.opengis.net/def/crs/EPSG/0/4326`, `CRS:84`...); how a service orders the axes depends on the form
and on the service's version, so the form is returned beside the code. pyproj is imported on the first extent
that needs it, Transformers and axis orders are cached per code (a bounded cache: a hostile client could name
thousands of codes), and Web Mercator goes to degrees by its closed formulas.
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache
from typing import Any, Literal

Extent = tuple[float, float, float, float]  # west, south, east, north in EPSG:4326 degrees (lon/lat)

# How a name asks for its axes: `short` (EPSG:n: lon/lat for most services, EPSG order for WMS 1.3.0),
# `uri` (urn and http forms: the EPSG order) or `xy` (always easting/longitude first).
Form = Literal["short", "uri", "xy"]

_EARTH_RADIUS = 6378137.0  # WGS 84 semi-major axis, the sphere of Web Mercator
_DIGITS = 7  # about a centimetre: enough for any view, and stable output
_SLACK = 1e-6  # rounding at the edges of the world
# Codes that are Web Mercator under another name (Google's, ESRI's).
_WEB_MERCATOR = frozenset({3857, 900913, 3785, 102100, 102113})
_CRS84 = re.compile(
    r"^(?:crs:84|ogc:crs84|urn:ogc:def:crs:ogc:(?:1\.3|[0-9.]*):crs84|https?://www\.opengis\.net/def/crs/ogc/[0-9.]+/crs84)$"
)
_SHORT = re.compile(r"^epsg:(\d{1,6})$")
_URI = re.compile(
    r"^(?:urn:(?:x-)?ogc:def:crs:epsg:[0-9.]*:(\d{1,6})|https?://www\.opengis\.net/def/crs/epsg/[0-9.]+/(\d{1,6}))$"
)
_GML_SRS = re.compile(r"^https?://www\.opengis\.net/gml/srs/epsg\.xml#(\d{1,6})$")
_OTHER_NAMES = {"ignf:lamb93": 2154, "ignf:rgf93g": 4171}


_MAX_NAME = 100  # longer than any CRS name of the forms above


def parse_crs(name: str) -> tuple[int, Form] | None:
    """(EPSG code, form) of a CRS name, or None when it is not one of the forms above. Memoised, except for text
    too long to be a CRS name (no memo entry for a hostile kilobyte)."""
    return None if len(name) > _MAX_NAME else _parse_crs(name)


@lru_cache(maxsize=1024)
def _parse_crs(name: str) -> tuple[int, Form] | None:
    lower = name.strip().lower()
    if _CRS84.match(lower):
        return 4326, "xy"
    if (match := _SHORT.match(lower)) is not None:
        return _canonical(int(match.group(1))), "short"
    if (match := _URI.match(lower)) is not None:
        return _canonical(int(match.group(1) or match.group(2))), "uri"
    if (match := _GML_SRS.match(lower)) is not None:
        return _canonical(int(match.group(1))), "xy"
    if lower in _OTHER_NAMES:
        return _OTHER_NAMES[lower], "xy"
    return None


def _canonical(code: int) -> int:
    return 3857 if code in _WEB_MERCATOR else code


@cache
def _known_epsg_codes() -> frozenset[int]:
    """The EPSG CRS codes of PROJ's database, read once (about 0.1 s): a code outside it is refused at once, not
    after a PROJ lookup of milliseconds, so requests cycling through made-up codes cost nothing."""
    from pyproj.database import get_codes

    return frozenset(int(code) for code in get_codes("EPSG", "CRS") if code.isdigit())


def _crs_facts(code: int) -> tuple[Any, bool] | None:
    """(Transformer to EPSG:4326 lon/lat, whether the CRS's first axis points north), None for a code PROJ does
    not know or cannot transform."""
    return _known_crs_facts(code) if code in _known_epsg_codes() else None


@lru_cache(maxsize=256)
def _known_crs_facts(code: int) -> tuple[Any, bool] | None:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import ProjError

    try:
        crs = CRS.from_epsg(code)
        axes = crs.axis_info
        north_first = bool(axes) and axes[0].direction in ("north", "south")
        transformer = Transformer.from_crs(crs, 4326, always_xy=True)
    except (ProjError, ValueError, TypeError):
        return None
    return transformer, north_first


def north_first(code: int) -> bool:
    """Whether the EPSG order of this CRS puts northing/latitude first (EPSG:4326, 3035...)."""
    if code == 4326:
        return True
    if code == 3857:
        return False
    facts = _crs_facts(code)
    return facts is not None and facts[1]


def checked_extent(west: float, south: float, east: float, north: float) -> Extent | None:
    """The extent rounded, or None when it is not a usable lon/lat box: not finite, empty, outside the world,
    or crossing the antimeridian (west > east)."""
    if not (math.isfinite(west) and math.isfinite(south) and math.isfinite(east) and math.isfinite(north)):
        return None
    if west < -180 - _SLACK or east > 180 + _SLACK or south < -90 - _SLACK or north > 90 + _SLACK:
        return None
    west, east = max(west, -180.0), min(east, 180.0)
    south, north = max(south, -90.0), min(north, 90.0)
    if not (west < east and south < north):
        return None
    return round(west, _DIGITS), round(south, _DIGITS), round(east, _DIGITS), round(north, _DIGITS)


def _mercator(x: float, y: float) -> tuple[float, float]:
    return math.degrees(x / _EARTH_RADIUS), math.degrees(math.atan(math.sinh(y / _EARTH_RADIUS)))


def projected_to_degrees(code: int, minx: float, miny: float, maxx: float, maxy: float) -> Extent | None:
    """An x/y box (easting or longitude first) of EPSG:`code` as a checked EPSG:4326 extent: the box around its
    corners and edge midpoints (a projected box's edges curve in degrees)."""
    try:
        if code == 4326:
            return checked_extent(minx, miny, maxx, maxy)
        if code == 3857:
            west, south = _mercator(minx, miny)
            east, north = _mercator(maxx, maxy)
            return checked_extent(west, south, east, north)
        facts = _crs_facts(code)
        if facts is None:
            return None
        midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
        xs, ys = facts[0].transform(
            [minx, minx, maxx, maxx, midx, midx, minx, maxx], [miny, maxy, miny, maxy, miny, maxy, midy, midy]
        )
        return checked_extent(min(xs), min(ys), max(xs), max(ys))
    except (ArithmeticError, ValueError, RuntimeError):  # overflow, or pyproj's ProjError (a RuntimeError)
        return None
