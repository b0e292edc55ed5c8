"""`georchestra-analytics parse`: drain the buffer into classified records, or `--dry-run` on a file."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from georchestra_analytics.cli.exits import Refused
from georchestra_analytics.cli.stack_file import read_stack
from georchestra_analytics.parser.dryrun import dry_run
from georchestra_analytics.parser.inputs import LineReader, source_name
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.report import ParseReport
from georchestra_analytics.parser.settings import ParserSettings, SettingsError
from georchestra_analytics.stack import environment

EXIT_FAILURE = 1  # a system fault (the shared meaning of georchestra_analytics.cli.EXIT_FAILURE)
log = logging.getLogger(__name__)


def load_settings(stack_file: str | None) -> ParserSettings:
    """Parser settings from the stack file, else the defaults."""
    if stack_file is None:
        return ParserSettings()
    stack = read_stack(stack_file)
    try:
        return ParserSettings.from_stack(stack)
    except ValueError as error:
        raise Refused(f"{stack_file}: {error}") from None


def _dry_run(settings: ParserSettings, input_format: str, file: str, source: str | None) -> None:
    try:
        pipeline = Pipeline(settings)
        reader = LineReader(file)
        counts = dry_run(pipeline, reader, input_format, source or source_name(file), sys.stdout)
        if reader.problem is not None:  # the file broke off: a reject, as `ingest` keeps it
            counts[reader.problem] += 1
            click.echo(json.dumps({"rejected": reader.problem}))
    except SettingsError as error:
        raise click.UsageError(str(error)) from error
    except OSError as error:
        raise click.UsageError(f"cannot read {file}: {error.strerror or error}") from error
    written = counts.pop("written", 0)
    click.echo(f"{written} records, {sum(counts.values())} rejected", err=True)


def _database_run(
    settings: ParserSettings,
    dsn: str | None,
    workers: int,
    as_json: bool,
    termination_log: str | None,
) -> None:
    from georchestra_analytics.parser.job import JobFault, run_workers

    if not dsn:
        raise click.UsageError("no database: give --dsn or set ANALYTICS_DSN (or use --dry-run)")
    try:
        summary = run_workers(dsn, settings, workers)
    except SettingsError as error:  # e.g. an unreadable MaxMind file: the status must say so too
        if termination_log:
            Path(termination_log).write_text(ParseReport.failed(str(error)).dumps(), encoding="utf-8")
        raise Refused(str(error)) from None
    except JobFault as error:
        log.error("parse run failed: %s", error)
        if termination_log:
            Path(termination_log).write_text(ParseReport.failed(str(error)).dumps(), encoding="utf-8")
        sys.exit(EXIT_FAILURE)
    report = summary.report()
    if termination_log:
        Path(termination_log).write_text(report.dumps(), encoding="utf-8")
    if as_json:
        click.echo(report.dumps())
    else:
        click.echo(summary.describe())


@click.command("parse")
@click.option("--dry-run", "dry_run_mode", is_flag=True, help="Classify FILE and print JSON lines; no database.")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["otel", "clf"]),
    default="otel",
    show_default=True,
    help="Dry-run input: otel = one buffer row as a JSON object per line; clf = text access-log lines "
    "(security-proxy, nginx/Apache combined or common).",
)
@click.argument("file", required=False, default="-")
@click.option("--source", help="Dry-run of text lines: the source name in record ids (default: FILE's name).")
@click.option("--dsn", envvar=environment.DSN, help="PostgreSQL connection string (default: $ANALYTICS_DSN).")
@click.option("-f", "--stack-file", type=click.Path(dir_okay=False), help="AnalyticsStack YAML: parser settings.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows claimed per transaction (default: stack's).")
@click.option("--max-batches", type=click.IntRange(min=0), help="Batches per worker; 0 drains (default: stack's).")
@click.option("--workers", type=click.IntRange(min=1, max=16), help="Parallel workers (default: stack's).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object.")
@click.option(
    "--termination-log",
    type=click.Path(dir_okay=False),
    help="Also write the summary as JSON to this path (Kubernetes terminationMessagePath).",
)
def command(
    dry_run_mode: bool,
    input_format: str,
    file: str,
    source: str | None,
    dsn: str | None,
    stack_file: str | None,
    batch_size: int | None,
    max_batches: int | None,
    workers: int | None,
    as_json: bool,
    termination_log: str | None,
) -> None:
    """Classify access logs.

    With --dry-run, read FILE (`-` for stdin; gzip accepted) and print one JSON line per input line: a record,
    or {"rejected": "<reason>"}, in input order. Without it, drain the buffer table at --dsn: claim a batch,
    classify, write records and rejects, delete the claimed rows, commit; repeat. Bad records never fail the
    run: they are kept in rejected_logs. The exit code is 1 only for system faults (database unreachable).
    """
    settings = load_settings(stack_file)
    if dry_run_mode:
        _dry_run(settings, input_format, file, source)
        return
    overrides = {
        key: value for key, value in (("batch_size", batch_size), ("max_batches", max_batches)) if value is not None
    }
    if overrides:
        settings = settings.replace(**overrides)
    _database_run(settings, dsn, workers or settings.workers, as_json, termination_log)
