"""Tile matrix sets: a tile's (matrix, row, column) to its extent in EPSG:4326 (docs/classification.md#extents).

The OGC standard sets (WebMercatorQuad, WorldCRS84Quad) are read once from `morecantile`, which ships their
official definitions; the French Géoplateforme's LAMB93 set is not in it and is declared below from IGN's
published TileMatrixSet (its PM set is WebMercatorQuad). Names are matched case-insensitively, with the aliases
GeoServer/GeoWebCache, MapProxy and IGN give the same grids.

Per record this is arithmetic only: grids are built once, morecantile is imported on the first tile request (it
costs most of a second), coordinates go to degrees by closed formulas for Web Mercator and through one cached
pyproj Transformer otherwise, and recent tiles' extents are memoised (popular tiles repeat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

from georchestra_analytics.parser.crs import Extent, projected_to_degrees

# OGC's standardised pixel size (WMTS 1.0, 2D TMS 2.0): scale denominator x 0.28 mm = metres per pixel.
_PIXEL_SIZE = 0.00028
# The deepest zoom level a quad grid is extended to (GeoWebCache's EPSG:900913 gridset has 31 levels).
MAX_QUAD_LEVEL = 30

# IGN Géoplateforme's LAMB93 TileMatrixSet (EPSG:2154): top-left corner (0, 12000000), 256 px tiles, and these
# scale denominators for matrices 0 to 21, as its WMTS capabilities publish them.
LAMB93_SCALE_DENOMINATORS = (
    373497230.5353357571875677, 186705472.6921089404495433, 93341025.2806978682347108, 46667469.2207142901243060,
    23332959.3004053602435306, 11666284.0159382160591122, 5833092.8735621436167094, 2916534.1249500003143567,
    1458263.9809885714915936, 729131.2196817857459905, 364565.4170828571558332, 182282.6603450000154965,
    91141.3181225000130965, 45570.6560485714301016, 22785.3272714285733418, 11392.6634475000012445,
    5696.3316767857149872, 2848.1658267857144691, 1424.0829103571428959, 712.0414546428572171,
    356.0207275000000519, 178.0103635714285826,
)  # fmt: skip
LAMB93_ORIGIN = (0.0, 12000000.0)


@dataclass(frozen=True, slots=True)
class TileGrid:
    """One tile matrix set, with its matrices' top-left corner on the grid's first matrix (every matrix shares
    it in these sets). `crs` is an EPSG code, 4326 meaning lon/lat degrees here."""

    name: str
    crs: int
    origin: tuple[float, float]  # x (easting or longitude), y (northing or latitude) of the top-left corner
    resolutions: tuple[float, ...]  # CRS units per pixel, by matrix number
    matrix_heights: tuple[int, ...]  # tiles per column, by matrix number (to flip TMS rows, counted from below)
    tile_size: int = 256

    def tile_bounds(self, level: int, row: int, col: int) -> tuple[float, float, float, float] | None:
        """(min x, min y, max x, max y) in the grid's CRS of a tile whose row counts from the top, or None when
        the matrix or the tile is not in the grid."""
        if not 0 <= level < len(self.resolutions) or row < 0 or col < 0 or row >= self.matrix_heights[level]:
            return None
        span = self.resolutions[level] * self.tile_size
        west = self.origin[0] + col * span
        north = self.origin[1] - row * span
        return west, north - span, west + span, north


def _quad(name: str, crs: int, origin: tuple[float, float], resolution: float, height: int) -> TileGrid:
    levels = range(MAX_QUAD_LEVEL + 1)
    return TileGrid(name, crs, origin, tuple(resolution / 2**z for z in levels), tuple(height * 2**z for z in levels))


@cache
def _standard_grids() -> dict[str, TileGrid]:
    import morecantile

    grids = {}
    for name, crs in (("WebMercatorQuad", 3857), ("WorldCRS84Quad", 4326)):
        matrix_set = morecantile.tms.get(name)
        first = matrix_set.matrix(matrix_set.minzoom)
        x, y = first.pointOfOrigin
        grids[name] = _quad(name, crs, (float(x), float(y)), float(first.cellSize), int(first.matrixHeight))
    return grids


@cache
def _lamb93() -> TileGrid:
    resolutions = tuple(scale * _PIXEL_SIZE for scale in LAMB93_SCALE_DENOMINATORS)
    # Tiles per column down to the grid's southern limit: IGN's published matrix heights, rounded up.
    heights = tuple(math.ceil(LAMB93_ORIGIN[1] / (resolution * 256)) for resolution in resolutions)
    return TileGrid("LAMB93", 2154, LAMB93_ORIGIN, resolutions, heights)


_ALIASES = {
    "WebMercatorQuad": (
        "webmercatorquad", "googlemapscompatible", "epsg:900913", "epsg:3857", "900913", "3857", "epsg900913",
        "epsg3857", "pm", "webmercator", "global_webmercator", "global_mercator", "googlemaps", "googlecrs84quad",
    ),
    "WorldCRS84Quad": ("worldcrs84quad", "wgs1984quad", "epsg:4326", "4326", "epsg4326", "crs84"),
    "LAMB93": ("lamb93", "epsg:2154", "2154", "epsg2154"),
}  # fmt: skip
_GRID_OF_ALIAS = {alias: grid for grid, aliases in _ALIASES.items() for alias in aliases}


def grid_name(name: str) -> str | None:
    """The tile matrix set a name or alias stands for (`urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible` too)."""
    lower = name.strip().lower()
    found = _GRID_OF_ALIAS.get(lower)
    if found is None and ":" in lower and ("wkss" in lower or "tilematrixset" in lower):
        found = _GRID_OF_ALIAS.get(lower.rsplit(":", 1)[-1])
    if found is None and "/" in lower:
        found = _GRID_OF_ALIAS.get(lower.rstrip("/").rsplit("/", 1)[-1])
    return found


def grid(name: str) -> TileGrid:
    """A grid by its canonical name (what grid_name returns)."""
    return _lamb93() if name == "LAMB93" else _standard_grids()[name]


@lru_cache(maxsize=16384)
def tile_extent(name: str, level: int, row: int, col: int) -> Extent | None:
    """The EPSG:4326 extent of a tile (row counted from the top) of a grid named by its canonical name; None when
    the tile is not in the grid or its corners cannot be transformed."""
    tile_grid = grid(name)
    bounds = tile_grid.tile_bounds(level, row, col)
    if bounds is None:
        return None
    return projected_to_degrees(tile_grid.crs, *bounds)


def flip_row(name: str, level: int, row_from_bottom: int) -> int | None:
    """A TMS row (counted from the bottom of the grid) as a WMTS row (from the top)."""
    heights = grid(name).matrix_heights
    if not 0 <= level < len(heights):
        return None
    return heights[level] - 1 - row_from_bottom
