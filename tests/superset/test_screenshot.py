"""The dashboard as a person sees it, over the demo's week: Debian's Chromium, headless, opens it after a form
login and every chart of every tab draws, without an error and with rows. A screenshot of each tab goes to the
test's temporary folder and is checked (the window's width, the tab's charts whole, not blank); with
ANALYTICS_UPDATE_SCREENSHOT=1 they replace docs/img/dashboard*.png (the README's and docs/dashboards.md's
pictures), so a run without it never rewrites committed files."""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import psycopg
import pytest
from tests.superset.browser import (
    chromium,
    chromium_binary,
    screenshot_dashboard,
    superset_session_cookie,
    visit_tabs,
)
from tests.superset.demo_week import SCHEMA, DemoWeek, demo_week  # noqa: F401 - the session fixture
from tests.support.superset import SupersetServer

from georchestra_analytics.demo.sample import DEFAULT_RECORDS
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.sync import sync

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
UPDATE_VARIABLE = "ANALYTICS_UPDATE_SCREENSHOT"
# Width and height of the page: the tallest tab whole, tables wide enough for their columns. Each picture stops
# where its tab's charts end.
WINDOW = (1600, 1100)
# The image of each tab, by tab title. The Overview is the dashboard as it opens: the README's picture.
TAB_IMAGES = {
    "Overview": "dashboard.png",
    "Layers and services": "dashboard-layers.png",
    "Organisations and users": "dashboard-organisations.png",
    "Downloads": "dashboard-downloads.png",
    "Performance": "dashboard-performance.png",
    "Applications and referrers": "dashboard-applications.png",
    "Audience: robots, countries, client applications": "dashboard-audience.png",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel (8-bit; no palettes from Chromium)


def png_size_and_content(data: bytes) -> tuple[int, int, float]:
    """Width, height, and the share of pixel rows whose filtered samples are not one repeated value.

    Reads the PNG without an imaging library: each row of the decompressed image data is a filter byte and
    the row's samples, filtered. Whatever the filter, the rows of one flat colour come out as one value repeated
    after the first pixel: a blank picture scores 0, a dashboard most of its rows (text, bars, lines).
    """
    assert data.startswith(PNG_SIGNATURE), data[:16]
    position, width, height, channels, compressed = len(PNG_SIGNATURE), 0, 0, 0, b""
    while position < len(data):
        (length,), kind = struct.unpack(">I", data[position : position + 4]), data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in _CHANNELS, (depth, colour)
            channels = _CHANNELS[colour]
        elif kind == b"IDAT":
            compressed += body
        position += 12 + length
    raw = zlib.decompress(compressed)
    stride = 1 + width * channels
    assert len(raw) == height * stride, (len(raw), width, height)
    drawn = sum(1 for top in range(0, len(raw), stride) if len(set(raw[top + 1 + channels : top + stride])) > 1)
    return width, height, drawn / height


@pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_demo_week_dashboard_renders_in_headless_chromium(
    client: SupersetClient,
    demo_week: DemoWeek,  # noqa: F811 - pytest injects the fixture
    superset_server: SupersetServer,
    tmp_path: Path,
) -> None:
    # The demo's default week, parsed: a few generated lines are cut, as a log rotation does, and kept aside.
    assert demo_week.records + demo_week.rejected == len(demo_week.sample) > DEFAULT_RECORDS * 0.9
    assert demo_week.rejected < len(demo_week.sample) * 0.01
    bundle = demo_week.bundle
    sync(client, bundle, demo_week.dashboards_password)
    cookie = superset_session_cookie(superset_server.url, superset_server.username, superset_server.password)
    shots = {title: tmp_path / name for title, name in TAB_IMAGES.items()}
    with chromium(*WINDOW) as tools:
        shown = screenshot_dashboard(tools, f"{superset_server.url}/superset/dashboard/{bundle.dashboard_slug}/",
                                     cookie, shots["Overview"])  # fmt: skip
        overview = tools.evaluate("document.body.innerText")
        tabs = visit_tabs(tools, shots={title: path for title, path in shots.items() if title != "Overview"})
    assert shown["location"] == f"/superset/dashboard/{bundle.dashboard_slug}/", shown
    assert (shown["errors"], shown["empty"], shown["undrawn"]) == ([], [], []), shown
    assert shown["charts"] == 6 and shown["pending"] == 0, shown  # the Overview tab
    assert shown["bottom"] <= WINDOW[1], shown
    # The Overview's four numbers are those of the parsed week's people (the Traffic filter's default), read from
    # the raw records; the week has robots too, which the numbers leave out.
    with psycopg.connect(demo_week.dsn) as conn:
        figures = conn.execute(
            'SELECT count(*), count(DISTINCT "user"), count(DISTINCT org), count(*) FILTER (WHERE status >= 400)'
            f" FROM {SCHEMA}.access_logs WHERE is_robot IS NOT TRUE"
        ).fetchone()
        robots = conn.execute(f"SELECT count(*) FROM {SCHEMA}.access_logs WHERE is_robot").fetchone()
    assert figures is not None and robots is not None and robots[0] > 0
    assert figures[0] + robots[0] == demo_week.records
    for name, value in zip(("Requests", "Users", "Organisations", "Errors"), figures, strict=True):
        assert re.search(rf"\n{name}\n(\d+\n)?{value:,}\n", overview), (name, value, overview)
    assert list(tabs) == list(TAB_IMAGES)
    for title, tab in tabs.items():
        assert (tab["errors"], tab["empty"], tab["undrawn"]) == ([], [], []), (title, tab)
        assert tab["charts"] >= 3 and tab["pending"] == 0, (title, tab)
        assert tab["bottom"] <= WINDOW[1], (title, tab)  # the picture holds the whole tab
    for title, path in shots.items():
        width, height, drawn = png_size_and_content(path.read_bytes())
        assert width == WINDOW[0] and WINDOW[1] // 2 < height <= WINDOW[1], (title, width, height)
        assert drawn > 0.3, (title, drawn)
    if os.environ.get(UPDATE_VARIABLE) == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for path in shots.values():
            shutil.copyfile(path, DOCS_IMAGES / path.name)
