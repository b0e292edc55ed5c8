"""People and robots apart in the views of the four oldest families (usage, layer_usage, user_usage,
client_usage), on both flavors: robots are their robot mirror's rows, people the family's rows minus those
(db/aggregates.py, views/dashboards.sql.j2). Checked against the raw records for every family and level: the
people rows equal a GROUP BY over the records of people (is_robot false or NULL: never checked), the robots rows
one over the records of robots, and the two add up to the family's own figures. Also on a database migration
0011 left holding robot records (compressed on timescaledb): `db migrate` fills the mirrors over the whole kept
history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.support.accesslogs import combined_line, proxy_line
from tests.support.older_families import compress_every_chunk, families_before, migrate_as_before

from georchestra_analytics.db import aggregates, writer
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.ingest import buffer_rows
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

NEW = "0012_robot_mirrors"
TIME_ZONE = "Europe/Paris"  # buckets of the configured zone, not UTC's
NOW = datetime.now(UTC).replace(microsecond=0, second=0, minute=0)
# Several hours, days and months.
MOMENTS = [NOW - timedelta(days=days, hours=hours) for days in (0, 1, 40) for hours in (2, 5)]
WMS = "http://geoserver:8080/geoserver/wms?service=WMS&request=GetMap&layers=topp:states,topp:roads&bbox=0,0,1,1"
WFS = "http://geoserver:8080/geoserver/wfs?service=WFS&request=GetFeature&typeNames=topp:states"
CAPABILITIES = "/geoserver/ows?service=WMS&request=GetCapabilities"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PROBE = "kube-probe/1.29"
SITE = "https://sdi.example.org/mapstore/"
FAMILIES = aggregates.FAMILIES_OF_0003
# The views' additive measures, by their view column names (the storage's response_time_sum is *_ms there).
ADDITIVE = {
    m.name: ("response_time_sum_ms" if m.name == "response_time_sum" else m.name)
    for m in aggregates.MEASURES
    if m.additive
}


def _lines(moment: datetime, salt: int) -> list[str]:
    """People and robots in the same groups (the subtraction matters) and robots alone (their people rows go)."""
    at = [moment + timedelta(seconds=s) for s in range(12)]
    return [
        proxy_line(WMS, user="alice", org="psc", ts=at[0], millis=40 + salt),
        proxy_line(WMS, user="alice", org="psc", ts=at[1], millis=900),
        proxy_line(WMS, ts=at[2], millis=15, size=100 + salt),
        proxy_line(WMS, agent=GOOGLEBOT, ts=at[3], millis=3000),  # beside anonymous people: same groups
        proxy_line(WMS, agent=GOOGLEBOT, ts=at[4], millis=7),
        proxy_line(WFS, user="bob", org="cartes", ts=at[5], millis=120, status=500),
        proxy_line(WFS, agent=GOOGLEBOT, ts=at[6], millis=60),
        combined_line(CAPABILITIES, agent=PROBE, ts=at[7]),  # robots only
        combined_line(CAPABILITIES, agent=PROBE, ts=at[8], status=503),
        combined_line(CAPABILITIES, referrer=SITE, ts=at[9]),
        combined_line(CAPABILITIES, referrer=SITE, agent=GOOGLEBOT, ts=at[10]),
    ]


def _parse(dsn: str) -> None:
    lines = [line for position, moment in enumerate(MOMENTS) for line in _lines(moment, position)]
    with psycopg.connect(dsn) as conn:
        insert_buffer_rows(conn, "analytics", buffer_rows(lines, "access.log", "text"))
    summary = run_worker(dsn, ParserSettings())
    assert (summary.written, sum(summary.rejected.values())) == (len(lines), 0), summary


def _migrated(dsn: str, flavor: str) -> None:
    """timescaledb: the refresh policies `db migrate` scheduled are paused, so none refreshes under the test."""
    if flavor == "timescaledb":
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
                " WHERE hypertable_schema = 'analytics'"
            )


def _refresh(dsn: str, flavor: str, start: datetime = NOW - timedelta(days=80)) -> None:
    """What the parse job and the policies do; waits out a policy job that started before it was paused (TimescaleDB
    refuses a concurrent refresh instead of waiting)."""
    if flavor != "timescaledb":
        return
    for pause in (0.5, 1, 2, 4, 8, 15):
        try:
            refresh_aggregates(dsn, start, NOW + timedelta(days=1))
            return
        except psycopg.errors.LockNotAvailable:
            time.sleep(pause)
    refresh_aggregates(dsn, start, NOW + timedelta(days=1))


def _key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(repr(value) for value in row)


def _fetch(conn: psycopg.Connection[Any], query: sql.Composable) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in conn.execute(query).fetchall()), key=_key)


def _dimensions(family: str) -> list[aggregates.Dimension]:
    return [dim for dim in aggregates.DIMENSIONS[family] if dim.name != "names_layers"]


def _view(conn: psycopg.Connection[Any], family: str, level: str, traffic: str) -> list[tuple[Any, ...]]:
    columns = [sql.Identifier("bucket")] + [sql.Identifier(d.name) for d in _dimensions(family)]
    columns += [sql.Identifier(column) for column in ADDITIVE.values()]
    query = sql.SQL("SELECT {} FROM {} WHERE traffic = {}").format(
        sql.SQL(", ").join(columns), sql.Identifier("analytics", f"{family}_{level}"), sql.Literal(traffic)
    )
    return _fetch(conn, query)


def _raw(conn: psycopg.Connection[Any], family: str, level: str, condition: str) -> list[tuple[Any, ...]]:
    """The figures of `family` at `level` computed from the raw records that meet `condition` (trusted SQL: the
    aggregates' own expressions, written in db/aggregates.py)."""
    dims = _dimensions(family)
    measures = [m for m in aggregates.MEASURES if m.additive]
    template = (
        "SELECT date_trunc({unit}, ts, {tz}), {dims}, {measures} FROM {table} WHERE {condition} GROUP BY 1, {groups}"
    )
    query = sql.SQL(template).format(
        unit=sql.Literal(aggregates.LEVEL_UNIT[level]),
        tz=sql.Literal(TIME_ZONE),
        dims=sql.SQL(", ").join(sql.SQL(d.expression) for d in dims),
        measures=sql.SQL(", ").join(sql.SQL(m.from_raw) for m in measures),
        table=sql.Identifier("analytics", aggregates.SOURCE_TABLE[family]),
        condition=sql.SQL(condition),
        groups=sql.SQL(", ").join(sql.SQL(str(position + 2)) for position in range(len(dims))),
    )
    return _fetch(conn, query)


def _totals(rows: list[tuple[Any, ...]], width: int) -> dict[tuple[str, ...], list[int]]:
    """Sums of the measures (after the first `width` columns) by those columns."""
    sums: dict[tuple[str, ...], list[int]] = {}
    for row in rows:
        current = sums.setdefault(_key(row[:width]), [0] * (len(row) - width))
        for position, value in enumerate(row[width:]):
            current[position] += value
    return sums


def _check_split(conn: psycopg.Connection[Any]) -> None:
    robots_seen = 0
    for family in FAMILIES:
        width = 1 + len(_dimensions(family))
        for level in aggregates.LEVELS:
            people = _view(conn, family, level, "people")
            robots = _view(conn, family, level, "robots")
            assert people == _raw(conn, family, level, "is_robot IS NOT TRUE"), (family, level)
            assert robots == _raw(conn, family, level, "is_robot"), (family, level)
            assert all(row[width] > 0 for row in people + robots), (family, level)  # no empty group shown
            # People and robots add up to the family's own figures, which the split leaves as they were.
            everyone = _raw(conn, family, level, "true")
            assert _totals(people + robots, width) == _totals(everyone, width), (family, level)
            robots_seen += sum(row[width] for row in robots)
            traffic = conn.execute(
                sql.SQL("SELECT DISTINCT traffic FROM {} ORDER BY 1").format(
                    sql.Identifier("analytics", f"{family}_{level}")
                )
            ).fetchall()
            assert traffic == [("people",), ("robots",)], (family, level)
    assert robots_seen > 0


def _check_min_max(conn: psycopg.Connection[Any]) -> None:
    """Robots' minimum and maximum are their own; people's are their group's over all traffic (a minimum cannot
    be subtracted), as docs/database.md says."""
    robots = conn.execute(
        "SELECT min(response_time_min_ms), max(response_time_max_ms) FROM analytics.usage_monthly"
        " WHERE traffic = 'robots' AND service = 'WMS'"
    ).fetchone()
    assert robots == (7, 3000)
    stored = conn.execute(
        "SELECT min(response_time_min), max(response_time_max) FROM analytics.agg_usage_monthly WHERE service = 'WMS'"
    ).fetchone()
    people = conn.execute(
        "SELECT min(response_time_min_ms), max(response_time_max_ms) FROM analytics.usage_monthly"
        " WHERE traffic = 'people' AND service = 'WMS'"
    ).fetchone()
    assert people == stored == (7, 3000)


@pytest.mark.parametrize("flavor", ["postgresql", pytest.param("timescaledb", marks=pytest.mark.timescale)])
def test_the_four_oldest_families_count_people_and_robots_apart(flavor: str, request: pytest.FixtureRequest) -> None:
    dsn: str = request.getfixturevalue("pg_dsn" if flavor == "postgresql" else "timescale_dsn")
    migrate(dsn, DatabaseSettings(flavor=flavor, time_zone=TIME_ZONE))  # type: ignore[arg-type]
    _migrated(dsn, flavor)
    _parse(dsn)
    _refresh(dsn, flavor)
    with psycopg.connect(dsn) as conn:
        _check_split(conn)
        _check_min_max(conn)


@contextmanager
def _code_before(monkeypatch: pytest.MonkeyPatch, version: str) -> Iterator[None]:
    """The parse job of the version before `version` (its rollup statements are cached per schema)."""
    writer._rollup_statements.cache_clear()
    try:
        with monkeypatch.context() as older:
            families_before(older, version)
            yield
    finally:
        writer._rollup_statements.cache_clear()


@pytest.mark.parametrize("flavor", ["postgresql", pytest.param("timescaledb", marks=pytest.mark.timescale)])
def test_0012_on_stored_robot_records_splits_the_whole_kept_history(
    flavor: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn: str = request.getfixturevalue("pg_dsn" if flavor == "postgresql" else "timescale_dsn")
    settings = DatabaseSettings(flavor=flavor, time_zone=TIME_ZONE)  # type: ignore[arg-type]
    migrate_as_before(dsn, settings, NEW, monkeypatch)
    _migrated(dsn, flavor)
    with _code_before(monkeypatch, NEW):
        _parse(dsn)
        _refresh(dsn, flavor)
    with psycopg.connect(dsn) as conn:
        if flavor == "timescaledb":
            assert compress_every_chunk(conn) >= 2
        assert conn.execute("SELECT count(*) FROM analytics.access_logs WHERE is_robot").fetchone() == (36,)
    report = migrate(dsn, settings)
    _migrated(dsn, flavor)
    assert report.applied[0] == NEW  # later migrations may follow
    mirrors = {aggregates.storage_name(f, level) for f in aggregates.ROBOT_FAMILIES for level in aggregates.LEVELS}
    assert set(report.backfilled) == (mirrors if flavor == "timescaledb" else set())
    assert "re-applied views" in report.lines()
    # What a refresh policy or the parse job does next: the watermark passes the old records, so the mirrors'
    # figures come from what the backfill materialised, not from real-time aggregation.
    _refresh(dsn, flavor, start=NOW - timedelta(days=3))
    with psycopg.connect(dsn) as conn:
        _check_split(conn)
    assert not migrate(dsn, settings).changed
