"""Dashboard questions answered from the aggregates and from the raw records, on each flavor available.

    python bench/bench_dashboards.py [--rows 10000000] [--flavor timescaledb --flavor postgresql] [--dsn DSN]

Fills a fresh database per flavor with a year of synthetic access records (generated inside PostgreSQL, one in
ten from a robot), builds every aggregate family (TimescaleDB: refresh of the continuous aggregates, as
production does; PostgreSQL: the rows the parse job's rollup statements would have written, built in bulk a month
at a time, see build_rollups), then times each question from the dashboards' views, from the aggregates' own
tables and from the raw records (best of three, warm cache) and prints the times and the ratio raw / views, after
checking that all three give the same answer, and the rows of each aggregate.
Then prints the bytes stored per record: raw (access_logs), per layer (access_log_layers), aggregates, and on
timescaledb the raw tables again after compressing every chunk. Without --dsn it starts a throwaway cluster from the
test tier's binaries (ANALYTICS_TIMESCALEDB_TARBALL adds TimescaleDB, as for the timescale tier).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from tests.support.postgres import server_binaries
from tests.support.sizing import RAW_TABLES, sizes

from georchestra_analytics.db.aggregates import (
    DIMENSIONS,
    FAMILIES,
    LEVEL_UNIT,
    LEVELS,
    MEASURES,
    SOURCE_FILTERS,
    SOURCE_TABLE,
    storage_name,
)
from georchestra_analytics.db.context import schema_context
from georchestra_analytics.db.embedded import EmbeddedPostgres, find_bindir
from georchestra_analytics.db.histogram import bucket_of
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.sql_templates import Quoted, render

SCHEMA = "analytics"
TIME_ZONE = "Europe/Paris"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
CHUNK = 1_000_000
SERVER_SETTINGS = {"shared_buffers": "2GB", "work_mem": "256MB", "maintenance_work_mem": "1GB",
                   "max_wal_size": "8GB", "checkpoint_timeout": "30min"}  # fmt: skip

# One synthetic record per n. Popularity is skewed (random()^k) and fields are correlated (the operation goes
# with the service, the server with the application, most answers are 200) as on a real platform; independent
# uniform fields would make nearly every record a group of its own, which no platform's traffic looks like.
GENERATE = """
INSERT INTO analytics.access_logs (ts, id, source, server, app, method, path, query, status, "user", org, roles,
    service, request, layers, workspaces, tiled, is_download, download_format, response_time_ms, response_size,
    referrer, user_agent, client_ip, tags, is_robot, robot_family)
SELECT ts, md5(n::text), 'bench', CASE WHEN app = 'geoserver' THEN 'maps.example.org' ELSE 'sdi.example.org' END,
    app, 'GET', '/' || app || '/ows', NULL, status, "user",
    CASE WHEN "user" IS NOT NULL THEN 'org' || (user_no %% 30) END,
    CASE WHEN "user" IS NOT NULL THEN ARRAY['ROLE_USER'] ELSE ARRAY[]::text[] END,
    kinds[kind][1], kinds[kind][2],
    CASE WHEN kinds[kind][1] IS NULL OR kinds[kind][2] = 'getcapabilities' OR k = 0 THEN ARRAY[]::text[]
         WHEN k = 1 THEN ARRAY[l1] WHEN k = 2 THEN ARRAY[l1, l2] ELSE ARRAY[l1, l2, l3] END,
    ARRAY[]::text[],
    kinds[kind][1] = 'WMTS', kinds[kind][1] = 'WFS',
    CASE WHEN kinds[kind][1] = 'WFS' THEN (ARRAY['application/json', 'shape-zip', 'csv'])[1 + n %% 3] END,
    least(exp(4.5 + 1.2 * sqrt(-2 * ln(r1)) * cos(2 * pi() * r2)), 600000)::int,
    (r3 * 200000)::bigint,
    CASE WHEN r4 < 0.7 THEN 'https://portal' || floor(10 * r4 * r4)::int || '.example.org/map' END,
    jsonb_build_object('family', (ARRAY['Firefox', 'Chrome', 'Safari', 'QGIS', 'Edge', 'curl', 'Other', 'OpenLayers'])
        [1 + floor(8 * r4 * r4)::int], 'os', 'Linux', 'device', 'Other', 'version', '1'),
    '192.0.2.0', ARRAY['ogc'],
    robot IS NOT NULL, robot
FROM (
    SELECT n, %(start)s::timestamptz + random() * %(span)s::interval AS ts,
        ARRAY[['WMS', 'getmap'], ['WMTS', 'gettile'], ['WMS', 'getcapabilities'], ['WFS', 'getfeature'],
              ['OGC API Features', 'items'], ['WMS', 'getfeatureinfo'], [NULL, NULL]] AS kinds,
        (ARRAY[1, 1, 1, 1, 1, 2, 2, 2, 3, 4, 5, 6, 7, 7])[1 + floor(14 * random())::int] AS kind,
        (ARRAY['geoserver', 'geoserver', 'geoserver', 'geoserver', 'geonetwork', 'mapstore'])[1 + n %% 6] AS app,
        CASE WHEN random() < 0.92 THEN 200 ELSE (ARRAY[304, 404, 400, 403, 500, 503])[1 + floor(6 * random())::int]
            END AS status,
        CASE WHEN random() < 0.4 THEN NULL ELSE 'user' || floor(500 * random() ^ 3)::int END AS "user",
        floor(500 * random() ^ 3)::int AS user_no,
        1 + floor(2.5 * random())::int AS k,
        'ws' || floor(6 * random() ^ 2)::int || ':layer' || floor(60 * random() ^ 3)::int AS l1,
        'ws' || floor(6 * random() ^ 2)::int || ':layer' || floor(60 * random() ^ 3)::int AS l2,
        'ws' || floor(6 * random() ^ 2)::int || ':layer' || floor(60 * random() ^ 3)::int AS l3,
        greatest(random(), 1e-12) AS r1, random() AS r2, random() AS r3, random() AS r4,
        CASE WHEN n %% 10 = 0 THEN (ARRAY['Googlebot', 'bingbot', 'Other'])[1 + n %% 3] END AS robot
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
) AS g
"""

LAYER_ROWS = """
INSERT INTO analytics.access_log_layers (ts, id, layer, workspace, app, server, service, request, method, status,
    org, "user", tiled, is_download, download_format, response_time_ms, response_size, is_robot, client_app)
SELECT a.ts, a.id, l.layer, CASE WHEN position(':' in l.layer) > 0 THEN split_part(l.layer, ':', 1) END,
    a.app, a.server, a.service, a.request, a.method, a.status, a.org, a."user", a.tiled, a.is_download,
    a.download_format, a.response_time_ms, a.response_size, a.is_robot, a.client_app
FROM analytics.access_logs a CROSS JOIN LATERAL (SELECT DISTINCT unnest(a.layers) AS layer) l
WHERE a.ts >= %(from)s AND a.ts < %(to)s
"""

Question = tuple[str, str, str, Callable[[list[tuple[Any, ...]], list[tuple[Any, ...]]], bool]]


def _same(aggregated: list[tuple[Any, ...]], raw: list[tuple[Any, ...]]) -> bool:
    return sorted(aggregated, key=repr) == sorted(raw, key=repr)


def _same_bucket(aggregated: list[tuple[Any, ...]], raw: list[tuple[Any, ...]]) -> bool:
    exact = {row[:-1]: row[-1] for row in raw}
    return len(exact) == len(aggregated) and all(
        abs(bucket_of(float(row[-1])) - bucket_of(float(exact[row[:-1]]))) <= 1 for row in aggregated
    )


QUESTIONS: list[Question] = [
    (
        "requests per layer per day, for one month",
        "SELECT bucket, layer, sum(requests)::bigint FROM analytics.layer_usage_daily"
        " WHERE bucket >= '2025-06-01 00:00 Europe/Paris' AND bucket < '2025-07-01 00:00 Europe/Paris' GROUP BY 1, 2",
        "SELECT date_trunc('day', ts, 'Europe/Paris'), layer, count(*) FROM analytics.access_log_layers"
        " WHERE ts >= '2025-06-01 00:00 Europe/Paris' AND ts < '2025-07-01 00:00 Europe/Paris' GROUP BY 1, 2",
        _same,
    ),
    (
        "top 10 organisations over the year",
        "SELECT org, sum(requests)::bigint FROM analytics.usage_monthly WHERE org IS NOT NULL"
        " GROUP BY org ORDER BY 2 DESC, 1 LIMIT 10",
        "SELECT org, count(*) FROM analytics.access_logs WHERE org IS NOT NULL"
        " GROUP BY org ORDER BY 2 DESC, 1 LIMIT 10",
        _same,
    ),
    (
        "p95 response time per service per month",
        "SELECT bucket, service, analytics.percentile_from_histogram(ARRAY["
        + ", ".join(f"sum(rt_b{i:02d})" for i in range(30))
        + "]::bigint[], 0.95) FROM analytics.usage_monthly GROUP BY 1, 2",
        "SELECT date_trunc('month', ts, 'Europe/Paris'), service,"
        " percentile_disc(0.95) WITHIN GROUP (ORDER BY response_time_ms) FROM analytics.access_logs"
        " WHERE response_time_ms IS NOT NULL GROUP BY 1, 2",
        _same_bucket,
    ),
]


def _from_tables(query: str) -> str:
    """The question read straight from the aggregates' storage instead of the dashboards' views: what the views'
    people/robots split costs (the ratio printed is raw / views, what dashboards get)."""
    for family in FAMILIES:
        for level in LEVELS:
            query = query.replace(f"{SCHEMA}.{family}_{level} ", f"{SCHEMA}.{storage_name(family, level)} ")
    return query


def _log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@contextmanager
def _database(server_dsn: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_dsn, dbname=name)
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _months() -> list[tuple[datetime, datetime]]:
    edges = [datetime(2025 + (month // 12), month % 12 + 1, 1, tzinfo=UTC) for month in range(0, 14)]
    return list(itertools.pairwise(edges))


def _fill(dsn: str, rows: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for first in range(1, rows + 1, CHUNK):
            last = min(first + CHUNK - 1, rows)
            conn.execute(GENERATE, {"start": START, "span": SPAN, "first": first, "last": last})  # type: ignore[arg-type]
            _log(f"  {last:,} raw records")
        for lower, upper in _months():
            conn.execute(LAYER_ROWS, {"from": lower, "to": upper})  # type: ignore[arg-type]
        _log("  layer rows written")


def _local_months() -> list[tuple[datetime, datetime]]:
    """Month edges in the aggregates' time zone, covering the records: every hourly, daily and monthly bucket lies
    within one of them, so each month's rollup rows are complete and written once."""
    zone = ZoneInfo(TIME_ZONE)
    edges = [datetime(2024 + (month // 12), month % 12 + 1, 1, tzinfo=zone) for month in range(11, 26)]
    return list(itertools.pairwise(edges))


def _rollup_from_raw(family: str, lower: datetime, upper: datetime) -> sql.Composed:
    """The hourly rows of one month, from the raw rows: the parse job's grouping and measures (rollups/upsert.sql.j2)
    as a plain INSERT ... SELECT, the table being empty for that month."""
    dimensions = DIMENSIONS[family]
    condition = SOURCE_FILTERS.get(family)
    return sql.SQL(
        "INSERT INTO {table} (bucket, {columns}) SELECT date_trunc('hour', ts, {tz}), {expressions}"
        " FROM {source} WHERE ts >= {lower} AND ts < {upper}{filter} GROUP BY {groups}"
    ).format(
        table=sql.Identifier(SCHEMA, storage_name(family, "hourly")),
        columns=sql.SQL(", ").join(
            [sql.Identifier(d.name) for d in dimensions] + [sql.Identifier(m.name) for m in MEASURES]
        ),
        tz=sql.Literal(TIME_ZONE),
        expressions=sql.SQL(", ").join(
            [sql.SQL(d.expression) for d in dimensions] + [sql.SQL(m.from_raw) for m in MEASURES]
        ),
        source=sql.Identifier(SCHEMA, SOURCE_TABLE[family]),
        lower=sql.Literal(lower),
        upper=sql.Literal(upper),
        filter=sql.SQL(f" AND ({condition})" if condition else ""),
        groups=sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(dimensions) + 2)),
    )


def _rollup_from_finer(family: str, level: str, finer: str, lower: datetime, upper: datetime) -> sql.Composed:
    """One month of a coarser level from the finer one's rows: sums of sums, min of mins, max of maxes (the
    measures' rollup expressions, as the timescaledb flavor's hierarchical aggregates), so each row equals what
    the parse job's statement over the raw rows gives."""
    dimensions = [sql.Identifier(d.name) for d in DIMENSIONS[family]]
    return sql.SQL(
        "INSERT INTO {table} (bucket, {columns}) SELECT date_trunc({unit}, bucket, {tz}), {expressions}"
        " FROM {finer} WHERE bucket >= {lower} AND bucket < {upper} GROUP BY {groups}"
    ).format(
        table=sql.Identifier(SCHEMA, storage_name(family, level)),
        columns=sql.SQL(", ").join(dimensions + [sql.Identifier(m.name) for m in MEASURES]),
        unit=sql.Literal(LEVEL_UNIT[level]),
        tz=sql.Literal(TIME_ZONE),
        expressions=sql.SQL(", ").join(dimensions + [sql.SQL(m.rollup) for m in MEASURES]),
        finer=sql.Identifier(SCHEMA, storage_name(family, finer)),
        lower=sql.Literal(lower),
        upper=sql.Literal(upper),
        groups=sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(dimensions) + 2)),
    )


def build_rollups(dsn: str) -> None:
    """The postgresql flavor's rollup tables for records loaded all at once, fast: per family, each table's
    indexes dropped, then for each month hourly from raw, daily from hourly, monthly from daily (plain INSERT ...
    SELECT ... GROUP BY into empty tables), then the indexes rebuilt (the unique key rebuilt checks no row was
    written twice) and ANALYZE. Same rows as the parse job's upserts (tests/db/test_bench_dashboards_rollups.py)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET work_mem = '1GB'")  # hash aggregation of a month in memory
        conn.execute("SET maintenance_work_mem = '1GB'")
        for family in FAMILIES:
            tables = [storage_name(family, level) for level in LEVELS]
            indexes = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = ANY(%s)",
                (SCHEMA, tables),
            ).fetchall()
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(SCHEMA, name)))
            for lower, upper in _local_months():
                conn.execute(_rollup_from_raw(family, lower, upper))
                for finer, level in itertools.pairwise(LEVELS):
                    conn.execute(_rollup_from_finer(family, level, finer, lower, upper))
            for _, definition in indexes:
                conn.execute(definition.encode())  # pg_indexes' own text of the index the migration made
            for table in tables:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(SCHEMA, table)))
            _log(f"  rollups of {family}")


def rollups_as_parse_job(dsn: str) -> None:
    """The parse job's own rollup statements (rollups/upsert.sql.j2), fed a month of raw rows at a time: what
    build_rollups must equal, far slower (an upsert per level through the unique index)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        context = schema_context(SCHEMA, TIME_ZONE, "postgresql")
        for lower, upper in _months():
            for family in FAMILIES:
                source = Quoted(
                    sql.SQL("(SELECT * FROM {} WHERE ts >= {} AND ts < {}) AS batch")
                    .format(sql.Identifier(SCHEMA, SOURCE_TABLE[family]), sql.Literal(lower), sql.Literal(upper))
                    .as_string(conn)
                )
                for level in LEVELS:
                    statement = render("rollups/upsert.sql.j2", **context, family=family, level=level, source=source)
                    conn.execute(statement.encode())


def _aggregate(dsn: str, flavor: str) -> None:
    if flavor == "timescaledb":
        with psycopg.connect(dsn, autocommit=True) as conn:
            for level in LEVELS:
                for family in FAMILIES:
                    conn.execute(
                        "CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
                        (f"analytics.{storage_name(family, level)}", START - timedelta(days=62),
                         START + SPAN + timedelta(days=62)),
                    )  # fmt: skip
                    _log(f"  refreshed {storage_name(family, level)}")
    else:
        build_rollups(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _best_of_three(conn: psycopg.Connection[Any], query: str) -> tuple[float, list[tuple[Any, ...]]]:
    best = float("inf")
    rows: list[tuple[Any, ...]] = []
    for _ in range(3):
        began = time.perf_counter()
        rows = conn.execute(query.encode()).fetchall()
        best = min(best, time.perf_counter() - began)
    return best, rows


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))).fetchone()
    return int(row[0]) if row else 0


def _sizes(conn: psycopg.Connection[Any], flavor: str) -> str:
    """Records, layer rows, and the rows of every aggregate family at each level (hourly/daily/monthly)."""
    lines = [f"{flavor}: {_count(conn, 'access_logs'):,} raw records, {_count(conn, 'access_log_layers'):,} layer rows"]
    for family in FAMILIES:
        counts = " / ".join(f"{_count(conn, storage_name(family, level)):,}" for level in LEVELS)
        lines.append(f"  {family:<20} rows by {'/'.join(LEVELS)}: {counts}")
    return "\n".join(lines)


def bench(server_dsn: str, flavor: str, rows: int) -> None:
    with _database(server_dsn) as dsn:
        settings = DatabaseSettings(
            flavor=flavor,  # type: ignore[arg-type]
            time_zone=TIME_ZONE,
            retention=Retention(raw=None, hourly=None, daily=None, monthly=None),
            compress_after=None,
        )
        migrate(dsn, settings, now=START)
        if flavor == "postgresql":
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SELECT analytics.ensure_partitions(%s, %s)", (START, START + SPAN))
        _log(f"{flavor}: generating {rows:,} records")
        _fill(dsn, rows)
        _log(f"{flavor}: building aggregates")
        _aggregate(dsn, flavor)
        with psycopg.connect(dsn, autocommit=True) as conn:
            print(_sizes(conn, flavor))
            print(f"{'question':<44} {'views':>12} {'tables':>12} {'raw':>12} {'ratio':>8}  same answer")
            for title, from_aggregates, from_raw, same in QUESTIONS:
                aggregated_time, aggregated = _best_of_three(conn, from_aggregates)
                table_time, from_table = _best_of_three(conn, _from_tables(from_aggregates))
                raw_time, raw = _best_of_three(conn, from_raw)
                answers = same(aggregated, raw) and same(from_table, raw)
                print(
                    f"{title:<44} {aggregated_time * 1000:>10.1f}ms {table_time * 1000:>10.1f}ms "
                    f"{raw_time * 1000:>10.1f}ms {raw_time / aggregated_time:>7.1f}x  {'yes' if answers else 'NO'}",
                    flush=True,
                )
        _print_bytes(dsn, flavor)


def _print_bytes(dsn: str, flavor: str) -> None:
    """Bytes per stored record, for sizing: raw, per-layer, aggregates; compressed raw on timescaledb."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM analytics.access_logs").fetchone()
    records = int(row[0]) if row else 0
    measured = sizes(dsn, flavor)
    per = {key: value / max(records, 1) for key, value in measured.items()}
    print(
        f"bytes per record ({flavor}): raw {per['access_logs']:.0f}, per-layer {per['access_log_layers']:.0f}, "
        f"aggregates {per['aggregates']:.1f}; total {sum(measured.values()) / 2**20:,.0f} MiB",
        flush=True,
    )
    if flavor == "timescaledb":
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in RAW_TABLES:
                conn.execute(
                    "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks(%s::regclass) c",
                    (f"{SCHEMA}.{table}",),
                )
            conn.execute("VACUUM ANALYZE")
        compressed = sizes(dsn, flavor)
        print(
            f"bytes per record (timescaledb, every chunk compressed): raw "
            f"{compressed['access_logs'] / max(records, 1):.0f}, per-layer "
            f"{compressed['access_log_layers'] / max(records, 1):.0f}",
            flush=True,
        )


def _available(server_dsn: str) -> list[str]:
    with psycopg.connect(server_dsn) as conn:
        row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return ["timescaledb", "postgresql"] if row else ["postgresql"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw records over the year")
    parser.add_argument("--flavor", action="append", choices=["timescaledb", "postgresql"], help="default: all")
    parser.add_argument("--dsn", help="an existing server (needs CREATE DATABASE); default: a throwaway cluster")
    args = parser.parse_args()
    embedded = None
    server_dsn = args.dsn
    if server_dsn is None:
        bindir, problem = server_binaries()
        if problem:
            print(problem, file=sys.stderr)
        embedded = EmbeddedPostgres(bindir=bindir or find_bindir(), settings=SERVER_SETTINGS).start()
        server_dsn = embedded.dsn
    try:
        flavors = args.flavor or _available(server_dsn)
        for flavor in flavors:
            bench(server_dsn, flavor, args.rows)
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
