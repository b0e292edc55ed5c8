"""The extent a request asked for, in EPSG:4326 (docs/classification.md#extents): from a WMS, WFS, WCS or OGC API
bounding box, or from the tile a WMTS, TMS, XYZ or OGC API Tiles request names.

None whenever there is no extent, or it is unusable: a missing or unknown CRS, numbers that are not numbers, an
empty or inverted box, a tile outside its matrix, coordinates outside the world. Nothing here raises on any
input (property tests feed it hostile values), and a request without a box or tile costs a dictionary lookup or
two. Coordinates are read from each request, never from a memo of the request's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from georchestra_analytics.parser.crs import Extent, north_first, parse_crs, projected_to_degrees
from georchestra_analytics.parser.tile_grids import flip_row, grid_name, tile_extent

_MAX_NUMBER = 40  # characters of one coordinate: more is not a coordinate
_MAX_INDEX = 10  # digits of a tile index or matrix number
# WCS 2.0 subset axis labels (lower case) that are a longitude/easting or a latitude/northing.
_X_LABELS = frozenset({"long", "lon", "longitude", "x", "e", "easting", "i"})
_Y_LABELS = frozenset({"lat", "latitude", "y", "n", "northing", "j"})
_DEGREE_LABELS = frozenset({"long", "lon", "longitude", "lat", "latitude"})


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or len(text) > _MAX_NUMBER:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _index(text: str) -> int | None:
    """A tile index or matrix number: ASCII digits only (`int` would take `²` or `1_0`)."""
    if 0 < len(text) <= _MAX_INDEX and text.isascii() and text.isdigit():
        return int(text)
    return None


# The longest box (with its CRS) worth a memo entry: six 20-digit numbers and a CRS URI. Longer text is no real
# box; it is computed without a memo, so a hostile client cannot fill the memo with kilobytes per entry.
_MEMO_TEXT = 200


def box_extent(box: str, crs_name: str | None, order: str) -> Extent | None:
    """`box`: "a,b,c,d" (a fifth item, a CRS, is taken when `crs_name` is None); `order`: how to read the axes,
    `xy` (easting first), `wms13` (EPSG order for EPSG:n names), `uri` (EPSG order for urn/http names only).
    Memoised for boxes of a plausible length: tiled WMS clients send the same boxes again and again."""
    if len(box) + len(crs_name or "") > _MEMO_TEXT:
        return _box_extent(box, crs_name, order)
    return _memo_box_extent(box, crs_name, order)


def _box_extent(box: str, crs_name: str | None, order: str) -> Extent | None:
    parts = box.split(",")
    if len(parts) == 5 and crs_name is None:
        crs_name = parts.pop()
    elif len(parts) == 6:  # OGC API: a 3D box, min x, min y, min z, max x, max y, max z
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not crs_name:
        return None
    parsed = parse_crs(crs_name)
    if parsed is None:
        return None
    numbers = [_number(part) for part in parts]
    a, b, c, d = numbers
    if a is None or b is None or c is None or d is None:
        return None
    code, form = parsed
    swap = (form == "uri" and order in ("uri", "wms13")) or (form == "short" and order == "wms13")
    if swap and north_first(code):
        a, b, c, d = b, a, d, c
    return projected_to_degrees(code, a, b, c, d)


_memo_box_extent = lru_cache(maxsize=8192)(_box_extent)


def _wms(params: dict[str, str]) -> Extent | None:
    box = params.get("bbox")
    if not box:
        return None
    crs_name = params.get("crs")
    version = params.get("version", "")
    wms13 = version.startswith("1.3") if version else crs_name is not None
    if crs_name is None:
        crs_name = params.get("srs")
    return box_extent(box, crs_name or "", "wms13" if wms13 else "xy")


def _wfs(params: dict[str, str]) -> Extent | None:
    box = params.get("bbox")
    if not box:
        return None
    crs_name = params.get("srsname") if box.count(",") == 3 else None
    order = "xy" if params.get("version", "").startswith("1.0") else "uri"
    return box_extent(box, crs_name, order)


def _wcs_subsets(text: str, crs_name: str | None) -> Extent | None:
    """WCS 2.0 `subset=Lat(40,50)&subset=Long(0,10)` (repeated parameters arrive comma-joined)."""
    x: tuple[float, float] | None = None
    y: tuple[float, float] | None = None
    degrees = True
    for item in text.split(")"):
        label, _, bounds = item.strip(", ").partition("(")
        low_text, _, high_text = bounds.partition(",")
        label = label.strip().lower()
        low, high = _number(low_text.strip('" ')), _number(high_text.strip('" '))
        if low is None or high is None:
            continue
        if label in _X_LABELS:
            x = (low, high)
        elif label in _Y_LABELS:
            y = (low, high)
        else:
            continue
        degrees = degrees and label in _DEGREE_LABELS
    if x is None or y is None:
        return None
    if crs_name is None:
        if not degrees:
            return None  # easting/northing of a CRS the request does not name
        return projected_to_degrees(4326, x[0], y[0], x[1], y[1])
    parsed = parse_crs(crs_name)
    return None if parsed is None else projected_to_degrees(parsed[0], x[0], y[0], x[1], y[1])


def _wcs(params: dict[str, str]) -> Extent | None:
    subsets = params.get("subset")
    if subsets:
        return _wcs_subsets(subsets, params.get("subsettingcrs"))
    box = params.get("boundingbox")  # WCS 1.1: a,b,c,d,urn
    if box:
        return box_extent(box, None, "uri")
    box = params.get("bbox")  # WCS 1.0: x/y order, CRS in `crs`
    if box:
        return box_extent(box, params.get("crs") or "", "xy")
    return None


def _tile(matrix_set: str, matrix: str, row: str, col: str, from_bottom: bool = False) -> Extent | None:
    if "%" in matrix_set or "%" in matrix:  # path segments are still URL-encoded (EPSG%3A900913)
        matrix_set, matrix = unquote(matrix_set), unquote(matrix)
    name = grid_name(matrix_set)
    prefix, _, number = matrix.rpartition(":")  # GeoWebCache's matrices are named EPSG:900913:12
    if name is None and prefix:
        name = grid_name(prefix)
    level, row_index, col_index = _index(number), _index(row.split(".", 1)[0]), _index(col.split(".", 1)[0])
    if name is None or level is None or row_index is None or col_index is None:
        return None
    if from_bottom:
        flipped = flip_row(name, level, row_index)
        if flipped is None:
            return None
        row_index = flipped
    return tile_extent(name, level, row_index, col_index)


def _wmts_kvp(params: dict[str, str]) -> Extent | None:
    matrix = params.get("tilematrix", "")
    return _tile(params.get("tilematrixset", ""), matrix, params.get("tilerow", ""), params.get("tilecol", ""))


def _wmts(params: dict[str, str], segments: list[str], lower: list[str]) -> Extent | None:
    if "wmts" not in lower:
        return None
    tail = segments[lower.index("wmts") + 1 :]
    if "gwc" in lower:  # /gwc/rest/wmts/ or /gwc/service/wmts/rest/: {layer}/{style}/{set}/{matrix}/{row}/{col}
        if tail and tail[0].lower() == "rest":
            tail = tail[1:]
        return _tile(tail[2], tail[3], tail[4], tail[5]) if len(tail) >= 6 else None
    # MapProxy: /wmts/{layer}/{set}/{matrix}/{col}/{row}.ext
    return _tile(tail[1], tail[2], tail[4], tail[3]) if len(tail) >= 5 else None


def _tms(params: dict[str, str], segments: list[str], lower: list[str]) -> Extent | None:
    if "gmaps" in lower:  # GeoWebCache's Google Maps tiles: ?layers=...&zoom=&x=&y=, rows from the top
        return _tile("WebMercatorQuad", params.get("zoom", ""), params.get("y", ""), params.get("x", ""))
    if "gwc" in lower and "tms" in lower:  # /gwc/service/tms/1.0.0/{layer}@{set}@{format}/{z}/{x}/{y}.ext
        tail = segments[lower.index("tms") + 2 :]
        if len(tail) < 4 or tail[0].count("@") < 1:
            return None
        return _tile(tail[0].split("@")[1], tail[1], tail[3], tail[2], from_bottom=True)
    if "tiles" in lower:  # MapProxy: /tiles/1.0.0/{layer}/{set}/{z}/{x}/{y}.ext, /tiles/{layer}_{set}/{z}/{x}/{y}.ext
        tail = segments[lower.index("tiles") + 1 :]
        if tail and tail[0] == "1.0.0" and len(tail) >= 6:
            return _tile(tail[2], tail[3], tail[5], tail[4], from_bottom=True)
        if len(tail) >= 4 and "_" in tail[0]:
            top = params.get("origin", "").lower() == "nw"
            return _tile(tail[0].rsplit("_", 1)[1], tail[1], tail[3], tail[2], from_bottom=not top)
    return None


def _ogc_api(params: dict[str, str], segments: list[str], lower: list[str]) -> Extent | None:
    box = params.get("bbox")
    if box:
        return box_extent(box, params.get("bbox-crs") or "CRS:84", "uri")
    if "tiles" in lower:  # .../tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}
        at = len(lower) - 1 - lower[::-1].index("tiles")
        tail = segments[at + 1 :]
        if len(tail) >= 4:
            return _tile(tail[0], tail[1], tail[2], tail[3])
    return None


_ON_PARAMS: dict[str, Callable[[dict[str, str]], Extent | None]] = {"WMS": _wms, "WFS": _wfs, "WCS": _wcs}
_ON_PATH: dict[str, Callable[[dict[str, str], list[str], list[str]], Extent | None]] = {
    "WMTS": _wmts,
    "TMS": _tms,
    "OGC API Features": _ogc_api,
    "OGC API Tiles": _ogc_api,
    "OGC API Maps": _ogc_api,
}


# The operations that ask for an extent, by service.
_OPERATIONS = {
    "WMS": frozenset({"getmap", "getfeatureinfo"}),
    "WFS": frozenset({"getfeature", "getfeaturewithlock", "getpropertyvalue"}),
    "WCS": frozenset({"getcoverage"}),
    "WMTS": frozenset({"gettile", "getfeatureinfo"}),
    "TMS": frozenset({"gettile"}),
    "OGC API Features": frozenset({"items"}),
    "OGC API Tiles": frozenset({"gettile"}),
    "OGC API Maps": frozenset({"map", "gettile"}),
}


def requested_extent(service: str | None, request: str | None, params: dict[str, str], path: str) -> Extent | None:
    """The EPSG:4326 extent (west, south, east, north) a classified request asked for, or None. `params`: the
    query parameters (lower-case names); `path`: the URL path, still URL-encoded (split only for tile paths)."""
    if service is None or request is None:
        return None
    operations = _OPERATIONS.get(service)
    if operations is None or request not in operations:
        return None
    by_params = _ON_PARAMS.get(service)
    try:
        if by_params is not None:
            return by_params(params)
        if service == "WMTS" and "tilematrix" in params:
            return _wmts_kvp(params)
        by_path = _ON_PATH.get(service)
        if by_path is None:
            return None
        segments = [segment for segment in path.split("/") if segment]
        return by_path(params, segments, [segment.lower() for segment in segments])
    except (ArithmeticError, ValueError, IndexError, RuntimeError):  # a hostile value: no extent, never a crash
        return None
