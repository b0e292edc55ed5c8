"""The demo's report as one self-contained HTML page: tables and bar charts drawn as inline SVG.

No script and no external resource (the page must open offline, from a mail attachment or a closed network).
Every value from the data is escaped: organisation names hold apostrophes, ampersands and worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

from georchestra_analytics.demo.report import ExtentCell, UsageReport

BAR_COLOR = "#2b6cb0"
ERROR_COLOR = "#c53030"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1a202c; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #e2e8f0; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #e2e8f0; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
table { border-collapse: collapse; margin: .8rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #edf2f7; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #718096; } svg text { font-size: 12px; fill: #2d3748; }
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}".replace(",", "\u202f")


def human_bytes(value: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _label(value: str | None, none: str) -> str:
    return none if value is None else value


def horizontal_bars(items: Sequence[tuple[str, float]], *, unit: str = "", color: str = BAR_COLOR) -> str:
    """One bar per (label, value), longest first as given, scaled to the largest value."""
    if not items:
        return '<p class="muted">no data</p>'
    label_width, bar_width, row_height = 300, 420, 22
    largest = max(value for _, value in items) or 1
    height = row_height * len(items) + 4
    parts = [
        f'<svg role="img" width="{label_width + bar_width + 110}" height="{height}" '
        f'viewBox="0 0 {label_width + bar_width + 110} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, value) in enumerate(items):
        y = index * row_height + 2
        width = max(1.0, bar_width * value / largest) if value > 0 else 0.0
        shown = label if len(label) <= 44 else label[:43] + "…"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end"><title>{_text(label)}</title>'
            f"{_text(shown)}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{width:.1f}" height="{row_height - 6}" fill="{color}"/>'
            f'<text x="{label_width + width + 6:.1f}" y="{y + 15}">{_text(_number(value))}{_text(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(items: Sequence[tuple[str, float, float]]) -> str:
    """A column per (label, total, errors): errors drawn at the foot of their column."""
    if not items:
        return '<p class="muted">no data</p>'
    column_width, chart_height, top, foot = 80, 200, 20, 36
    largest = max(total for _, total, _ in items) or 1
    width = column_width * len(items) + 20
    parts = [
        f'<svg role="img" width="{width}" height="{chart_height + top + foot}" '
        f'viewBox="0 0 {width} {chart_height + top + foot}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, total, errors) in enumerate(items):
        x = 10 + index * column_width
        total_height = chart_height * total / largest
        error_height = chart_height * errors / largest
        base = top + chart_height
        parts.append(
            f'<rect x="{x + 10}" y="{base - total_height:.1f}" width="{column_width - 20}" '
            f'height="{total_height:.1f}" fill="{BAR_COLOR}"/>'
            f'<rect x="{x + 10}" y="{base - error_height:.1f}" width="{column_width - 20}" '
            f'height="{error_height:.1f}" fill="{ERROR_COLOR}"/>'
            f'<text x="{x + column_width / 2}" y="{base - total_height - 5:.1f}" text-anchor="middle">'
            f"{_text(_number(total))}</text>"
            f'<text x="{x + column_width / 2}" y="{base + 16}" text-anchor="middle">{_text(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# Light to dark, for few to many requests (a sequential scale that stays readable for colour-blind readers).
HEAT_COLORS = ("#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704")
CELL_DEGREES = 0.1  # the requested-extent grid (docs/classification.md#extents)


def _heat_color(requests: int, largest: int) -> str:
    """On a logarithmic scale: a few busy cells would otherwise leave every other one white."""
    if largest <= 1:
        return HEAT_COLORS[-1]
    share = math.log(max(requests, 1)) / math.log(largest)
    return HEAT_COLORS[min(len(HEAT_COLORS) - 1, int(share * len(HEAT_COLORS)))]


def _ticks(low: float, high: float) -> list[float]:
    step = next((s for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0) if (high - low) / s <= 8), 60.0)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 6) for i in range(int((high - first) / step) + 1)]


def heatmap(cells: Sequence[ExtentCell], *, width: int = 640) -> str:
    """The requested-extent grid as a map without a base map: one square per 0.1-degree cell, coloured by its
    requests, longitude and latitude on the axes (equirectangular, shrunk in longitude by the cosine of the
    middle latitude so that shapes look right at that latitude)."""
    if not cells:
        return '<p class="muted">no data</p>'
    half = CELL_DEGREES / 2
    west, east = min(c.lon for c in cells) - half, max(c.lon for c in cells) + half
    south, north = min(c.lat for c in cells) - half, max(c.lat for c in cells) + half
    squash = math.cos(math.radians((south + north) / 2))
    scale = width / ((east - west) * squash)
    height = max(40.0, (north - south) * scale)
    margin_left, margin_bottom, legend = 52, 30, 34
    total_w, total_h = width + margin_left + 10, height + margin_bottom + legend + 10
    largest = max(c.requests for c in cells)

    def x_of(lon: float) -> float:
        return margin_left + (lon - west) * squash * scale

    def y_of(lat: float) -> float:
        return 10 + (north - lat) * scale

    side = CELL_DEGREES * scale
    parts = [
        f'<svg role="img" width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{margin_left}" y="10" width="{width}" height="{height:.1f}" fill="#f7fafc" stroke="#cbd5e0"/>',
    ]
    for cell in sorted(cells, key=lambda c: c.requests):
        parts.append(
            f'<rect x="{x_of(cell.lon - half):.1f}" y="{y_of(cell.lat + half):.1f}" width="{side * squash:.1f}" '
            f'height="{side:.1f}" fill="{_heat_color(cell.requests, largest)}"><title>'
            f"{_text(f'{cell.lon:.2f}, {cell.lat:.2f}: {cell.requests:,} requests')}</title></rect>"
        )
    for lon in _ticks(west, east):
        parts.append(
            f'<text x="{x_of(lon):.1f}" y="{height + 26:.1f}" text-anchor="middle">{_text(f"{lon:g}°")}</text>'
        )
    for lat in _ticks(south, north):
        parts.append(
            f'<text x="{margin_left - 6}" y="{y_of(lat) + 4:.1f}" text-anchor="end">{_text(f"{lat:g}°")}</text>'
        )
    legend_y = height + margin_bottom + 14
    step = 28
    for index, color in enumerate(HEAT_COLORS):
        parts.append(
            f'<rect x="{margin_left + index * step}" y="{legend_y}" width="{step}" height="12" fill="{color}"/>'
        )
    parts.append(
        f'<text x="{margin_left + len(HEAT_COLORS) * step + 8}" y="{legend_y + 11}">'
        f"{_text(f'1 to {_number(largest)} requests per cell (logarithmic)')}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    head = "".join(f"<th{' class=n' if n else ''}>{_text(h)}</th>" for h, n in zip(headers, numeric, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if n else ''}>{_text(c)}</td>" for c, n in zip(row, numeric, strict=True))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    report: UsageReport,
    *,
    title: str = "georchestra-analytics demo: a week of Géo Vallée",
    subtitle: str = "",
    generated_at: datetime | None = None,
) -> str:
    totals = report.totals
    cards = [
        ("requests", _number(totals.requests)),
        ("errors (4xx/5xx)", _number(totals.errors)),
        ("signed-in requests", _number(totals.signed_in_requests)),
        ("users", _number(totals.users)),
        ("organisations", _number(totals.organisations)),
        ("layers used", _number(totals.layers)),
        ("bytes served (where logged)", human_bytes(totals.bytes)),
        ("robot share", f"{report.audience.robot_share:.1%}"),
    ]
    daily = [(row.day.strftime("%a %d"), float(row.requests), float(row.errors)) for row in report.daily]
    layers = [(row.layer, float(row.requests)) for row in report.top_layers]
    orgs = [(_label(row.org, "(anonymous visitors)"), float(row.requests)) for row in report.organisations]
    services = [(_label(row.service, "(not an OGC service)"), float(row.requests)) for row in report.services]
    p95 = [
        (_label(row.service, "(not an OGC service)"), float(row.p95_ms))
        for row in report.services
        if row.p95_ms is not None
    ]
    downloads = [(_label(row.download_format, "(unknown)"), float(row.requests)) for row in report.downloads]
    apps = [(_label(row.app, "(unknown)"), float(row.requests)) for row in report.applications]
    sections = [
        "<h2>Requests per day</h2>",
        columns(daily),
        '<p class="muted">Red: requests answered with an error status (4xx or 5xx).</p>',
        "<h2>Top layers</h2>",
        '<p class="muted">A request naming three layers counts once for each of them.</p>',
        horizontal_bars(layers),
        _table(
            ["layer", "workspace", "requests", "downloads"],
            [[r.layer, r.workspace or "", _number(r.requests), _number(r.downloads)] for r in report.top_layers],
            [False, False, True, True],
        ),
        "<h2>Organisations</h2>",
        horizontal_bars(orgs),
        _table(
            ["organisation", "requests", "errors", "users"],
            [
                [_label(r.org, "(anonymous visitors)"), _number(r.requests), _number(r.errors), _number(r.users)]
                for r in report.organisations
            ],
            [False, True, True, True],
        ),
        "<h2>Services</h2>",
        horizontal_bars(services),
        "<h2>Response time, 95th percentile per service</h2>",
        '<p class="muted">From the requests whose response time is logged (the security-proxy logs it, the '
        "Gateway does not); computed from summed histograms, exact to within one histogram bucket.</p>",
        horizontal_bars(p95, unit=" ms", color="#805ad5"),
        _table(
            ["service", "requests", "errors", "timed", "median (ms)", "p95 (ms)"],
            [
                [
                    _label(r.service, "(not an OGC service)"),
                    _number(r.requests),
                    _number(r.errors),
                    _number(r.timed),
                    _number(r.p50_ms),
                    _number(r.p95_ms),
                ]
                for r in report.services
            ],
            [False, True, True, True, True, True],
        ),
        "<h2>Downloads by format</h2>",
        horizontal_bars(downloads, color="#2f855a"),
        _table(
            ["format", "downloads", "volume (where logged)"],
            [
                [_label(r.download_format, "(unknown)"), _number(r.requests), human_bytes(r.bytes)]
                for r in report.downloads
            ],
            [False, True, True],
        ),
        "<h2>Applications</h2>",
        horizontal_bars(apps),
        "<h2>Where users look</h2>",
        '<p class="muted">Requested extents of maps, tiles and feature queries, all layers together: one square '
        "per 0.1-degree cell holding the centre of the view, darker for more requests. Views more than 2 degrees "
        "across are left out. No base map: the axes are longitude and latitude.</p>",
        heatmap(report.extents),
        "<h2>Robots</h2>",
        f'<p class="muted">{_text(_number(report.audience.robot_requests))} of '
        f"{_text(_number(report.audience.requests))} requests ({report.audience.robot_share:.1%}) came from "
        "crawlers, uptime probes and health checks; the country and client-application figures below leave them "
        "out, as the dashboards do by default.</p>",
        horizontal_bars(
            [(_label(r.name, "(unknown)"), float(r.requests)) for r in report.audience.robots], color="#718096"
        ),
        "<h2>Top countries</h2>",
        '<p class="muted">Country of the client address (ISO 3166-1), looked up before the address is truncated; '
        "only the code is kept.</p>",
        horizontal_bars([(_label(r.name, "(unknown)"), float(r.requests)) for r in report.audience.countries]),
        "<h2>Client applications</h2>",
        '<p class="muted">From the user agent and the referrer: desktop GIS, MapStore contexts, platform '
        "applications, other web sites, scripts, or the browser.</p>",
        horizontal_bars([(_label(r.name, "(unknown)"), float(r.requests)) for r in report.audience.client_apps]),
    ]
    stamp = f" Generated {generated_at:%Y-%m-%d %H:%M} UTC." if generated_at else ""
    card_html = "".join(f"<div class=card><b>{_text(value)}</b>{_text(name)}</div>" for name, value in cards)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{_text(title)}</h1>"
        f'<p class="muted">{_text(subtitle)}{_text(stamp)}</p>'
        f'<div class="cards">{card_html}</div>' + "".join(sections) + "</body></html>\n"
    )
