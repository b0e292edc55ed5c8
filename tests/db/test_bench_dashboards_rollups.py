"""bench/bench_dashboards.py builds the postgresql flavor's rollups in bulk (INSERT ... SELECT per month, hourly
from raw, daily from hourly, monthly from daily): those rows must be exactly the parse job's, or the benchmark
would time something production never reads. Speed is not judged here (bench/ measures it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings, Retention

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_dashboards.py"
RECORDS = 6000


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_dashboards", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _contents(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier("analytics", table))
            ).fetchall()
            for table in (storage_name(family, level) for family in FAMILIES for level in LEVELS)
        }


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)


def test_bulk_rollups_equal_the_parse_jobs(pg_dsn: str) -> None:
    bench = _bench()
    settings = DatabaseSettings(
        flavor="postgresql",
        time_zone=bench.TIME_ZONE,
        retention=Retention(raw=None, hourly=None, daily=None, monthly=None),
        compress_after=None,
    )
    migrate(pg_dsn, settings, now=bench.START)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SELECT analytics.ensure_partitions(%s, %s)", (bench.START, bench.START + bench.SPAN))
    bench._fill(pg_dsn, RECORDS)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        # A month of small extents, so the family that counts only such rows has some (the bench has none).
        conn.execute(
            "UPDATE analytics.access_log_layers SET extent_west = 2.1, extent_east = 2.6, extent_south = 48.7,"
            " extent_north = 48.9 WHERE ts < %s",
            (bench.START + bench.SPAN / 12,),
        )
    bench.build_rollups(pg_dsn)
    bulk = _contents(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for table in bulk:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("analytics", table)))
    bench.rollups_as_parse_job(pg_dsn)
    upserted = _contents(pg_dsn)
    for table, rows in upserted.items():
        assert _sorted(bulk[table]) == _sorted(rows), table
    # Every family has rows to compare (robots, extents), and the unique keys came back.
    assert all(rows for rows in bulk.values()), [table for table, rows in bulk.items() if not rows]
    with psycopg.connect(pg_dsn) as conn:
        index_names = {
            row[0]
            for row in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'analytics' AND tablename LIKE 'agg\\_%%'"
            ).fetchall()
        }
    assert {f"{table}_key" for table in bulk} <= index_names
