"""The hostile corpus through the real `ingest` and `parse` commands, on either flavor: what the tests of both
tiers check and print."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import psycopg
from psycopg import sql
from tests.db.parser.hostile import invoke
from tests.db.parser.hostile_corpus import corpus

from georchestra_analytics.db.aggregates import storage_name

SCHEMA = "analytics"
LINES_PER_FORMAT = 10_000
SEED = 19
# Far above the few hundred microseconds a line takes, far below the seconds of a quadratic path.
MAX_SECONDS_PER_ROW = 0.01


def _scalar(conn: psycopg.Connection[tuple[int]], query: sql.Composable) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def run_hostile_corpus(dsn: str, tmp_path: Path, flavor: str) -> None:
    files = {"text": tmp_path / "hostile.log", "json": tmp_path / "hostile.jsonl"}
    for kind, path in files.items():
        path.write_bytes(corpus(kind, LINES_PER_FORMAT, SEED))
    started = time.perf_counter()
    rows = {kind: json.loads(invoke("ingest", "--dsn", dsn, "--format", kind, "--json", str(path)))["rows"]
            for kind, path in files.items()}  # fmt: skip
    ingested = time.perf_counter()
    summary = json.loads(invoke("parse", "--dsn", dsn, "--json"))
    parsed = time.perf_counter()
    total = sum(rows.values())
    with psycopg.connect(dsn) as conn:
        left = _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "otel_buffer")))
        records = _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "access_logs")))
        rejects = Counter(
            dict(
                conn.execute(
                    sql.SQL("SELECT reason, count(*) FROM {} GROUP BY 1").format(
                        sql.Identifier(SCHEMA, "rejected_logs")
                    )
                ).fetchall()
            )
        )
        if flavor == "timescaledb":
            # Only what the run's refresh materialised, not the real-time union over raw rows.
            view = sql.Identifier(SCHEMA, storage_name("usage", "hourly"))
            conn.execute(sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(view))
        aggregated = _scalar(
            conn,
            sql.SQL("SELECT coalesce(sum(requests), 0) FROM {}").format(
                sql.Identifier(SCHEMA, storage_name("usage", "hourly"))
            ),
        )
    per_row = (parsed - ingested) / total
    print(
        f"\nhostile corpus ({flavor}): {rows['text']} text + {rows['json']} JSON rows in; {records} records, "
        f"{sum(rejects.values())} rejects, {summary['duplicates']} duplicates; ingest {ingested - started:.1f} s, "
        f"parse {parsed - ingested:.1f} s ({per_row * 1000:.2f} ms a row)"
    )
    for reason, count in rejects.most_common():
        print(f"  {count:6d}  {reason}")
    assert rows["text"] >= LINES_PER_FORMAT * 0.99 and rows["json"] == LINES_PER_FORMAT  # blank lines aside
    assert left == 0
    assert summary["claimed"] == total
    assert total == records + sum(rejects.values()) + summary["duplicates"]
    assert (summary["written"], summary["rejected"]) == (records, sum(rejects.values()))
    assert not [reason for reason in rejects if reason.startswith(("internal error", "unstorable"))]
    assert aggregated == records  # every record counted once in the aggregates, which refreshed
    if flavor == "timescaledb":
        assert summary["aggregates_refreshed"] is True
    assert per_row < MAX_SECONDS_PER_ROW


def reingest_hostile_corpus(dsn: str, tmp_path: Path) -> None:
    """After run_hostile_corpus: the same files again store nothing new, rejects included."""
    before = _stored_counts(dsn)
    for kind, name in (("text", "hostile.log"), ("json", "hostile.jsonl")):
        invoke("ingest", "--dsn", dsn, "--format", kind, str(tmp_path / name))
    summary = json.loads(invoke("parse", "--dsn", dsn, "--json"))
    assert (summary["written"], summary["rejected"]) == (0, 0)
    assert summary["duplicates"] == summary["claimed"] > 0
    assert _stored_counts(dsn) == before


def _stored_counts(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn) as conn:
        return tuple(  # type: ignore[return-value]
            _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, table)))
            for table in ("access_logs", "rejected_logs", "otel_buffer")
        )
