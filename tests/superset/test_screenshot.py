"""The dashboard as a person sees it: Debian's Chromium, headless, opens it after a form login; every chart
of every tab draws without an error. The screenshot goes to the test's temporary folder, or to
docs/img/dashboard.png with ANALYTICS_UPDATE_SCREENSHOT=1 (how the README's picture is made)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tests.superset.browser import (
    chromium,
    chromium_binary,
    screenshot_dashboard,
    superset_session_cookie,
    visit_tabs,
)
from tests.superset.conftest import AnalyticsDatabase
from tests.support.superset import SupersetServer

from georchestra_analytics.superset.bundle import Bundle
from georchestra_analytics.superset.client import SupersetClient
from georchestra_analytics.superset.sync import sync

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_dashboard_renders_in_headless_chromium(
    client: SupersetClient,
    bundle: Bundle,
    analytics_db: AnalyticsDatabase,
    superset_server: SupersetServer,
    tmp_path: Path,
) -> None:
    sync(client, bundle, analytics_db.dashboards_password)
    cookie = superset_session_cookie(superset_server.url, superset_server.username, superset_server.password)
    out = tmp_path / "dashboard.png"
    with chromium() as tools:
        shown = screenshot_dashboard(tools, f"{superset_server.url}/superset/dashboard/{bundle.dashboard_slug}/",
                                     cookie, out)  # fmt: skip
        tabs = visit_tabs(tools)
    assert shown["location"] == f"/superset/dashboard/{bundle.dashboard_slug}/", shown
    assert shown["errors"] == []
    assert shown["charts"] == 6 and shown["pending"] == 0, shown  # the Overview tab
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert list(tabs) == ["Overview", "Layers and services", "Organisations and users", "Downloads", "Performance",
                          "Applications and referrers"]  # fmt: skip
    for title, tab in tabs.items():
        assert tab["errors"] == [], title
        assert tab["charts"] >= 3 and tab["pending"] == 0, (title, tab)
    if os.environ.get("ANALYTICS_UPDATE_SCREENSHOT") == "1":
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, DOCS_IMAGE)
