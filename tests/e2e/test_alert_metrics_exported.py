"""Every metric the chart's alerts select is one somebody exports: an alert on a metric nobody emits never fires.

The names are read from the committed golden rule (tests/helm/golden/prometheusrule/defaults.yaml, which the helm
tier keeps equal to `helm template`). The collector's are scraped from the real Vector running the rendered
configuration, with the sink label the rule selects (`component_id="buffer_table"`): Vector creates a metric
when it first has something to count, so the scenario makes each happen, records written, then a batch the
database refuses (the buffer table renamed away: not retried, counted as an error, its events dropped); a
memory and a disk buffer. The operator's are scraped from its `/metrics` server, served by prometheus_client as
`georchestra-analytics operator` serves it, after the parse metrics observed statuses of a stack.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import psycopg
from prometheus_client.parser import text_string_to_metric_families
from tests.support import alert_rules
from tests.support import buffer_records as br
from tests.support.collector import RunningCollector, run_collector, wait_for
from tests.support.otel_emitter import OtelEmitter, plan_records
from tests.support.vector_binary import VectorBinary

from georchestra_analytics.controller import metrics
from georchestra_analytics.db.embedded import free_port
from georchestra_analytics.render.vector import render_vector_config

SINK = 'component_id="buffer_table"'


def _rule_metrics() -> tuple[set[str], set[str]]:
    names = alert_rules.all_metric_names(alert_rules.golden_groups("defaults"))
    operator = {name for name in names if name.startswith(alert_rules.OPERATOR_PREFIX)}
    collector = {name for name in names if name.startswith(alert_rules.COLLECTOR_PREFIX)}
    assert operator and collector and operator | collector == names, names
    return operator, collector


def _sink_metric_names(collector: RunningCollector) -> set[str]:
    """Names of the series Vector exports for the buffer_table sink."""
    return {key.split("{", 1)[0] for key in collector.metrics() if SINK in key}


def _send(collector: RunningCollector, seed: int, count: int) -> None:
    with OtelEmitter(collector.endpoints.http, "http", "simple", timeout=5.0) as emitter:
        emitter.emit(plan_records(seed, gateway=count, security_proxy=0, app=0))


def test_every_metric_the_alerts_select_is_exported(vector_bin: VectorBinary, pg_dsn: str, tmp_path: Path) -> None:
    operator_names, collector_names = _rule_metrics()
    exported: set[str] = set()

    stack, _ = br.analytics_stack("postgresql")
    br.prepare(pg_dsn, stack)
    with run_collector(vector_bin, render_vector_config(stack), pg_dsn, tmp_path / "memory") as collector:
        _send(collector, 1, 5)
        wait_for(lambda: collector.metric("vector_component_sent_events_total", component_id="buffer_table") == 5,
                 30, "the first records to be written")  # fmt: skip
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {br.SCHEMA}.otel_buffer RENAME TO otel_buffer_away".encode())
        _send(collector, 2, 5)  # answered with an error: the batch is refused
        wait_for(lambda: collector.metric("vector_component_errors_total", component_id="buffer_table") > 0,
                 30, "the refused batch to be counted")  # fmt: skip
        exported |= _sink_metric_names(collector)
    assert br.count(pg_dsn, "otel_buffer_away") == 5

    disk_stack, _ = br.analytics_stack("postgresql", {"buffer": {"type": "disk", "maxSize": 268435488}})
    with run_collector(vector_bin, render_vector_config(disk_stack), pg_dsn, tmp_path / "disk") as collector:
        wait_for(lambda: "vector_buffer_max_size_bytes" in _sink_metric_names(collector), 30, "the disk buffer")
        exported |= _sink_metric_names(collector)

    missing = collector_names - exported
    assert not missing, f"the alerts select collector metrics Vector does not export: {sorted(missing)}"

    # The operator: a stack reconciled before and after two parse runs, a success then a failure.
    for minute, succeeded in ((None, True), (5, True), (10, False)):
        status: dict[str, object] = {"phase": "Ready"}
        if minute is not None:
            status["lastParse"] = {
                "jobName": f"analytics-parse-{minute}",
                "time": f"2026-01-01T10:{minute:02d}:00Z",
                "succeeded": succeeded,
                "claimed": 100,
                "rejected": 3,
                "oldestBufferedAgeSeconds": 12,
            }
        metrics.observe_stack("geo", "alert-metrics", status)
    port = free_port()
    metrics.serve(port, "127.0.0.1")
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                text = answer.read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    served = {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("stack") == "alert-metrics"
    }
    missing = operator_names - served
    assert not missing, f"the alerts select operator metrics its /metrics does not serve: {sorted(missing)}"
    assert re.search(r'georchestra_analytics_parse_runs_total\{[^}]*outcome="failed"[^}]*\} 1\.0', text)
