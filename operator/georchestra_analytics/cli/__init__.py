"""The `georchestra-analytics` command. Each command group lives in its own module of this package."""

from __future__ import annotations

import logging
import sys

import click

from georchestra_analytics import __version__
from georchestra_analytics.cli.logs import configure_logging
from georchestra_analytics.stack import environment as env


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "-V", "--version", prog_name="georchestra-analytics")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    envvar=env.LOG_LEVEL,
    help="Verbosity of the logs written to stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    envvar=env.LOG_FORMAT,
    help="json writes one JSON object per log line, for log collectors.",
)
def cli(log_level: str, log_format: str) -> None:
    """Usage analytics for geOrchestra: access logs in, classified records, aggregates and dashboards out."""
    configure_logging(getattr(logging, log_level.upper()), json_lines=log_format == "json")


def main() -> None:
    try:
        cli(prog_name="georchestra-analytics")
    except KeyboardInterrupt:
        sys.exit(130)


# Command registration: one module per command or command group, each exposing `command` (exit codes shared
# by every command are in cli/exits.py).
from georchestra_analytics.cli import (  # noqa: E402
    crd,
    db,
    demo,
    ingest,
    operator,
    parse,
    render,
    superset,
)

for _module in (operator, render, crd, db, ingest, parse, superset, demo):
    cli.add_command(_module.command)
