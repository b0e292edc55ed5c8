"""Benchmark of the collector: log records from the OpenTelemetry SDK through the real Vector into the buffer table,
side by side with a plain COPY of the same rows, measured in the same run.

For each OTLP exporter of the SDK (gRPC, HTTP/protobuf), the same records (Gateway and security-proxy access logs,
tests/support/otel_emitter.py) go through:

- `sdk`: the SDK alone, its exporter answering itself (records built, batched and encoded to OTLP protobuf as the
  real exporter does, nothing sent): the client's own cost;
- `blackhole`: the rendered configuration in the real Vector with its database sink replaced by a `blackhole`
  sink (same sources, filter, VRL, acknowledgements, memory buffer): Vector without PostgreSQL;
- `memory`, `disk`: the rendered configuration unchanged but for loopback addresses (tests/support/collector.py),
  with `spec.collector.buffer.type` memory or disk, into the buffer table: the real thing.

Each case times first record handed to the SDK -> last row committed (events/s), and the CPU seconds spent by
each process during the case (this process = the SDK; Vector; PostgreSQL = the postmaster and its backends), read
from /proc. Then the rows Vector wrote are inserted again by PostgreSQL alone, timed: with COPY into a fresh
table of the buffer's shape (the baseline), and with the sink's own statement (`INSERT ... SELECT * FROM
jsonb_populate_recordset(NULL::t, $1)`, batches of the sink's 1,000 events). Run from the repository root:

    .venv/bin/python bench/bench_collector.py                  # about a minute on 2 cores
    .venv/bin/python bench/bench_collector.py --events 200 --json

A throwaway PostgreSQL cluster is started (with TimescaleDB when ANALYTICS_TIMESCALEDB_TARBALL names a build;
tests/support/timescaledb.py); Vector comes from ANALYTICS_VECTOR_BIN or PATH (tests/support/vector_binary.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from tests.support import otel_emitter, timescaledb
from tests.support.collector import RunningCollector, run_collector
from tests.support.otel_emitter import OtelEmitter, PlannedRecord, plan_records
from tests.support.vector import stack_document
from tests.support.vector_binary import VectorBinary, locate

from bench.common import CLOCK_TICKS, postgres_cpu, ticks, timed_copy
from georchestra_analytics.db.buffer import BUFFER_COLUMNS
from georchestra_analytics.db.embedded import EmbeddedPostgres, _postmaster_pid
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.render.vector import render_vector_config
from georchestra_analytics.stack import AnalyticsStack, parse_stack

SCHEMA = "analytics"
SINK_BATCH = 1_000  # the rendered sink's batch.max_events
EXPORTERS = ("grpc", "http")
CASES = ("sdk", "blackhole", "memory", "disk")


# -- CPU accounting -----------------------------------------------------------------------------------------


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuMeter:
    """CPU seconds of this process (the SDK), Vector and PostgreSQL between `start` and `stop`."""

    postmaster: int
    vector: int | None = None
    before: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        now = {"sdk": own_cpu(), "postgresql": postgres_cpu(self.postmaster)}
        if self.vector is not None:
            now["vector"] = ticks(self.vector, children=True) / CLOCK_TICKS
        return now

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> None:
        self.spent = {name: round(value - self.before[name], 2) for name, value in self._now().items()}


# -- the SDK alone --------------------------------------------------------------------------------------------


class EncodingExporter(LogRecordExporter):
    """Does what the OTLP exporters do before the network (encode the batch to OTLP protobuf), then succeeds."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.bytes += len(encode_logs(batch).SerializeToString())
        self.records += len(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@contextmanager
def answering_itself(encoder: EncodingExporter) -> Iterator[None]:
    """OtelEmitter with the real processor and SDK, but the exporter replaced by `encoder`."""
    original = otel_emitter.make_exporter
    otel_emitter.make_exporter = lambda *_, **__: encoder
    try:
        yield
    finally:
        otel_emitter.make_exporter = original


# -- a case ---------------------------------------------------------------------------------------------------


def bench_stack(flavor: str, buffer: str) -> AnalyticsStack:
    collector: dict[str, Any] = {"replicas": 1}
    if buffer == "disk":
        collector["buffer"] = {"type": "disk", "maxSize": 268_435_488}
    document = stack_document(collector)
    document["spec"]["database"]["flavor"] = flavor
    return parse_stack(document)


def blackhole(rendered: str) -> str:
    """The rendered configuration with the database sink replaced by a blackhole (same inputs, same acks)."""
    config = yaml.safe_load(rendered)
    sink = config["sinks"]["buffer_table"]
    config["sinks"]["buffer_table"] = {
        "type": "blackhole",
        "inputs": sink["inputs"],
        "acknowledgements": sink["acknowledgements"],
        "buffer": sink["buffer"],
    }
    return yaml.safe_dump(config, sort_keys=False, width=1 << 16)


@contextmanager
def fresh_database(maintenance_dsn: str, stack: AnalyticsStack) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(maintenance_dsn, dbname=name)
    try:
        migrate(dsn, DatabaseSettings.from_stack(stack))
        yield dsn
    finally:
        with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def buffer_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "otel_buffer"))).fetchone()
    return int(row[0]) if row else 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def vector_figures(collector: RunningCollector, accepted: int) -> dict[str, float]:
    """Vector's own counters for the sink: events in and out, errors, what is left in its buffer (they are
    published once a second: waited for until they count every event)."""
    sink = {"component_id": "buffer_table"}
    with contextlib.suppress(RuntimeError):
        wait_until(lambda: collector.metric("vector_component_sent_events_total", **sink) >= accepted, 5, "metrics")
    return {
        "sink_received_events": collector.metric("vector_component_received_events_total", **sink),
        "sink_sent_events": collector.metric("vector_component_sent_events_total", **sink),
        "sink_errors": collector.metric("vector_component_errors_total", **sink),
        "buffer_events_left": collector.metric("vector_buffer_events", **sink),
    }


def emit(endpoint: str, exporter: str, records: list[PlannedRecord], batch_size: int) -> tuple[float, float]:
    """Hand the records to the SDK (batch processor, its queue large enough to drop nothing), flush.
    Returns (seconds to emit, seconds to emit and flush)."""
    started = time.perf_counter()
    emitter = OtelEmitter(
        endpoint,
        exporter,  # type: ignore[arg-type]
        "batch",
        timeout=60,
        batch_size=batch_size,
        max_queue_size=max(len(records), batch_size),
    )
    try:
        emitter.emit(records)
        emitted = time.perf_counter() - started
        if not emitter.flush(600_000):
            raise RuntimeError("the SDK could not flush its records")
        if emitter.counts.dropped or emitter.counts.failures:
            raise RuntimeError(f"the SDK failed exports: {emitter.counts}")
    finally:
        emitter.close()
    return emitted, time.perf_counter() - started


def run_case(
    case: str,
    exporter: str,
    records: list[PlannedRecord],
    vector: VectorBinary,
    maintenance_dsn: str,
    flavor: str,
    postmaster: int,
    workdir: Path,
    batch_size: int,
) -> dict[str, Any]:
    """One case; `seconds` is from the first record handed to the SDK to the last one stored (or discarded)."""
    accepted = sum(record.accepted for record in records)
    meter = CpuMeter(postmaster)
    result: dict[str, Any] = {"case": case, "exporter": exporter, "events": len(records), "accepted": accepted}
    if case == "sdk":
        encoder = EncodingExporter()
        meter.start()
        started = time.perf_counter()
        with answering_itself(encoder):
            result["emit_seconds"], _ = emit("127.0.0.1:1", exporter, records, batch_size)
        result["seconds"] = time.perf_counter() - started
        meter.stop()
        if encoder.records != len(records):
            raise RuntimeError(f"the SDK exported {encoder.records} of {len(records)} records")
        result["otlp_bytes_per_event"] = round(encoder.bytes / len(records), 1)
    else:
        stack = bench_stack(flavor, "memory" if case == "blackhole" else case)
        with fresh_database(maintenance_dsn, stack) as dsn:
            rendered = render_vector_config(stack)
            if case == "blackhole":
                rendered = blackhole(rendered)
            with run_collector(vector, rendered, dsn, workdir / f"{exporter}-{case}") as collector:
                assert collector.process is not None
                meter.vector = collector.process.pid
                endpoint = collector.endpoints.grpc if exporter == "grpc" else collector.endpoints.http
                meter.start()
                started = time.perf_counter()
                result["emit_seconds"], result["flush_seconds"] = emit(endpoint, exporter, records, batch_size)
                if case != "blackhole":
                    # With acknowledgements an export returns once its events are stored (in the table, or in
                    # the disk buffer): with a disk buffer the last rows may still be on their way. Into the
                    # blackhole, the last export returned once the blackhole had its events.
                    wait_until(lambda: buffer_count(dsn) >= accepted, 600, f"{accepted} rows in the buffer")
                result["seconds"] = time.perf_counter() - started
                meter.stop()
                result["vector"] = vector_figures(collector, accepted)
                if result["vector"]["sink_received_events"] != accepted:
                    raise RuntimeError(f"Vector's sink counted {result['vector']} for {accepted} access logs")
            if case != "blackhole":
                rows = buffer_count(dsn)
                if rows != accepted:
                    raise RuntimeError(f"{rows} rows in the buffer for {accepted} access logs sent")
                if case == "memory":
                    result["baseline"] = baselines(dsn)
    result["events_per_second"] = round(len(records) / result["seconds"])
    result["cpu_seconds"] = meter.spent
    return result


# -- PostgreSQL alone, on the rows Vector wrote ---------------------------------------------------------------


def baselines(dsn: str) -> dict[str, Any]:
    """The buffer rows inserted again into fresh tables of the buffer's shape, timing only the inserts: with
    COPY, and with the sink's statement in batches of the sink's size."""
    columns = list(BUFFER_COLUMNS)
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    source = sql.Identifier(SCHEMA, "otel_buffer")
    json_columns = frozenset({"attributes", "resources", "scope"})
    with psycopg.connect(dsn) as conn:
        rows = [list(row) for row in conn.execute(sql.SQL("SELECT {} FROM {}").format(column_list, source))]
        documents = [
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT jsonb_build_object({}) FROM {}").format(
                    sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(c)) for c in columns),
                    source,
                )
            )
        ]
        for name in ("bench_copy", "bench_sink"):
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(sql.Identifier(SCHEMA, name), source)
            )
        conn.commit()
        copy_seconds = timed_copy(conn, sql.Identifier(SCHEMA, "bench_copy"), columns, rows, json_columns)
        # The postgres sink's statement (Vector's src/sinks/postgres), one transaction per batch.
        table = sql.Identifier(SCHEMA, "bench_sink")
        insert = sql.SQL("INSERT INTO {} SELECT * FROM jsonb_populate_recordset(NULL::{}, %s)").format(table, table)
        started = time.perf_counter()
        for first in range(0, len(documents), SINK_BATCH):
            conn.execute(insert, [Jsonb(documents[first : first + SINK_BATCH])])
            conn.commit()
        sink_seconds = time.perf_counter() - started
    return {
        "rows": len(rows),
        "copy_seconds": round(copy_seconds, 3),
        "copy_rows_per_second": round(len(rows) / copy_seconds),
        "sink_statement_seconds": round(sink_seconds, 3),
        "sink_statement_rows_per_second": round(len(documents) / sink_seconds),
    }


# -- the run --------------------------------------------------------------------------------------------------


@contextmanager
def server() -> Iterator[tuple[EmbeddedPostgres, str]]:
    tarball = os.environ.get(timescaledb.TARBALL_ENV)
    if tarball:
        with EmbeddedPostgres(bindir=timescaledb.install(Path(tarball))) as embedded:
            yield embedded, "timescaledb"
    else:
        with EmbeddedPostgres() as embedded:
            yield embedded, "postgresql"


def plan(events: int) -> list[PlannedRecord]:
    """Access logs as the platform sends them: four Gateway records for one security-proxy line."""
    proxies = events // 5
    return plan_records(seed=14, gateway=events - proxies, security_proxy=proxies)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(results: list[dict[str, Any]]) -> None:
    by = {(r["exporter"], r["case"]): r for r in results}
    print(f"{'exporter':<8} {'case':<10} {'events/s':>9} {'seconds':>8}   CPU s: {'sdk':>6} {'vector':>6} {'pg':>6}")
    for result in results:
        cpu = result["cpu_seconds"]
        print(f"{result['exporter']:<8} {result['case']:<10} {result['events_per_second']:>9,} "
              f"{result['seconds']:>8.2f}          {cpu.get('sdk', 0):>6.2f} {cpu.get('vector', 0):>6.2f} "
              f"{cpu.get('postgresql', 0):>6.2f}")  # fmt: skip
    for exporter in EXPORTERS:
        memory = by.get((exporter, "memory"))
        if memory is None:
            continue
        baseline = memory["baseline"]
        print(f"{exporter}: COPY of the same {baseline['rows']} rows {baseline['copy_rows_per_second']:,} rows/s, "
              f"the sink's INSERT alone {baseline['sink_statement_rows_per_second']:,} rows/s; collector (memory) / "
              f"COPY = {memory['events_per_second'] / baseline['copy_rows_per_second']:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="log records per case (default: %(default)s)")
    parser.add_argument("--exporters", nargs="+", choices=EXPORTERS, default=list(EXPORTERS))
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument(
        "--sdk-batch-size",
        type=int,
        default=512,
        help="the SDK's max_export_batch_size (default: %(default)s, the SDKs' default, the Java agent's too)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    vector = locate()
    records = plan(args.events)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    with server() as (embedded, flavor), tempfile.TemporaryDirectory(prefix="bench-collector-") as work:
        postmaster = _postmaster_pid(embedded.datadir)
        if postmaster is None:
            raise RuntimeError("no postmaster.pid in the cluster")
        # The SDK's first records pay its one-time set-up (providers, resource, encoders): not any case's cost.
        with answering_itself(EncodingExporter()):
            emit("127.0.0.1:1", "grpc", plan(500), args.sdk_batch_size)
        load_before = load_average()
        for exporter in args.exporters:
            for case in args.cases:
                results.append(
                    run_case(
                        case,
                        exporter,
                        records,
                        vector,
                        embedded.dsn,
                        flavor,
                        postmaster,
                        Path(work),
                        args.sdk_batch_size,
                    )
                )
    summary = {
        "events": args.events,
        "sdk_batch_size": args.sdk_batch_size,
        "flavor": flavor,
        "vector": ".".join(map(str, vector.version)),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{args.events} events per case (SDK batches of {args.sdk_batch_size}), {flavor} flavor, "
              f"Vector {summary['vector']}, {summary['cpus']} CPUs, "
              f"load average {summary['load_average_before']} -> {summary['load_average_after']}")  # fmt: skip
        report(results)


if __name__ == "__main__":
    main()
