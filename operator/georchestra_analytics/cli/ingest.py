"""`georchestra-analytics ingest FILE...`: load access-log files into the buffer table (backfill, tests)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from itertools import chain, islice

import click
import psycopg

from georchestra_analytics.cli.exits import EXIT_FAILURE
from georchestra_analytics.cli.stack_file import read_stack
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.parser.ingest import buffer_rows, detect_format, unreadable_input_row
from georchestra_analytics.parser.inputs import LineReader, source_name
from georchestra_analytics.stack import environment as env

_ROWS_PER_TRANSACTION = 20_000
log = logging.getLogger(__name__)


def _schema(stack_file: str | None, schema: str | None) -> str:
    if schema:
        return schema
    if stack_file is None:
        return "analytics"
    return read_stack(stack_file).spec.database.schema_name


def _ingest_file(conn: psycopg.Connection[object], schema: str, name: str, input_format: str) -> tuple[int, int]:
    """(rows into the buffer, unreadable inputs among them: a file that breaks off is one row more, which the
    parse job keeps as a reject; the buffer is all `ingest` may write, as the collector role)."""
    reader = LineReader(name)
    lines = iter(reader)
    first = next(lines, None)
    count = 0
    if first is not None:
        chosen = detect_format(first) if input_format == "auto" else input_format
        rows = buffer_rows(chain([first], lines), source_name(name), chosen)
        while chunk := list(islice(rows, _ROWS_PER_TRANSACTION)):
            # One transaction per chunk: an interrupted ingest can simply be run again (ids make it harmless).
            with conn.transaction():
                count += insert_buffer_rows(conn, schema, chunk)
    if reader.problem is None:
        return count, 0
    log.warning("%s: %s after %d lines; the lines before it are loaded", name, reader.problem, reader.lines)
    with conn.transaction():
        row = unreadable_input_row(source_name(name), reader.problem, reader.lines, datetime.now(UTC))
        return count + insert_buffer_rows(conn, schema, [row]), 1


@click.command("ingest")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["auto", "text", "json"]),
    default="auto",
    show_default=True,
    help="text: access-log lines (security-proxy, combined, common); json: one buffer row per line; "
    "auto: json when the first line is a JSON object.",
)
@click.option("--dsn", envvar=env.DSN, help=f"PostgreSQL connection string (default: ${env.DSN}).")
@click.option("-f", "--stack-file", type=click.Path(dir_okay=False), help="AnalyticsStack YAML (for the schema).")
@click.option("--schema", help="Schema of the buffer table (default: the stack's, else analytics).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def command(
    files: tuple[str, ...],
    input_format: str,
    dsn: str | None,
    stack_file: str | None,
    schema: str | None,
    as_json: bool,
) -> None:
    """Load FILE... (plain or gzip; `-` for stdin) into the buffer table; `parse` then classifies them.

    Record ids come from each file's name and content, so ingesting the same file again counts nothing twice.
    """
    if not dsn:
        raise click.UsageError(f"no database: give --dsn or set {env.DSN}")
    target = _schema(stack_file, schema)
    counts: dict[str, int] = {}
    rejected = 0
    try:
        with psycopg.connect(dsn, autocommit=True, application_name="georchestra-analytics ingest") as conn:
            for name in files:
                try:
                    counts[name], kept = _ingest_file(conn, target, name, input_format)
                    rejected += kept
                except OSError as error:
                    raise click.UsageError(f"cannot read {name}: {error.strerror or error}") from error
                log.info("%s: %d rows into %s.otel_buffer", name, counts[name], target)
    except psycopg.OperationalError as error:
        log.error("database unreachable: %s", str(error).strip())
        sys.exit(EXIT_FAILURE)
    if as_json:
        click.echo(json.dumps({"files": counts, "rows": sum(counts.values()), "rejected": rejected}))
    else:
        click.echo(
            f"{sum(counts.values())} rows from {len(counts)} files into {target}.otel_buffer"
            + (f", {rejected} of them unreadable inputs (`parse` keeps them as rejects)" if rejected else "")
        )
