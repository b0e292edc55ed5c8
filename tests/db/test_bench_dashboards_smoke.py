"""bench/bench_dashboards.py in a tiny run on the postgresql flavor: it runs end to end, every question gives the
same answer from the aggregates as from the raw records, and it reports the rows of every aggregate family.

Speed is not judged here (a shared test machine says little about it); this keeps the benchmark runnable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.postgres import PostgresServer

from georchestra_analytics.db.aggregates import FAMILIES

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_dashboards.py"
RECORDS = 3000


def run_bench(server: PostgresServer, flavor: str) -> str:
    answer = subprocess.run(
        [sys.executable, str(BENCH), "--rows", str(RECORDS), "--flavor", flavor, "--dsn", server.dsn],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    return answer.stdout


def check_report(report: str, flavor: str) -> None:
    assert f"{flavor}: {RECORDS:,} raw records" in report
    answers = [line for line in report.splitlines() if line.endswith(("  yes", "  NO"))]
    assert len(answers) == 3 and all(line.endswith("  yes") for line in answers), report
    for family in FAMILIES:
        assert f"  {family} " in report, family
    assert f"bytes per record ({flavor}): raw " in report


def test_the_dashboards_bench_runs_on_postgresql(pg_server: PostgresServer) -> None:
    check_report(run_bench(pg_server, "postgresql"), "postgresql")
