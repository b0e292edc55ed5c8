"""The HTML report: self-contained, and every value from the data escaped."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

from georchestra_analytics.demo.html import horizontal_bars, human_bytes, render_html
from georchestra_analytics.demo.report import (
    ApplicationUsage,
    DailyUsage,
    DownloadUsage,
    ExtentCell,
    LayerUsage,
    OrganisationUsage,
    ServiceUsage,
    Totals,
    UsageReport,
)

HOSTILE = "</text></svg><script>alert('x')</script> & \"Co\" d'Orléans"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.texts: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def _report() -> UsageReport:
    return UsageReport(
        totals=Totals(requests=10, errors=1, bytes=2_500_000, signed_in_requests=4, users=2, organisations=2, layers=2),
        top_layers=[LayerUsage(HOSTILE, None, 7, 1), LayerUsage("ws:roads", "ws", 3, 0)],
        organisations=[OrganisationUsage(None, 6, 1, 0), OrganisationUsage(HOSTILE, 4, 0, 2)],
        services=[ServiceUsage("WMS", 8, 1, 5, 80.0, 412.5), ServiceUsage(None, 2, 0, 0, None, None)],
        downloads=[DownloadUsage(HOSTILE, 1, 2_000_000)],
        applications=[ApplicationUsage("geoserver", 10, 1)],
        daily=[DailyUsage(date(2026, 11, 23), 4, 1), DailyUsage(date(2026, 11, 24), 6, 0)],
        extents=[ExtentCell(1.95, 47.95, 6), ExtentCell(0.65, 47.35, 2)],
    )


def test_hostile_names_are_text_not_markup() -> None:
    page = render_html(_report(), subtitle=HOSTILE)
    collector = _Collector()
    collector.feed(page)
    assert "script" not in collector.tags
    assert collector.tags.count("svg") == 8  # every chart drew, none was closed early by a name
    assert any(HOSTILE in text for text in collector.texts)  # shown as written, once unescaped


def test_the_page_needs_nothing_from_the_network() -> None:
    page = render_html(_report())
    collector = _Collector()
    collector.feed(page)
    assert not {"script", "link", "img", "iframe"} & set(collector.tags)
    urls = [value for name, value in collector.attributes if name in ("src", "href") and value]
    assert urls == []


def test_bars_are_proportional_to_values() -> None:
    svg = horizontal_bars([("a", 200.0), ("b", 50.0)])
    widths = [float(width) for width in re.findall(r'<rect x="300" y="[0-9.]+" width="([0-9.]+)"', svg)]
    assert widths == [widths[1] * 4, widths[1]]


def test_empty_charts_say_so() -> None:
    assert "no data" in horizontal_bars([])


def test_human_bytes() -> None:
    assert [human_bytes(v) for v in (999, 1500, 2_500_000, 3e12)] == ["999 B", "1.5 kB", "2.5 MB", "3.0 TB"]
