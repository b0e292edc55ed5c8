"""The demo's usage report, read through the stable views dashboards use (docs/database.md), never the raw tables.

Daily views: the sample is a week, and daily rows are what a dashboard of a quarter reads. Percentiles come from
the summed response-time histograms (exact to within one histogram bucket), the same way Superset computes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import HISTOGRAM_COLUMNS

TOP = 10  # rows of the "top" tables


@dataclass(frozen=True)
class Totals:
    requests: int
    errors: int
    bytes: int
    signed_in_requests: int
    users: int
    organisations: int
    layers: int


@dataclass(frozen=True)
class LayerUsage:
    layer: str
    workspace: str | None
    requests: int
    downloads: int


@dataclass(frozen=True)
class OrganisationUsage:
    org: str | None  # None: anonymous visitors
    requests: int
    errors: int
    users: int


@dataclass(frozen=True)
class ServiceUsage:
    service: str | None  # None: not an OGC service (catalogue pages, map viewer, ...)
    requests: int
    errors: int
    timed: int  # requests whose response time is known (the Gateway does not log it)
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class DownloadUsage:
    download_format: str | None
    requests: int
    bytes: int


@dataclass(frozen=True)
class ApplicationUsage:
    app: str | None
    requests: int
    errors: int


@dataclass(frozen=True)
class DailyUsage:
    day: date
    requests: int
    errors: int


@dataclass(frozen=True)
class ExtentCell:
    """A cell of the requested-extent grid (docs/classification.md#extents), by its centre, all layers together."""

    lon: float
    lat: float
    requests: int


@dataclass(frozen=True)
class Named:
    """Requests of one value of a dimension: a robot family, a country, a client application."""

    name: str | None
    requests: int


@dataclass(frozen=True)
class Audience:
    """Who sent the requests (docs/classification.md): robots apart, and for people their countries and client
    applications, from the audience views, as the dashboards' Audience tab reads them."""

    requests: int
    robot_requests: int
    robots: list[Named] = field(default_factory=list)  # per robot family
    countries: list[Named] = field(default_factory=list)  # people only; None: unknown
    client_apps: list[Named] = field(default_factory=list)  # people only

    @property
    def robot_share(self) -> float:
        return self.robot_requests / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class UsageReport:
    totals: Totals
    top_layers: list[LayerUsage] = field(default_factory=list)
    organisations: list[OrganisationUsage] = field(default_factory=list)
    services: list[ServiceUsage] = field(default_factory=list)
    downloads: list[DownloadUsage] = field(default_factory=list)
    applications: list[ApplicationUsage] = field(default_factory=list)
    daily: list[DailyUsage] = field(default_factory=list)
    extents: list[ExtentCell] = field(default_factory=list)
    audience: Audience = field(default_factory=lambda: Audience(0, 0))

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["daily"] = [{**row, "day": row["day"].isoformat()} for row in document["daily"]]
        return document


def _view(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _summed_histogram() -> sql.Composed:
    """ARRAY[sum(rt_b00), ...]: summing bucket columns and taking the percentile of the sum (no median of
    medians)."""
    return sql.SQL("ARRAY[{}]::bigint[]").format(
        sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(column)) for column in HISTOGRAM_COLUMNS)
    )


def _rows(conn: psycopg.Connection[Any], query: sql.Composed, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = conn.execute(query, params or None).fetchall()
    return rows


def _totals(conn: psycopg.Connection[Any], schema: str) -> Totals:
    usage = conn.execute(
        sql.SQL(
            "SELECT coalesce(sum(requests), 0), coalesce(sum(errors), 0), coalesce(sum(bytes), 0),"
            " count(DISTINCT org) FROM {}"
        ).format(_view(schema, "usage_daily"))
    ).fetchone()
    users = conn.execute(
        sql.SQL(
            'SELECT coalesce(sum(requests) FILTER (WHERE "user" IS NOT NULL), 0), count(DISTINCT "user") FROM {}'
        ).format(_view(schema, "user_usage_daily"))
    ).fetchone()
    layers = conn.execute(sql.SQL("SELECT count(DISTINCT layer) FROM {}").format(_view(schema, "layer_usage_daily")))
    layer_row = layers.fetchone()
    assert usage is not None and users is not None and layer_row is not None  # aggregates always return a row
    return Totals(
        requests=int(usage[0]),
        errors=int(usage[1]),
        bytes=int(usage[2]),
        organisations=int(usage[3]),
        signed_in_requests=int(users[0]),
        users=int(users[1]),
        layers=int(layer_row[0]),
    )


def _top_layers(conn: psycopg.Connection[Any], schema: str, limit: int) -> list[LayerUsage]:
    query = sql.SQL(
        "SELECT layer, workspace, sum(requests)::bigint, coalesce(sum(requests) FILTER (WHERE is_download), 0)::bigint"
        " FROM {} WHERE layer IS NOT NULL GROUP BY layer, workspace"
        " ORDER BY 3 DESC, layer, workspace NULLS FIRST LIMIT %s"
    ).format(_view(schema, "layer_usage_daily"))
    return [LayerUsage(row[0], row[1], int(row[2]), int(row[3])) for row in _rows(conn, query, (limit,))]


def _organisations(conn: psycopg.Connection[Any], schema: str, limit: int) -> list[OrganisationUsage]:
    query = sql.SQL(
        'SELECT org, sum(requests)::bigint, sum(errors)::bigint, count(DISTINCT "user") FROM {}'
        " GROUP BY org ORDER BY 2 DESC, org NULLS FIRST LIMIT %s"
    ).format(_view(schema, "user_usage_daily"))
    return [OrganisationUsage(row[0], int(row[1]), int(row[2]), int(row[3])) for row in _rows(conn, query, (limit,))]


def _services(conn: psycopg.Connection[Any], schema: str) -> list[ServiceUsage]:
    histogram = _summed_histogram()
    query = sql.SQL(
        "SELECT service, sum(requests)::bigint, sum(errors)::bigint, sum(response_time_count)::bigint,"
        " {fn}({h}, 0.5), {fn}({h}, 0.95) FROM {view} GROUP BY service ORDER BY 2 DESC, service NULLS LAST"
    ).format(fn=_view(schema, "percentile_from_histogram"), h=histogram, view=_view(schema, "usage_daily"))
    return [ServiceUsage(row[0], int(row[1]), int(row[2]), int(row[3]), row[4], row[5]) for row in _rows(conn, query)]


def _downloads(conn: psycopg.Connection[Any], schema: str) -> list[DownloadUsage]:
    query = sql.SQL(
        "SELECT download_format, sum(requests)::bigint, sum(bytes)::bigint FROM {} WHERE is_download"
        " GROUP BY download_format ORDER BY 2 DESC, download_format NULLS LAST"
    ).format(_view(schema, "usage_daily"))
    return [DownloadUsage(row[0], int(row[1]), int(row[2])) for row in _rows(conn, query)]


def _applications(conn: psycopg.Connection[Any], schema: str) -> list[ApplicationUsage]:
    query = sql.SQL(
        "SELECT app, sum(requests)::bigint, sum(errors)::bigint FROM {} GROUP BY app ORDER BY 2 DESC, app NULLS LAST"
    ).format(_view(schema, "usage_daily"))
    return [ApplicationUsage(row[0], int(row[1]), int(row[2])) for row in _rows(conn, query)]


def _daily(conn: psycopg.Connection[Any], schema: str) -> list[DailyUsage]:
    # Buckets are timestamps at the start of the day in the stack's time zone; the session's zone (the
    # migration sets the database's to the stack's) turns them back into that calendar day.
    query = sql.SQL(
        "SELECT (bucket AT TIME ZONE current_setting('TimeZone'))::date, sum(requests)::bigint, sum(errors)::bigint"
        " FROM {} GROUP BY 1 ORDER BY 1"
    ).format(_view(schema, "usage_daily"))
    return [DailyUsage(row[0], int(row[1]), int(row[2])) for row in _rows(conn, query)]


EXTENT_CELLS = 5000  # the busiest cells drawn: a territory's worth at 0.1 degree


def _extents(conn: psycopg.Connection[Any], schema: str, limit: int = EXTENT_CELLS) -> list[ExtentCell]:
    query = sql.SQL(
        "SELECT cell_lon, cell_lat, sum(requests)::bigint FROM {} GROUP BY cell_x, cell_y, cell_lon, cell_lat"
        " ORDER BY 3 DESC, cell_x, cell_y LIMIT %s"
    ).format(_view(schema, "layer_extents_daily"))
    return [ExtentCell(float(row[0]), float(row[1]), int(row[2])) for row in _rows(conn, query, (limit,))]


def _named(conn: psycopg.Connection[Any], schema: str, column: str, traffic: str, limit: int) -> list[Named]:
    query = sql.SQL(
        "SELECT {c}, sum(requests)::bigint FROM {v} WHERE traffic = %s"
        " GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST LIMIT %s"
    ).format(c=sql.Identifier(column), v=_view(schema, "audience_daily"))
    return [Named(row[0], int(row[1])) for row in _rows(conn, query, (traffic, limit))]


def _audience(conn: psycopg.Connection[Any], schema: str, limit: int) -> Audience:
    row = conn.execute(
        sql.SQL(
            "SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(requests) FILTER (WHERE is_robot), 0)::bigint"
            " FROM {}"
        ).format(_view(schema, "audience_daily"))
    ).fetchone()
    assert row is not None  # an aggregate always returns a row
    return Audience(
        requests=int(row[0]),
        robot_requests=int(row[1]),
        robots=_named(conn, schema, "robot_family", "robots", limit),
        countries=_named(conn, schema, "country", "people", limit),
        client_apps=_named(conn, schema, "client_app", "people", limit),
    )


def build_report(conn: psycopg.Connection[Any], schema: str = "analytics", top: int = TOP) -> UsageReport:
    """Everything the demo prints, from the dashboards' views of `schema`."""
    return UsageReport(
        totals=_totals(conn, schema),
        top_layers=_top_layers(conn, schema, top),
        organisations=_organisations(conn, schema, top),
        services=_services(conn, schema),
        downloads=_downloads(conn, schema),
        applications=_applications(conn, schema),
        daily=_daily(conn, schema),
        extents=_extents(conn, schema),
        audience=_audience(conn, schema, top),
    )
