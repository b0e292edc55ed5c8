"""From the buffer table to records, the way an operator checks it: count the buffer, export its rows as JSON
lines with psql, run `parse --dry-run` on them, run the parse job, read `access_logs` back as the dry-run prints
records.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import yaml
from click.testing import CliRunner
from psycopg.rows import dict_row

from georchestra_analytics.cli import cli
from georchestra_analytics.db.embedded import EmbeddedPostgresError, find_bindir
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.job import RunSummary, run_worker
from georchestra_analytics.parser.record import RECORD_KEYS
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.stack import AnalyticsStack, parse_stack
from tests.support.vector import stack_document

SCHEMA = "analytics"


def analytics_stack(flavor: str, collector: dict[str, Any] | None = None) -> tuple[AnalyticsStack, dict[str, Any]]:
    """A stack of the given database flavor and `spec.collector`, and its manifest (for `-f stack.yaml`)."""
    document = stack_document(collector)
    document["spec"]["database"]["flavor"] = flavor
    return parse_stack(document), document


def prepare(dsn: str, stack: AnalyticsStack) -> None:
    migrate(dsn, DatabaseSettings.from_stack(stack))


def count(dsn: str, table: str = "otel_buffer") -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}".encode()).fetchone()
    assert row is not None
    return int(row[0])


def buffer_contents(dsn: str) -> list[tuple[str, str, str]]:
    """(scope name, message, attributes as sorted JSON) of each buffer row."""
    query = f"SELECT scope->>'name', message, attributes FROM {SCHEMA}.otel_buffer"
    with psycopg.connect(dsn) as conn:
        return [(scope, message, json.dumps(attributes or {}, sort_keys=True)) for scope, message, attributes in
                conn.execute(query.encode())]  # fmt: skip


def _psql() -> str:
    try:
        bundled = find_bindir() / "psql"
    except EmbeddedPostgresError:
        bundled = None
    if bundled is not None and bundled.exists():
        return str(bundled)
    found = shutil.which("psql")
    if found is None:
        raise AssertionError("psql not found: the buffer export uses it as an operator would")
    return found


def export_buffer(dsn: str, target: Path) -> int:
    """`psql -At -c 'SELECT row_to_json(b) FROM analytics.otel_buffer b'` into `target`: the dry-run's input."""
    query = f"SELECT row_to_json(b) FROM {SCHEMA}.otel_buffer b"
    with target.open("w", encoding="utf-8") as out:
        subprocess.run([_psql(), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", query, dsn], stdout=out, check=True)
    return sum(1 for _ in target.open(encoding="utf-8"))


def dry_run(document: dict[str, Any], rows_file: Path) -> list[dict[str, Any]]:
    """`georchestra-analytics parse --dry-run --format otel -f stack.yaml ROWS`: one JSON object per line."""
    stack_file = rows_file.with_name("stack.yaml")
    stack_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["parse", "--dry-run", "--format", "otel", "-f", str(stack_file), str(rows_file)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def parse_job(dsn: str, stack: AnalyticsStack) -> RunSummary:
    return run_worker(dsn, ParserSettings.from_stack(stack))


def _as_json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return str(value.ip)
    return value


def stored_records(dsn: str) -> dict[str, dict[str, Any]]:
    """`access_logs` by id, each row's record keys as the dry-run prints them."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(f"SELECT * FROM {SCHEMA}.access_logs".encode()).fetchall()
    stored: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row["id"] not in stored, f"record {row['id']} stored twice"
        stored[row["id"]] = {key: _as_json(row[key]) for key in RECORD_KEYS}
    return stored


def dry_run_records(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The dry-run's records by id (rejects left out), each with the record keys only."""
    records: dict[str, dict[str, Any]] = {}
    for line in lines:
        if "rejected" in line:
            continue
        records.setdefault(line["id"], {key: line[key] for key in RECORD_KEYS})
    return records
