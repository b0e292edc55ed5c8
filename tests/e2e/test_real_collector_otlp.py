"""The OpenTelemetry path end to end with real components only.

The real OpenTelemetry Python SDK (LoggerProvider, Simple then Batch processor, the OTLP gRPC or HTTP/protobuf
exporter, gzip on the timescaledb cases) sends Gateway-shaped records (MDC attributes with the Gateway's names),
security-proxy records (its access line as the body) and records of unrelated application loggers; the
configuration `render` produces for the stack runs in the real Vector binary, relocated to loopback ports
(tests/support/collector.py); the buffer is a real PostgreSQL or TimescaleDB database migrated by the product.
Checked, for each exporter and flavor:
- the collector drops exactly the unrelated records and the buffer holds exactly one row per accepted record,
  with the body and attributes the SDK was given;
- the parse job's records equal, key by key and ids included, what `parse --dry-run` prints for the same
  buffer rows exported with psql, as an operator would.
The VRL-level complement (each program on hand-made events, no network) is test_collector_to_records.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tests.support import buffer_records as br
from tests.support.collector import RunningCollector, run_collector, wait_for
from tests.support.otel_emitter import ExporterKind, OtelEmitter, plan_records
from tests.support.vector_binary import VectorBinary

from georchestra_analytics.render.vector import render_vector_config

GATEWAY, SECURITY_PROXY, UNRELATED = 180, 70, 50
SIMPLE_HEAD = 4  # records sent through a Simple processor before the bulk goes through a Batch one


def _event_counters(collector: RunningCollector) -> dict[str, float]:
    received = collector.metric("vector_component_received_events_total", component_id="otlp")
    sent = {
        name: collector.metric("vector_component_sent_events_total", component_id=name)
        for name in ("access_log_scopes", "buffer_table")
    }
    return {"otlp": received, **sent}


@pytest.mark.parametrize("flavor", ["postgresql", "timescaledb"])
@pytest.mark.parametrize("exporter", ["grpc", "http"])
def test_sdk_records_through_the_real_collector_become_the_dry_run_records(
    exporter: ExporterKind, flavor: str, vector_bin: VectorBinary, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    dsn: str = request.getfixturevalue("pg_dsn" if flavor == "postgresql" else "timescale_dsn")
    stack, document = br.analytics_stack(flavor)
    br.prepare(dsn, stack)
    seed = {"grpc": 10, "http": 20}[exporter] + (flavor == "timescaledb")
    planned = plan_records(seed, gateway=GATEWAY, security_proxy=SECURITY_PROXY, app=UNRELATED)
    kept = [record for record in planned if record.accepted]
    assert len(kept) == GATEWAY + SECURITY_PROXY
    head, bulk = planned[:SIMPLE_HEAD], planned[SIMPLE_HEAD:]

    with run_collector(vector_bin, render_vector_config(stack), dsn, tmp_path / "collector") as collector:
        endpoint = collector.endpoints.grpc if exporter == "grpc" else collector.endpoints.http
        # The Simple processor exports each record synchronously: with acknowledgements, `emit` returns once
        # the row is in the buffer table (about a second each: the sink's batch timeout).
        with OtelEmitter(endpoint, exporter, "simple") as simple:
            for index, record in enumerate(head, 1):
                simple.emit([record])
                assert br.count(dsn) == sum(r.accepted for r in head[:index]), "acknowledged before it was stored"
            simple_counts = simple.counts
        # The bulk as the Java agent sends it: a Batch processor (gzip-compressed on the timescaledb cases).
        with OtelEmitter(endpoint, exporter, "batch", gzip=flavor == "timescaledb") as batch:
            batch.emit(bulk)
            assert batch.flush(), "the SDK could not flush its records"
            batch_counts = batch.counts
        for counts, part in ((simple_counts, head), (batch_counts, bulk)):
            assert (counts.records, counts.failures, counts.dropped) == (len(part), 0, 0), counts
        # Acknowledged exports only: nothing is in flight now.
        assert br.count(dsn) == len(kept)
        # Vector's own counters (scraped each second): every record received, the unrelated ones filtered out.
        wanted = {"otlp": len(planned), "access_log_scopes": len(kept), "buffer_table": len(kept)}
        wait_for(lambda: _event_counters(collector) == wanted, 10, f"Vector's event counters to reach {wanted}")
    # What the SDK was given, unchanged: scope, body and every attribute.
    sent = Counter((r.scope, r.body, json.dumps(r.attributes, sort_keys=True)) for r in kept)
    assert Counter(br.buffer_contents(dsn)) == sent

    rows_file = tmp_path / "buffer-rows.jsonl"
    assert br.export_buffer(dsn, rows_file) == len(kept)
    dry = br.dry_run(document, rows_file)
    assert len(dry) == len(kept)
    assert [line for line in dry if "rejected" in line] == []
    expected = br.dry_run_records(dry)
    assert len(expected) == len(kept), "two accepted records were given the same id"

    summary = br.parse_job(dsn, stack)
    assert (summary.claimed, summary.written, summary.duplicates) == (len(kept), len(kept), 0)
    assert sum(summary.rejected.values()) == 0
    assert br.count(dsn) == 0
    stored = br.stored_records(dsn)
    assert stored.keys() == expected.keys()
    for record_id, expected_record in expected.items():
        assert stored[record_id] == expected_record, record_id
    sources = Counter(record["source"] for record in stored.values())
    assert sources == {"gateway": GATEWAY, "security-proxy": SECURITY_PROXY}
