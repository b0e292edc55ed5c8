"""Unreadable input through the real `ingest` and parse job (postgresql flavor): bad lines are loaded and kept
as rejects, the rest as records; re-ingesting keeps each reject once; a file that breaks off loads what it
holds; timestamps Python cannot hold never block a claim; far-apart dates create their months only."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from tests.db.parser.hostile import invoke
from tests.support.accesslogs import combined_line, gateway_row
from tests.support.role_logins import migrated_with_roles

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.partitions import list_partitions
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "analytics"


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table))).fetchone()
    assert row is not None
    return int(row[0])


def _json_lines() -> list[str]:
    good = [json.dumps(gateway_row(f"/geoserver/wms?request=GetMap&layers=a:b&n={n}"), default=str) for n in range(3)]
    bad_time = gateway_row("/geoserver/wms?request=GetMap&layers=a:b&n=bad")
    bad_time["timestamp"] = "0"
    del bad_time["observed_timestamp"]
    return [
        good[0],
        json.dumps(bad_time, default=str),
        json.dumps({**json.loads(good[1]), "timestamp": 0}),  # epoch 0: a date, but outside the window
        '{"attributes": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"message": "lone \\ud800"}',
        '{"truncated": ',
        json.dumps({**json.loads(good[2]), "severity_number": "high", "flags": 2**40}),
    ]


def test_ingest_keeps_bad_lines_as_rejects_and_reingest_never_doubles_them(analytics_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(_json_lines()) + "\n", encoding="utf-8")
    loaded = json.loads(invoke("ingest", "--dsn", analytics_dsn, "--format", "json", "--json", str(path)))
    assert loaded["rows"] == 7
    first = json.loads(invoke("parse", "--dsn", analytics_dsn, "--json"))
    assert (first["claimed"], first["written"], first["rejected"]) == (7, 2, 5)
    assert first["rejected_by_reason"] == {
        "missing or bad timestamp": 1, "timestamp outside the accepted window": 1,
        "malformed or truncated access-log line": 3,
    }  # fmt: skip
    assert _count(analytics_dsn, "rejected_logs") == 5
    invoke("ingest", "--dsn", analytics_dsn, "--format", "json", str(path))
    second = json.loads(invoke("parse", "--dsn", analytics_dsn, "--json"))
    # Records and rejects alike are already stored: duplicates, nothing new.
    assert (second["claimed"], second["written"], second["rejected"], second["duplicates"]) == (7, 0, 0, 7)
    assert (_count(analytics_dsn, "access_logs"), _count(analytics_dsn, "rejected_logs")) == (2, 5)


def test_a_truncated_gzip_loads_its_lines_and_keeps_one_reject(pg_dsn: str, tmp_path: Path) -> None:
    """Loaded as the collector role (as docs/backfill.md says), parsed as the parser role: the break is a
    buffer row like the others, which the parse job keeps as a reject, once however often the file comes."""
    schema = "usage_truncated"
    role_dsn = migrated_with_roles(pg_dsn, DatabaseSettings(schema=schema, flavor="postgresql"))
    lines = [combined_line(f"/geoserver/wms?request=GetMap&layers=a&n={n}") for n in range(3000)]
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    broken = tmp_path / "access.log.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    for _ in range(2):
        result = json.loads(invoke("ingest", "--dsn", role_dsn("collector"), "--schema", schema, "--json", str(broken)))
        assert 0 < result["rows"] < len(lines) and result["rejected"] == 1
        run_worker(role_dsn("parser"), ParserSettings(schema=schema))
    with psycopg.connect(pg_dsn) as conn:
        table = sql.Identifier(schema, "rejected_logs")
        reasons = dict(conn.execute(sql.SQL("SELECT reason, count(*) FROM {} GROUP BY 1").format(table)).fetchall())
        records = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "access_logs")))
        stored = records.fetchone()
    assert reasons.pop("unreadable input: truncated or corrupt compressed file (EOFError)") == 1
    assert sum(reasons.values()) <= 1  # the line the break cut, if it cut one
    assert stored is not None and stored[0] >= result["rows"] - 2


def test_buffer_timestamps_python_cannot_hold_are_rejects_not_a_failed_claim(analytics_dsn: str) -> None:
    with psycopg.connect(analytics_dsn) as conn:
        insert_buffer_rows(conn, SCHEMA, [gateway_row("/geoserver/wms?request=GetMap&layers=a&n=1")])
        for when in ("20000-01-01 00:00:00+00", "4713-01-01 00:00:00+00 BC", "0001-01-01 00:00:00+00"):
            conn.execute(
                "INSERT INTO analytics.otel_buffer (timestamp, observed_timestamp, attributes, scope)"
                " SELECT %s::timestamptz, %s::timestamptz, attributes, scope FROM analytics.otel_buffer LIMIT 1",
                (when, when),
            )
        conn.commit()
    summary = run_worker(analytics_dsn, ParserSettings())
    # Year 1 is a date Python holds (read from its text), but no access log's: outside the window.
    assert (summary.claimed, summary.written) == (4, 1)
    assert dict(summary.rejected) == {"missing or bad timestamp": 2, "timestamp outside the accepted window": 1}
    assert _count(analytics_dsn, "otel_buffer") == 0


def test_far_apart_dates_create_only_their_own_partitions(analytics_dsn: str) -> None:
    with psycopg.connect(analytics_dsn) as conn:
        before = {partition.name for partition in list_partitions(conn, SCHEMA)}
        rows = [
            gateway_row("/geoserver/wms?request=GetMap&layers=a&n=1", ts=datetime(1990, 3, 1, tzinfo=UTC)),
            gateway_row("/geoserver/wms?request=GetMap&layers=a&n=2", ts=datetime(2001, 1, 1, tzinfo=UTC)),
            gateway_row("/geoserver/wms?request=GetMap&layers=a&n=3", ts=datetime(2026, 11, 27, tzinfo=UTC)),
        ]
        insert_buffer_rows(conn, SCHEMA, rows)
        conn.commit()
    summary = run_worker(analytics_dsn, ParserSettings())
    assert summary.written == 3
    with psycopg.connect(analytics_dsn) as conn:
        created = {partition.name for partition in list_partitions(conn, SCHEMA)} - before
    # Weekly partitions (the default interval), named after their Monday.
    weeks = {f"{table}_p{week}" for table in ("access_logs", "access_log_layers") for week in ("19900226", "20010101")}
    # The weeks of the records (2026-11-23 may exist already, made ahead by the migration), none in between.
    assert weeks <= created <= weeks | {"access_logs_p20261123", "access_log_layers_p20261123"}


def test_the_window_rejects_dates_outside_it_before_any_partition(analytics_dsn: str) -> None:
    with psycopg.connect(analytics_dsn) as conn:
        before = len(list_partitions(conn, SCHEMA))
        insert_buffer_rows(
            conn, SCHEMA, [gateway_row("/geoserver/wms?request=GetMap&layers=a", ts=datetime(2001, 1, 1, tzinfo=UTC))]
        )
        conn.commit()
    summary = run_worker(analytics_dsn, ParserSettings(max_age=timedelta(days=365), max_future=timedelta(days=1)))
    assert dict(summary.rejected) == {"timestamp outside the accepted window": 1}
    with psycopg.connect(analytics_dsn) as conn:
        assert len(list_partitions(conn, SCHEMA)) == before
