"""The report's map of requested extents: one square per grid cell where it lies, darker for more requests, on
any span from one cell to the whole world."""

from __future__ import annotations

import re

from georchestra_analytics.demo.html import HEAT_COLORS, heatmap
from georchestra_analytics.demo.report import ExtentCell

_CELL = re.compile(
    r'<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)" fill="(#[0-9a-f]{6})"><title>'
)


def _squares(svg: str) -> dict[str, tuple[float, float, float, float, str]]:
    """title -> (x, y, width, height, colour) of each cell's square."""
    found = {}
    for match in re.finditer(_CELL.pattern + r"([^<]*)</title>", svg):
        x, y, w, h, color, title = match.groups()
        found[title.split(":")[0]] = (float(x), float(y), float(w), float(h), color)
    return found


def test_cells_are_placed_by_longitude_and_latitude_and_coloured_by_requests() -> None:
    orleans, tours, north = ExtentCell(1.95, 47.95, 500), ExtentCell(0.65, 47.35, 5), ExtentCell(1.95, 48.45, 1)
    squares = _squares(heatmap([orleans, tours, north]))
    assert set(squares) == {"1.95, 47.95", "0.65, 47.35", "1.95, 48.45"}
    ox, oy, ow, oh, ocolor = squares["1.95, 47.95"]
    tx, ty, _, _, tcolor = squares["0.65, 47.35"]
    nx, ny, _, _, ncolor = squares["1.95, 48.45"]
    assert tx < ox and ty > oy  # Tours lies west and south of Orléans
    assert nx == ox and ny < oy  # north is up
    assert ow < oh  # a degree of longitude is shorter than one of latitude at 48° north
    assert ocolor == HEAT_COLORS[-1] and ncolor == HEAT_COLORS[0]  # the busiest darkest, a single request lightest
    assert HEAT_COLORS.index(tcolor) < HEAT_COLORS.index(ocolor)


def test_one_cell_and_the_whole_world_both_draw() -> None:
    assert len(_squares(heatmap([ExtentCell(2.35, 48.85, 3)]))) == 1
    world = [ExtentCell(-179.95, -89.95, 1), ExtentCell(179.95, 89.95, 2)]
    assert len(_squares(heatmap(world))) == 2


def test_no_cells_say_so() -> None:
    assert "no data" in heatmap([])
