"""bench/bench_parse.py in a tiny run on both flavors: it drains its backlog end to end and prints every figure
docs/performance.md quotes. Speed is not judged here (a shared test machine says little about it); this keeps the
benchmark runnable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_parse.py"
ROWS = 2000
FIGURES = ("job, 1 worker", "run's time", "COPY baseline", "ratio job/COPY", "parse process CPU",
           "database per batch", "peak RSS", "job, 2 workers")  # fmt: skip


def test_the_parse_bench_runs_on_both_flavors(pg_server: PostgresServer) -> None:
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    answer = subprocess.run(
        [sys.executable, str(BENCH), "--rows", str(ROWS), "--batch-size", "500"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    sections = re.split(r"^== ", answer.stdout, flags=re.MULTILINE)[1:]
    assert [section.split(":", 1)[0] for section in sections] == ["postgresql", "timescaledb"], answer.stdout
    for section in sections:
        for figure in FIGURES:
            assert f"\n{figure}" in section, (figure, section)
        # Every row of the backlog was claimed, once, by the one-worker run.
        assert f"{ROWS:,} rows (" in section, section
