"""bench/bench_collector.py in its tiny mode: every case runs end to end and reports what the docs quote.

Speed is not judged here (a shared test machine says little about it); this keeps the benchmark runnable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.vector_binary import VECTOR_BIN_ENV, VectorBinary

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_collector.py"
EVENTS = 200


def test_the_collector_bench_runs_every_case(vector_bin: VectorBinary) -> None:
    environment = {**os.environ, VECTOR_BIN_ENV: str(vector_bin.path)}
    answer = subprocess.run(
        [sys.executable, str(BENCH), "--events", str(EVENTS), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=environment,
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    summary = json.loads(answer.stdout)
    assert summary["events"] == EVENTS
    assert summary["flavor"] in ("postgresql", "timescaledb")
    cases = {(result["exporter"], result["case"]): result for result in summary["results"]}
    assert set(cases) == {(e, c) for e in ("grpc", "http") for c in ("sdk", "blackhole", "memory", "disk")}
    for result in cases.values():
        assert result["events"] == EVENTS and result["accepted"] == EVENTS
        assert result["seconds"] > 0 and result["events_per_second"] > 0
        assert result["cpu_seconds"]["sdk"] > 0
    for exporter in ("grpc", "http"):
        assert cases[(exporter, "sdk")]["otlp_bytes_per_event"] > 0
        for case in ("blackhole", "memory", "disk"):
            figures = cases[(exporter, case)]["vector"]
            assert figures["sink_received_events"] == EVENTS and figures["sink_errors"] == 0
        baseline = cases[(exporter, "memory")]["baseline"]
        assert baseline["rows"] == EVENTS
        assert baseline["copy_rows_per_second"] > 0 and baseline["sink_statement_rows_per_second"] > 0
