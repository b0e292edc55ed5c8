"""bench/bench_dashboards.py in a tiny run on the timescaledb flavor (tests/db has the postgresql one)."""

from __future__ import annotations

from tests.db.test_bench_dashboards_smoke import check_report, run_bench
from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer


def test_the_dashboards_bench_runs_on_timescaledb(pg_server: PostgresServer) -> None:
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    report = run_bench(pg_server, "timescaledb")
    check_report(report, "timescaledb")
    assert "bytes per record (timescaledb, every chunk compressed)" in report
