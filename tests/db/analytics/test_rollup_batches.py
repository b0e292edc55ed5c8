"""The parse job's per-batch rollups (postgresql flavor, rollups/batch.sql.j2: each family's rows grouped by
hour once, the daily and monthly levels summed from those hours) hold exactly what one upsert per level over
every raw row gives (rollups/upsert.sql.j2, what the migrations fill the rollups from raw with), in a time zone
off the UTC hour with a daylight-saving change and a month end inside the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from tests.support.accesslogs import QGIS, gateway_row

from georchestra_analytics.db import aggregates
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.context import schema_context
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings, Retention
from georchestra_analytics.db.sql_templates import ident, render
from georchestra_analytics.db.writer import _rollup_statements
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.settings import ParserSettings

# Newfoundland: UTC-3:30, daylight saving from 2026-03-08 02:00 local (an hour of that day is missing).
TIME_ZONE = "America/St_Johns"
START = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)
MONTH_END = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # 22:30 on 31 March, local


def _rows() -> list[dict[str, Any]]:
    rows = []
    for n in range(360):
        ts = (START if n % 3 else MONTH_END) + timedelta(minutes=7 * n)
        layer = f"ws{n % 3}:layer_{n % 5}" + (",ws1:roads" if n % 4 == 0 else "")
        bbox = "&BBOX=2.1,48.7,2.3,48.9&SRS=EPSG:4326" if n % 2 else ""
        rows.append(
            gateway_row(
                f"/geoserver/ows?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS={layer}{bbox}&n={n}",
                status=(200, 200, 404, 500)[n % 4],
                user=f"user{n % 4}" if n % 5 else None,
                org=f"org{n % 2}",
                headers={"User-Agent": QGIS if n % 2 else "Googlebot/2.1 (+http://www.google.com/bot.html)"},
                extra={"http.response.duration_ms": str((n * 37) % 5000)},
                ts=ts,
            )
        )
    return rows


def _contents(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(
            conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("analytics", name))).fetchall(), key=repr
        )
        for name in (aggregates.storage_name(f, level) for f in aggregates.FAMILIES for level in aggregates.LEVELS)
    }


def test_batch_rollups_equal_one_upsert_per_level_over_all_rows(pg_dsn: str) -> None:
    settings = DatabaseSettings(
        flavor="postgresql", time_zone=TIME_ZONE, retention=Retention(raw=None, hourly=None, daily=None, monthly=None)
    )
    migrate(pg_dsn, settings, now=START)
    with psycopg.connect(pg_dsn) as conn:
        insert_buffer_rows(conn, "analytics", _rows())
        conn.commit()

    summary = run_workers(pg_dsn, ParserSettings(batch_size=25))  # many batches, groups added to again and again

    assert summary.written == 360
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        batched = _contents(conn)
        for name in batched:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("analytics", name)))
        context = schema_context("analytics", TIME_ZONE, "postgresql")
        for family in aggregates.FAMILIES:
            source = ident("analytics", aggregates.SOURCE_TABLE[family])
            for level in aggregates.LEVELS:
                conn.execute(render("rollups/upsert.sql.j2", **context, family=family, level=level, source=source))
        whole = _contents(conn)
    assert batched == whole
    # Both sides of the daylight-saving change and of the month end hold rows, and robots were counted apart.
    assert len({row[0] for row in whole[aggregates.storage_name("usage", "monthly")]}) == 2
    assert whole[aggregates.storage_name("robot_usage", "hourly")]


def test_rollup_rows_are_locked_level_by_level_in_one_order() -> None:
    """Separate statements, hourly then daily then monthly, family after family (as the version before upserted
    them): concurrent parse jobs, this version's or the previous one's, take rollup row locks in one order."""
    text = _rollup_statements("analytics", TIME_ZONE).decode()
    positions = [
        text.index(f"INSERT INTO {ident('analytics')}.{aggregates.storage_name(family, level)} AS t")
        for family in aggregates.FAMILIES
        for level in aggregates.LEVELS
    ]
    assert positions == sorted(positions)
    assert "WITH" not in text.upper().split()  # no data-modifying CTE, whose sub-statements run in no stated order
