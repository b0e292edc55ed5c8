"""Helpers for the database tiers: migrated schemas, random access records, catalog snapshots."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import (
    DIMENSIONS,
    LEVEL_UNIT,
    MEASURES,
    SOURCE_FILTERS,
    SOURCE_TABLE,
    storage_name,
)

APPS = ["geoserver", "geonetwork", "mapstore", "datafeeder", None]
SERVICES = ["WMS", "WFS", "WMTS", "OGC API Features", None]
REQUESTS = {"WMS": ["getmap", "getcapabilities", "getfeatureinfo"], "WFS": ["getfeature", "describefeaturetype"],
            "WMTS": ["gettile"], "OGC API Features": ["items", "collections"], None: [None]}  # fmt: skip
LAYERS = ["topp:states", "ne:countries", "ne:rivers", "roads", "opendata:parcels"]
ORGS = ["c2c", "psc", "IGN", None]
USERS = ["alice", "bob", "carol", None, None]
STATUSES = [200, 200, 200, 204, 301, 304, 400, 403, 404, 500, 503]
FORMATS = ["application/json", "shape-zip", "text/csv", None]
REFERRERS = ["https://www.example.org/map?x=1", "http://Portal.Example.com:8080/", "https://user@host.test/p",
             "-", None]  # fmt: skip
UA_FAMILIES = ["Firefox", "Chrome", "QGIS", None]


def random_record(rng: random.Random, start: datetime, span: timedelta) -> dict[str, Any]:
    """One record shaped like the parse job's output (docs/architecture.md, Contracts; plus `query`)."""
    service = rng.choice(SERVICES)
    layers = sorted(set(rng.sample(LAYERS, rng.choice([0, 1, 1, 2, 3])))) if service else []
    response_time = None if rng.random() < 0.05 else int(rng.lognormvariate(4.5, 1.6))
    family = rng.choice(UA_FAMILIES)
    record: dict[str, Any] = {
        "ts": (start + timedelta(seconds=rng.uniform(0, span.total_seconds()))).isoformat(),
        "id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "source": "gateway",
        "server": rng.choice(["georchestra.example.org", "sdi.example.com"]),
        "app": rng.choice(APPS),
        "method": rng.choice(["GET", "GET", "POST"]),
        "path": "/geoserver/ows",
        "query": "SERVICE=WMS" if service else None,
        "status": rng.choice(STATUSES),
        "user": rng.choice(USERS),
        "org": rng.choice(ORGS),
        "roles": ["ROLE_USER"] if rng.random() < 0.5 else [],
        "service": service,
        "request": rng.choice(REQUESTS[service]),
        "layers": layers,
        "workspaces": sorted({layer.split(":")[0] for layer in layers if ":" in layer}),
        "tiled": rng.random() < 0.3 if service else None,
        "is_download": rng.random() < 0.1,
        "download_format": rng.choice(FORMATS),
        "response_time_ms": response_time,
        "response_size": None if rng.random() < 0.05 else rng.randint(0, 5_000_000),
        "referrer": rng.choice(REFERRERS),
        "user_agent": None if family is None else {"family": family, "version": "1", "os": "Linux", "device": "Other"},
        "client_ip": "192.0.2.0",
        "tags": ["ogc"] if service else [],
    }
    record.update(random_extent(rng) if service and record["request"] in EXTENT_REQUESTS else NO_EXTENT)
    record.update(random_audience(rng))
    return record


ROBOT_FAMILIES = ["Googlebot", "bingbot", "kube-probe"]
COUNTRIES = ["FR", "FR", "BE", "CH", "DE", None]
CLIENT_APPS = ["QGIS", "MapStore: urbanisme", "web: www.example.org", "python-requests", "Firefox"]


def random_audience(rng: random.Random) -> dict[str, Any]:
    """Robot, country, region and client application (migration 0010), as the parse job sets them."""
    family = rng.choice(ROBOT_FAMILIES) if rng.random() < 0.2 else None
    country = rng.choice(COUNTRIES)
    return {
        "is_robot": family is not None,
        "robot_family": family,
        "country": country,
        "region": rng.choice(["BRE", "IDF", None]) if country == "FR" else None,
        "client_app": "robot" if family else rng.choice(CLIENT_APPS),
    }


EXTENT_REQUESTS = frozenset({"getmap", "getfeatureinfo", "gettile", "items"})
NO_EXTENT = dict.fromkeys(("extent_west", "extent_south", "extent_east", "extent_north"))


def random_extent(rng: random.Random) -> dict[str, float]:
    """A requested extent over metropolitan France, from a street (a thousandth of a degree) to a few degrees
    (some larger than the extent grid's maximum, which its aggregate leaves out)."""
    lon, lat = rng.uniform(-4.5, 8.0), rng.uniform(42.5, 51.0)
    half = 10 ** rng.uniform(-3, 0.3) / 2
    return {
        "extent_west": lon - half,
        "extent_south": lat - half,
        "extent_east": lon + half,
        "extent_north": lat + half,
    }


def random_records(seed: int, count: int, start: datetime, span: timedelta) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [random_record(rng, start, span) for _ in range(count)]


def aggregate_rows(
    conn: psycopg.Connection[Any], schema: str, family: str, level: str
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """What an aggregate holds: (bucket, dims...) -> measures."""
    dims = [dim.name for dim in DIMENSIONS[family]]
    query = sql.SQL("SELECT bucket, {dims}, {measures} FROM {table}").format(
        dims=sql.SQL(", ").join(map(sql.Identifier, dims)),
        measures=sql.SQL(", ").join(sql.Identifier(m.name) for m in MEASURES),
        table=sql.Identifier(schema, storage_name(family, level)),
    )
    width = 1 + len(dims)
    return {tuple(row[:width]): tuple(row[width:]) for row in conn.execute(query)}


def direct_rows(
    conn: psycopg.Connection[Any], schema: str, family: str, level: str, time_zone: str
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The same measures by a direct GROUP BY over the raw records."""
    dims = DIMENSIONS[family]
    condition = SOURCE_FILTERS.get(family)
    where = sql.SQL(" WHERE " + condition) if condition else sql.SQL("")  # trusted SQL (db/aggregates.py)
    query = sql.SQL(
        "SELECT date_trunc({unit}, ts, {tz}), {dims}, {measures} FROM {table}{where} GROUP BY {group}"
    ).format(
        where=where,
        unit=sql.Literal(LEVEL_UNIT[level]),
        tz=sql.Literal(time_zone),
        dims=sql.SQL(", ").join(sql.SQL(dim.expression) for dim in dims),  # type: ignore[arg-type]
        measures=sql.SQL(", ").join(sql.SQL(m.from_raw) for m in MEASURES),  # type: ignore[arg-type]
        table=sql.Identifier(schema, SOURCE_TABLE[family]),
        group=sql.SQL(", ").join(sql.Literal(position) for position in range(1, len(dims) + 2)),
    )
    width = 1 + len(dims)
    return {tuple(row[:width]): tuple(row[width:]) for row in conn.execute(query)}


def catalog_snapshot(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    """Everything a migration could change in a schema: relations, definitions, grants, functions, migrations."""
    snapshot: dict[str, Any] = {}
    snapshot["relations"] = conn.execute(
        "SELECT c.relname, c.relkind, c.relacl::text, c.oid"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s ORDER BY 1",
        (schema,),
    ).fetchall()
    snapshot["views"] = conn.execute(
        "SELECT viewname, definition FROM pg_views WHERE schemaname = %s ORDER BY 1", (schema,)
    ).fetchall()
    snapshot["functions"] = conn.execute(
        "SELECT p.proname, p.oid, md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %s ORDER BY 1",
        (schema,),
    ).fetchall()
    snapshot["migrations"] = conn.execute(
        sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, "schema_migrations"))
    ).fetchall()
    snapshot["settings"] = conn.execute(
        sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, "settings"))
    ).fetchall()
    has_timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if has_timescale:
        snapshot["jobs"] = conn.execute(
            "SELECT job_id, proc_name, hypertable_name, config::text, schedule_interval"
            " FROM timescaledb_information.jobs WHERE hypertable_schema = %s OR proc_schema = %s ORDER BY 1",
            (schema, schema),
        ).fetchall()
    return snapshot


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def assert_percentiles_within_one_bucket(conn: psycopg.Connection[Any], month_of_ts: str) -> None:
    """Exact percentiles per service and month over raw rows (months cut by the SQL expression `month_of_ts`)
    against the same from the monthly view's summed histograms: the estimate lies within one bucket."""
    from georchestra_analytics.db.histogram import bucket_of

    rows = conn.execute(
        f"""
        WITH exact AS (
            SELECT {month_of_ts} AS month, service, p,
                   percentile_disc(p) WITHIN GROUP (ORDER BY response_time_ms) AS value
            FROM analytics.access_logs, unnest(ARRAY[0.5, 0.9, 0.95, 0.99]) AS p
            WHERE response_time_ms IS NOT NULL
            GROUP BY 1, 2, 3
        ), estimated AS (
            SELECT bucket AS month, service, p,
                   analytics.percentile_from_histogram(analytics.histogram_sum(response_time_histogram), p) AS value
            FROM analytics.usage_monthly, unnest(ARRAY[0.5, 0.9, 0.95, 0.99]) AS p
            GROUP BY 1, 2, 3
        )
        SELECT e.month, e.service, e.p, e.value, s.value
        FROM exact e JOIN estimated s
          ON s.month = e.month AND s.service IS NOT DISTINCT FROM e.service AND s.p = e.p
        """
    ).fetchall()
    assert len(rows) >= 4 * 5
    for month, service, p, exact, estimate in rows:
        assert abs(bucket_of(estimate) - bucket_of(exact)) <= 1, (month, service, p, exact, estimate)
