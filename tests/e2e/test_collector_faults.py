"""Nothing lost at the collector: faults of the database, of Vector and of a sender, with real components.

The sender is the real OpenTelemetry Python SDK set up as the Java agent runs on the platform: a Batch log record
processor (queue 2048, export timeout 10 s) and an OTLP exporter, wrapped so that a failed batch is exported
again under the Java SDK's default retry policy (5 attempts, backoff 1 s x1.5 up to 5 s; ResendingExporter in
tests/support/otel_emitter.py). The Python exporters retry transient errors themselves (connection refused,
gRPC UNAVAILABLE, HTTP 429/502/503/504), but only within one export timeout: an export still unanswered at its
timeout (the collector waiting for the database) fails, and the wrapper resends it whole, although the
collector keeps and later writes the first copy. The collector is the rendered configuration in the real Vector
(acknowledgements on, as by default: an OTLP request is answered once its rows are written, or in the disk
buffer). What each test shows, counted exactly and printed (terminal summary "collector fault counts"):

(a) PostgreSQL stopped for 30 s while records flow, then started again on the same port: every accepted record
    is in the buffer table (at least once: resent batches the collector had kept come twice), and the parse job
    stores each exactly once (stable ids; the rest are counted as duplicates), the same records, ids included,
    as `parse --dry-run` gives for those rows. Run on the timescaledb flavor only: the buffer table is the same
    plain table in both flavors (a fault of the collector's sink does not depend on it), and a second 30 s
    outage would double the cost of the module.
(b) Vector killed with SIGKILL mid-stream, with the disk buffer, then started again on the same data directory:
    the kill happens while the database is down, so the records acknowledged to the SDK at that moment exist
    only in the disk buffer (their number is printed and must be positive); a batch is being exported at the
    kill and another is sent while Vector is down. After the restart every accepted record is in the buffer
    table and the parse job stores each exactly once, as the dry-run does (postgresql flavor).
(c) A malformed OTLP request (garbage protobuf over HTTP, garbage bytes to the gRPC Export method) gets an
    error answer, Vector keeps running, and a good batch sent after it lands whole.
Records that were never acknowledged and never resent (a sender that gives up, a full SDK queue) would be lost
by the sender, not the collector: the tests assert that the SDK gave up nothing and that every record reached
the exporter.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from tests.support import buffer_records as br
from tests.support.collector import RunningCollector, run_collector, wait_for
from tests.support.components import skip_or_fail
from tests.support.otel_emitter import ExportCounts, ExporterKind, OtelEmitter, PlannedRecord, plan_records
from tests.support.pausable_postgres import pausable_postgres
from tests.support.postgres import PostgresServer
from tests.support.vector_binary import VectorBinary

from georchestra_analytics.render.vector import render_vector_config
from georchestra_analytics.stack import AnalyticsStack

Report = Callable[[str], None]
OUTAGE_SECONDS = 30


def java_like(endpoint: str, exporter: ExporterKind) -> OtelEmitter:
    """The Java SDK's defaults: OTLP timeout 10 s, retry policy 5 attempts from 1 s backoff (x1.5, at most 5 s),
    a Batch processor with a queue of 2048."""
    return OtelEmitter(endpoint, exporter, "batch", timeout=10.0, resend_attempts=5, resend_backoff=1.0,
                       max_queue_size=2048)  # fmt: skip


def _identity(record: PlannedRecord) -> tuple[str, str, str]:
    return record.scope, record.body, json.dumps(record.attributes, sort_keys=True)


def _chunks(records: Sequence[PlannedRecord], count: int) -> list[Sequence[PlannedRecord]]:
    size = -(-len(records) // count)
    return [records[index : index + size] for index in range(0, len(records), size)]


def _all_in_buffer(dsn: str, kept: Sequence[PlannedRecord]) -> Callable[[], bool]:
    wanted = {_identity(record) for record in kept}
    return lambda: wanted <= set(br.buffer_contents(dsn))


def _check_sender(counts: ExportCounts, emitted: int) -> None:
    assert counts.records == emitted, "records never reached the exporter (the SDK's queue dropped them)"
    assert counts.dropped == 0, f"the sender gave up on records: {counts}"


def _parse_and_check(
    dsn: str, stack: AnalyticsStack, document: dict[str, Any], kept: Sequence[PlannedRecord], tmp_path: Path
) -> tuple[int, int, int]:
    """Buffer rows, records, duplicates collapsed; asserts every record stored once, with the dry-run's ids."""
    rows = br.count(dsn)
    assert {(scope, body, attrs) for scope, body, attrs in br.buffer_contents(dsn)} == {_identity(r) for r in kept}
    rows_file = tmp_path / "buffer-rows.jsonl"
    assert br.export_buffer(dsn, rows_file) == rows
    expected = br.dry_run_records(br.dry_run(document, rows_file))
    summary = br.parse_job(dsn, stack)
    assert sum(summary.rejected.values()) == 0
    assert (summary.claimed, summary.written, summary.duplicates) == (rows, len(kept), rows - len(kept))
    stored = br.stored_records(dsn)
    assert len(stored) == len(kept)
    assert stored.keys() == expected.keys()
    for record_id, record in expected.items():
        assert stored[record_id] == record, record_id
    return rows, len(stored), summary.duplicates


def test_a_database_outage_loses_nothing_and_replays_count_once(
    vector_bin: VectorBinary, pg_server: PostgresServer, tmp_path: Path, report: Report
) -> None:
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    planned = plan_records(seed=1, gateway=1500, security_proxy=500, app=100)
    kept = [record for record in planned if record.accepted]
    stack, document = br.analytics_stack("timescaledb")
    with pausable_postgres(pg_server) as postgres:
        dsn = postgres.create_database(timescaledb=True)
        br.prepare(dsn, stack)
        with run_collector(vector_bin, render_vector_config(stack), dsn, tmp_path / "collector") as collector:
            exporter: ExporterKind = "grpc"  # what the platform's agents use (port 4317)
            with java_like(collector.endpoints.grpc, exporter) as emitter:
                chunks = _chunks(planned, 40)  # about 50 records a second for 40 s
                started = time.monotonic()
                down_at = up_at = 0.0
                for second, chunk in enumerate(chunks):
                    if second == 5:
                        postgres.pause()
                        down_at = time.monotonic()
                    if not postgres.running and time.monotonic() - down_at >= OUTAGE_SECONDS:
                        postgres.resume()
                        up_at = time.monotonic()
                    emitter.emit(chunk)
                    time.sleep(max(0.0, started + second + 1 - time.monotonic()))
                if not postgres.running:
                    time.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.monotonic()))
                    postgres.resume()
                    up_at = time.monotonic()
                assert emitter.flush(180_000), "the SDK could not flush"
                wait_for(_all_in_buffer(dsn, kept), 120, "every accepted record in the buffer")
            counts = emitter.counts
        # The collector has stopped (gracefully, draining): the buffer no longer changes.
        _check_sender(counts, len(planned))
        rows, records, duplicates = _parse_and_check(dsn, stack, document, kept, tmp_path)
    report(
        f"collector fault (a) database down {up_at - down_at:.0f} s ({exporter}): sent {len(kept)} "
        f"(+{len(planned) - len(kept)} unrelated, dropped), exporter failures {counts.failures}, resends "
        f"{counts.resends}, given up {counts.dropped}; buffer {rows} rows, records {records}, duplicates "
        f"collapsed {duplicates}"
    )


def test_vector_killed_with_a_disk_buffer_loses_nothing(
    vector_bin: VectorBinary, pg_server: PostgresServer, tmp_path: Path, report: Report
) -> None:
    planned = plan_records(seed=2, gateway=1500, security_proxy=500, app=100)
    kept = [record for record in planned if record.accepted]
    collector_spec = {"buffer": {"type": "disk", "maxSize": 268435488}}
    stack, document = br.analytics_stack("postgresql", collector_spec)
    rendered = render_vector_config(stack)
    chunks = _chunks(planned, 20)
    with pausable_postgres(pg_server) as postgres:
        dsn = postgres.create_database()
        br.prepare(dsn, stack)
        with run_collector(vector_bin, rendered, dsn, tmp_path / "collector") as collector:
            exporter: ExporterKind = "http"
            with java_like(collector.endpoints.http, exporter) as emitter:
                emitted = 0
                for chunk in chunks[:6]:
                    emitter.emit(chunk)
                    emitted += len(chunk)
                    time.sleep(1)
                # The database goes down; what the SDK sends now is acknowledged once it is in the disk buffer.
                postgres.pause()
                for chunk in chunks[6:10]:
                    emitter.emit(chunk)
                    emitted += len(chunk)
                    time.sleep(1)
                wait_for(lambda: emitter.counts.exported == emitted, 30, "the disk buffer to acknowledge")
                # One more chunk, and the kill while the SDK exports it: it is acknowledged or resent.
                emitter.emit(chunks[10])
                time.sleep(0.25)
                _kill(collector)
                exported = emitter.counts.exported  # records, unrelated included (the filter acknowledges those)
                emitter.emit(chunks[11])  # sent to a dead collector: the exporter retries, then resends
                postgres.resume()
                in_table = len(set(br.buffer_contents(dsn)))
                time.sleep(2)
                collector.start()
                for chunk in chunks[12:]:
                    emitter.emit(chunk)
                    time.sleep(1)
                assert emitter.flush(180_000), "the SDK could not flush"
                wait_for(_all_in_buffer(dsn, kept), 120, "every accepted record in the buffer")
            counts = emitter.counts
        _check_sender(counts, len(planned))
        unrelated_acknowledged = sum(not record.accepted for record in planned[:exported])
        held_on_disk = exported - unrelated_acknowledged - in_table
        assert held_on_disk > 0, "the kill found nothing in the disk buffer: the test did not exercise it"
        rows, records, duplicates = _parse_and_check(dsn, stack, document, kept, tmp_path)
    report(
        f"collector fault (b) vector SIGKILL with disk buffer ({exporter}): sent {len(kept)} "
        f"(+{len(planned) - len(kept)} unrelated, dropped), acknowledged and held only by the disk buffer at the "
        f"kill {held_on_disk}, exporter failures {counts.failures}, resends {counts.resends}, given up "
        f"{counts.dropped}; buffer {rows} rows, records {records}, duplicates collapsed {duplicates}"
    )


def _kill(collector: RunningCollector) -> None:
    returncode = collector.kill()
    assert returncode == -9, f"vector was not killed by SIGKILL (exit {returncode})"


def test_a_malformed_otlp_request_gets_an_error_and_the_pipeline_keeps_running(
    vector_bin: VectorBinary, pg_dsn: str, tmp_path: Path, report: Report
) -> None:
    stack, document = br.analytics_stack("postgresql")
    br.prepare(pg_dsn, stack)
    planned = plan_records(seed=3, gateway=40, security_proxy=15, app=5)
    kept = [record for record in planned if record.accepted]
    with run_collector(vector_bin, render_vector_config(stack), pg_dsn, tmp_path / "collector") as collector:
        garbage = b"\x0a\xff\xff\xff\xff\x0f not an ExportLogsServiceRequest \x00\x01"
        post = urllib.request.Request(
            f"http://{collector.endpoints.http}/v1/logs",
            data=garbage,
            headers={"Content-Type": "application/x-protobuf"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(post, timeout=10)  # noqa: S310 (a loopback URL the test built)
        http_status = refused.value.code
        assert 400 <= http_status < 500, http_status
        with grpc.insecure_channel(collector.endpoints.grpc) as channel:
            # Raw bytes to the real method: the generated stub would refuse to serialise garbage.
            export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
            with pytest.raises(grpc.RpcError) as failed:
                export(garbage, timeout=10)
        grpc_code = failed.value.code()
        assert grpc_code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), grpc_code
        assert collector.process is not None and collector.process.poll() is None, "vector stopped"
        with OtelEmitter(collector.endpoints.http, "http", "batch") as emitter:
            emitter.emit(planned[: len(planned) // 2])
            assert emitter.flush()
        with OtelEmitter(collector.endpoints.grpc, "grpc", "batch") as emitter:
            emitter.emit(planned[len(planned) // 2 :])
            assert emitter.flush()
        assert br.count(pg_dsn) == len(kept)
    rows, records, duplicates = _parse_and_check(pg_dsn, stack, document, kept, tmp_path)
    assert duplicates == 0
    report(
        f"collector fault (c) malformed OTLP: HTTP garbage -> {http_status}, gRPC garbage -> {grpc_code.name}; "
        f"then sent {len(kept)} (+{len(planned) - len(kept)} unrelated), buffer {rows} rows, records {records}"
    )
