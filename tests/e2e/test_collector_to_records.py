"""The collector's programs at the VRL level: the complement of the real-collector tests.

test_real_collector_otlp.py and test_collector_faults.py run the rendered configuration in the real Vector
binary (network, batching, retries, acknowledgements, buffers). This module pins down what those cannot reach
one event at a time: from one AnalyticsStack, the Vector configuration is rendered; its VRL programs (taken from
the rendered file, after Vector's environment interpolation) run in the real VRL compiler on hand-made events,
hostile values included; the rows they produce are inserted into the real buffer table exactly as Vector's
postgres sink inserts them (`INSERT INTO <table> SELECT * FROM jsonb_populate_recordset(NULL::<table>, $1)`, the
table name from the rendered file, the rows as one jsonb array); then the real parse job runs and the records
are looked for in access_logs.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from tests.support.vector import (
    BUFFER_COLUMNS,
    NGINX_COMBINED_LINE,
    SECURITY_PROXY_LINE,
    gateway_event,
    load_config,
    run_condition,
    run_remap,
    sink_json,
    stack_document,
    transform_sources,
)

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.render.vector import BUFFER_DSN_ENV, render_vector_config
from georchestra_analytics.stack import AnalyticsStack, parse_stack

SCHEMA = "analytics"
READ_AT = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


class Collector:
    """The rendered configuration's programs, applied the way its graph routes events."""

    def __init__(self, stack: AnalyticsStack) -> None:
        config = load_config(render_vector_config(stack), {BUFFER_DSN_ENV: "postgresql://unused"})
        self.table: str = config["sinks"]["buffer_table"]["table"]
        self.programs = transform_sources(config)
        assert config["transforms"]["buffer_rows"]["inputs"] == ["access_log_scopes", "syslog_lines", "file_lines"]

    def otlp(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """otlp.logs -> access_log_scopes -> buffer_rows; None when the filter drops the event."""
        if not run_condition(self.programs["access_log_scopes"], event):
            return None
        return sink_json(run_remap(self.programs["buffer_rows"], event))

    def accepted(self, event: dict[str, Any]) -> dict[str, Any]:
        """The buffer row of an access-log event (which the filter must keep)."""
        row = self.otlp(event)
        assert row is not None, "the scope filter dropped an access log"
        return row

    def text(self, transform: str, event: dict[str, Any]) -> dict[str, Any]:
        """access_log_syslog|access_log_files -> syslog_lines|file_lines -> buffer_rows."""
        shaped = run_remap(self.programs[transform], event).event
        return sink_json(run_remap(self.programs["buffer_rows"], shaped))

    def sink(self, dsn: str, rows: list[dict[str, Any]]) -> None:
        """One batch, as Vector's postgres sink writes it (the table name interpolated as is)."""
        query = f"INSERT INTO {self.table} SELECT * FROM jsonb_populate_recordset(NULL::{self.table}, %s)"
        with psycopg.connect(dsn) as conn:
            conn.execute(query.encode(), [Jsonb(rows)])


@pytest.fixture
def stack() -> AnalyticsStack:
    document = stack_document(
        {
            "replicas": 1,
            "syslog": {"port": 5140, "delivery": "atMostOnce"},
            "files": {"claimName": "logs", "paths": ["*.log"]},
        }
    )
    document["spec"]["database"]["flavor"] = "postgresql"
    return parse_stack(document)


@pytest.fixture
def database(pg_dsn: str, stack: AnalyticsStack) -> str:
    migrate(pg_dsn, DatabaseSettings.from_stack(stack))
    return pg_dsn


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}".encode()).fetchone()
    assert row is not None
    return int(row[0])


def records(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(f"SELECT * FROM {SCHEMA}.access_logs ORDER BY ts, id".encode()).fetchall()


def parse(dsn: str, stack: AnalyticsStack) -> Any:
    return run_worker(dsn, ParserSettings.from_stack(stack))


def test_the_buffer_table_has_the_columns_the_collector_writes(database: str) -> None:
    with psycopg.connect(database) as conn:
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                [SCHEMA, "otel_buffer"],
            )
        }
    assert columns == BUFFER_COLUMNS


def test_access_logs_from_every_source_become_records(database: str, stack: AnalyticsStack) -> None:
    collector = Collector(stack)
    get_map = gateway_event()
    anonymous_capabilities = gateway_event(
        message="GET 200 https://georchestra.example.org/geoserver/wfs?SERVICE=WFS&REQUEST=GetCapabilities",
        attributes={
            "http.request.method": "GET",
            "http.status_code": "200",
            "http.request.url": "https://georchestra.example.org/geoserver/wfs?SERVICE=WFS&REQUEST=GetCapabilities",
        },
        timestamp=dt.datetime(2026, 11, 27, 9, 31, tzinfo=dt.UTC),
    )
    security_proxy_otlp = gateway_event(
        message=SECURITY_PROXY_LINE,
        attributes={},
        scope={"name": "org.georchestra.security.accesslog"},
        resources={"service.name": "security-proxy"},
    )
    application_log = gateway_event(
        message="Started GeorchestraGatewayApplication in 12.3 seconds",
        attributes={},
        scope={"name": "org.georchestra.gateway.app.GeorchestraGatewayApplication"},
    )

    rows = [
        row
        for row in (
            collector.otlp(get_map),
            collector.otlp(anonymous_capabilities),
            collector.otlp(security_proxy_otlp),
            collector.otlp(application_log),
        )
        if row is not None
    ]
    assert len(rows) == 3  # the application's own log is filtered out at the collector
    rows.append(
        collector.text(
            "syslog_lines",
            {"message": NGINX_COMBINED_LINE, "appname": "nginx", "hostname": "web-1", "timestamp": READ_AT},
        )
    )
    rows.append(
        collector.text(
            "file_lines",
            {"message": SECURITY_PROXY_LINE, "file": "/var/log/access/proxy.log", "offset": 0, "timestamp": READ_AT},
        )
    )
    assert all(set(row) == BUFFER_COLUMNS for row in rows)

    collector.sink(database, rows)
    assert count(database, "otel_buffer") == len(rows)

    summary = parse(database, stack)
    assert summary.claimed == len(rows)
    assert summary.written + sum(summary.rejected.values()) + summary.duplicates == len(rows)
    assert count(database, "otel_buffer") == 0
    stored = records(database)
    rejected = count(database, "rejected_logs")
    assert len(stored) + rejected + summary.duplicates == len(rows), "a row went missing between buffer and records"
    assert rejected == 0, "every access log here is a valid one"

    by_source = {record["source"] for record in stored}
    assert "gateway" in by_source
    gateway = [record for record in stored if record["user"] == get_map["attributes"]["enduser.id"]]
    assert len(gateway) == 1
    assert gateway[0]["org"] == get_map["attributes"]["enduser.org.id"]
    assert gateway[0]["service"] == "WMS"
    assert gateway[0]["request"] == "getmap"
    assert "topp:states" in gateway[0]["layers"]
    assert gateway[0]["ts"] == get_map["timestamp"]
    anonymous = [record for record in stored if record["service"] == "WFS"]
    assert len(anonymous) == 1 and anonymous[0]["user"] is None
    # The security-proxy line came twice (over OTLP and from a file): two requests as far as the buffer knows.
    proxy = [record for record in stored if record["user"] == "testuser"]
    assert len(proxy) == 2
    assert all(record["request"] == "getcapabilities" for record in proxy)
    nginx = [record for record in stored if record["request"] == "gettile"]
    assert len(nginx) == 1
    assert nginx[0]["ts"] == dt.datetime(2026, 11, 27, 9, 15, 44, tzinfo=dt.UTC)  # from the line, not read time


def test_rows_that_would_fail_a_batch_are_stored_and_parsed(database: str, stack: AnalyticsStack) -> None:
    # Without buffer_row.vrl, each of these would make PostgreSQL refuse the whole batch (\u0000 in jsonb, an
    # unsigned 32-bit flags value in an int, a year PostgreSQL cannot read), and Vector does not retry that.
    collector = Collector(stack)
    hostile = gateway_event(
        attributes={**gateway_event()["attributes"], "http.request.parameter.LAYERS": "topp:states\x00"},
        flags=2**32 - 1,
        dropped_attributes_count=2**40,
        timestamp="+10000-01-01T00:00:00Z",
    )
    row = collector.accepted(hostile)
    with pytest.raises(psycopg.errors.DataError):
        # The same rows, unshaped, as a sink without buffer_row.vrl would send them: the batch fails.
        collector.sink(database, [dict(row, flags=2**32 - 1), dict(row, message="GET 200 \x00")])
    assert count(database, "otel_buffer") == 0

    collector.sink(database, [row, collector.accepted(gateway_event(timestamp=READ_AT))])
    summary = parse(database, stack)
    assert summary.claimed == 2
    assert count(database, "otel_buffer") == 0
    assert len(records(database)) + count(database, "rejected_logs") == 2


def test_a_percent_encoded_nul_in_the_url_does_not_stop_the_parse_job(database: str, stack: AnalyticsStack) -> None:
    collector = Collector(stack)
    url = "https://georchestra.example.org/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp%3Astates%00"
    attributes = {**gateway_event()["attributes"], "http.request.url": url}
    collector.sink(database, [collector.accepted(gateway_event(message="GET 200 " + url, attributes=attributes))])
    parse(database, stack)
    assert count(database, "otel_buffer") == 0
    assert len(records(database)) + count(database, "rejected_logs") == 1


def test_a_line_read_again_counts_once_and_identical_requests_count_twice(database: str, stack: AnalyticsStack) -> None:
    collector = Collector(stack)

    def file_line(offset: int) -> dict[str, Any]:
        event = {"message": NGINX_COMBINED_LINE, "file": "/var/log/access/nginx.log", "offset": offset}
        return collector.text("file_lines", {**event, "timestamp": READ_AT})

    # The same tile twice in one second (two lines), then Vector reads the first line again after a restart.
    collector.sink(database, [file_line(0), file_line(len(NGINX_COMBINED_LINE) + 1)])
    first = parse(database, stack)
    collector.sink(database, [file_line(0)])
    replay = parse(database, stack)

    assert first.written == 2
    assert replay.written == 0 and replay.duplicates == 1
    assert len(records(database)) == 2


def test_a_batch_is_one_jsonb_parameter_like_the_sinks(database: str, stack: AnalyticsStack) -> None:
    # The rows round-trip through JSON text exactly as serde_json would send them (no Python-only types left).
    collector = Collector(stack)
    rows = [collector.accepted(gateway_event(timestamp=READ_AT + dt.timedelta(seconds=second))) for second in range(50)]
    wire = json.loads(json.dumps(rows))
    collector.sink(database, wire)
    assert count(database, "otel_buffer") == 50
    assert parse(database, stack).written == 50
