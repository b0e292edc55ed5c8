"""Continuous aggregates a migration creates on a database that already holds records are filled over the whole
history, not only over their refresh policies' few days: the families of migrations 0009, 0010 and 0012 and the
aggregates behind the ogc_summary_* compatibility views. Checked through the views dashboards read, after a
refresh over the last days (what a policy or the parse job does) has moved the aggregates' watermark past the old
records, so real-time aggregation no longer computes them from the raw rows: each view must equal a GROUP BY over
the raw records. A run that stops between its commit and the backfill leaves the aggregates recorded, and the
next `db migrate` fills them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.support.older_families import ADDED_BY, migrate_as_before

from georchestra_analytics.db import aggregates, backfill
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings

SETTINGS = DatabaseSettings(flavor="timescaledb", time_zone="Europe/Paris")
NOW = datetime.now(UTC).replace(microsecond=0)
# Old records, months before any refresh policy's window, on several hours, days and months; one recent.
OLD = [NOW - timedelta(days=days, hours=hours) for days in (40, 41, 75, 120) for hours in (0, 3)]
TIMES = [*OLD, NOW - timedelta(hours=1)]
UNIT = {"hourly": "1 hour", "daily": "1 day", "monthly": "1 month"}


def _insert(conn: psycopg.Connection[Any], with_extent: bool, with_robots: bool = False) -> None:
    extent = ", extent_west, extent_south, extent_east, extent_north" if with_extent else ""
    values = ", 1.0, 45.0, 2.0, 46.0" if with_extent else ""
    robot = ", is_robot" if with_robots else ""
    for position, ts in enumerate(TIMES):
        service = None if position % 4 == 3 else "WMS"  # some non-OGC requests, which ogc_summary leaves out
        flag = (position % 2 == 0,) if with_robots else ()  # robots on each old day, for the robot mirrors
        conn.execute(
            "INSERT INTO analytics.access_logs (ts, id, source, app, path, service, request, roles, layers,"
            f" workspaces, tiled, is_download, tags, response_time_ms{robot}) VALUES (%s, %s, 'gateway',"
            " 'geoserver', '/geoserver/wms', %s, 'getmap', '{}', '{topp:states}', '{topp}', false, false, '{}', %s"
            f"{', %s' if with_robots else ''})",
            (ts, f"r{position}", service, 10 * position, *flag),
        )
        conn.execute(
            f"INSERT INTO analytics.access_log_layers (ts, id, layer, workspace, app, service{extent}{robot}) VALUES"
            f" (%s, %s, 'topp:states', 'topp', 'geoserver', %s{values}{', %s' if with_robots else ''})",
            (ts, f"r{position}", service, *flag),
        )


def _from_views(conn: psycopg.Connection[Any], view: str, bucket: str, measure: str) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT {bucket}, sum({measure})::int FROM {view} GROUP BY 1 ORDER BY 1").format(
        bucket=sql.Identifier(bucket), measure=sql.Identifier(measure), view=sql.Identifier("analytics", view)
    )
    return [tuple(row) for row in conn.execute(query).fetchall()]


def _from_raw(conn: psycopg.Connection[Any], table: str, level: str, condition: str) -> list[tuple[Any, ...]]:
    query = sql.SQL(
        "SELECT time_bucket({unit}::interval, ts, {tz}) AS b, count(*)::int FROM {table} WHERE {condition}"
        " GROUP BY 1 ORDER BY 1"
    ).format(
        unit=sql.Literal(UNIT[level]),
        tz=sql.Literal(SETTINGS.time_zone),
        table=sql.Identifier("analytics", table),
        condition=sql.SQL(condition),  # trusted: the project's own filters
    )
    return [tuple(row) for row in conn.execute(query).fetchall()]


def _build_older(dsn: str, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database the version before `version` left, from before the compatibility views too, holding records."""
    migrate_as_before(dsn, SETTINGS, version, monkeypatch)
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP MATERIALIZED VIEW analytics.legacy_ogc_hourly CASCADE")  # the monthly, daily and views
        _insert(conn, with_extent=version[:4] > "0009", with_robots=version[:4] > "0010")


@pytest.mark.parametrize("version", ["0009_requested_extent", "0010_audience", "0012_robot_mirrors"])
def test_aggregates_created_by_an_upgrade_hold_the_whole_history(
    timescale_dsn: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_older(timescale_dsn, version, monkeypatch)
    report = migrate(timescale_dsn, SETTINGS)
    new_families = [family for family, added in ADDED_BY.items() if added >= version[:4]]
    expected = {aggregates.storage_name(f, level) for f in new_families for level in aggregates.LEVELS}
    expected |= {f"legacy_ogc_{level}" for level in aggregates.LEVELS}
    assert set(report.backfilled) == expected
    assert report.backfilled.index("legacy_ogc_hourly") < report.backfilled.index("legacy_ogc_daily")
    assert report.backfilled.index("legacy_ogc_daily") < report.backfilled.index("legacy_ogc_monthly")
    # A refresh over the last days, as the policies and the parse job run: the watermark passes the old records.
    refresh_aggregates(timescale_dsn, NOW - timedelta(days=3), NOW + timedelta(hours=1))
    with psycopg.connect(timescale_dsn) as conn:
        for level in aggregates.LEVELS:
            for family in new_families:
                table = aggregates.SOURCE_TABLE[family]
                condition = aggregates.SOURCE_FILTERS.get(family, "true")
                raw = _from_raw(conn, table, level, condition)
                # Rows from before 0009 have no extent, from before 0010 no robot flag.
                if (family != "layer_extents" or version[:4] > "0009") and (
                    family not in aggregates.ROBOT_FAMILIES or version[:4] > "0010"
                ):
                    assert len(raw) > 3, (family, level, raw)
                # The robot mirrors have no views: their storage, as their originals' views read it.
                view = (
                    f"{family}_{level}"
                    if family in aggregates.DASHBOARD_FAMILIES
                    else aggregates.storage_name(family, level)
                )
                assert _from_views(conn, view, "bucket", "requests") == raw, (family, level)
            raw = _from_raw(conn, "access_logs", level, "service IS NOT NULL")
            assert sum(count for _, count in raw) == len(TIMES) - 2
            assert _from_views(conn, f"ogc_summary_{level}", f"bucket_{level}", "nb_req") == raw, level
        pending = conn.execute("SELECT count(*) FROM analytics.aggregate_backfills").fetchone()
        assert pending == (0,)
    assert not migrate(timescale_dsn, SETTINGS).changed


def test_a_backfill_stopped_after_the_commit_is_done_by_the_next_migrate(
    timescale_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_older(timescale_dsn, "0010_audience", monkeypatch)

    def stopped(*_args: Any) -> list[str]:  # the process dying between the commit and the refreshes
        raise SystemExit("killed")

    with monkeypatch.context() as dying:
        dying.setattr(backfill, "fill", stopped)
        with pytest.raises(SystemExit):
            migrate(timescale_dsn, SETTINGS)
    with psycopg.connect(timescale_dsn) as conn:
        recorded = {row[0] for row in conn.execute("SELECT name FROM analytics.aggregate_backfills")}
    assert recorded >= {
        aggregates.storage_name("audience", "hourly"),
        aggregates.storage_name("client_layers", "monthly"),
        "legacy_ogc_daily",
    }
    report = migrate(timescale_dsn, SETTINGS)
    assert set(report.backfilled) == recorded and report.applied == []
    refresh_aggregates(timescale_dsn, NOW - timedelta(days=3), NOW + timedelta(hours=1))
    with psycopg.connect(timescale_dsn) as conn:
        for level in aggregates.LEVELS:
            raw = _from_raw(conn, "access_logs", level, "true")
            assert _from_views(conn, f"audience_{level}", "bucket", "requests") == raw, level
        assert conn.execute("SELECT count(*) FROM analytics.aggregate_backfills").fetchone() == (0,)


def test_a_refresh_over_backfilled_old_records_reaches_the_compatibility_aggregates(timescale_dsn: str) -> None:
    """The parse job refreshes the span a run wrote (db/refresh.py): rows parsed late, older than the policies'
    window, reach the ogc_summary_* views too, not only this project's families."""
    migrate(timescale_dsn, SETTINGS)
    refresh_aggregates(timescale_dsn, NOW - timedelta(days=3), NOW + timedelta(hours=1))  # watermark: now
    with psycopg.connect(timescale_dsn) as conn:
        _insert(conn, with_extent=True)
    refreshed = refresh_aggregates(timescale_dsn, min(TIMES), max(TIMES))
    assert [name for name in refreshed if name.startswith("legacy_ogc_")] == [
        f"legacy_ogc_{level}" for level in aggregates.LEVELS
    ]
    with psycopg.connect(timescale_dsn) as conn:
        for level in aggregates.LEVELS:
            raw = _from_raw(conn, "access_logs", level, "service IS NOT NULL")
            assert len(raw) > 3
            assert _from_views(conn, f"ogc_summary_{level}", f"bucket_{level}", "nb_req") == raw, level
