"""The demo, step by step: a throwaway PostgreSQL, the schema, a week of sample logs, the parse job, the report.

Every step is the code production runs (`db migrate`, `ingest`, `parse`); only the server is a local throwaway
one. Each step is a function of a DSN, so tests run them against their own database.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.embedded import OWNER_FILE, UNPRIVILEGED_USER, EmbeddedPostgres
from georchestra_analytics.db.flavor import FlavorError
from georchestra_analytics.db.migrate import MigrationReport, migrate
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.settings import DatabaseSettings, Flavor
from georchestra_analytics.demo.report import UsageReport, build_report
from georchestra_analytics.demo.sample import Sample, platform
from georchestra_analytics.parser.job import BatchResult, RunSummary, run_worker
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.stack.parsing import ParserSpec

log = logging.getLogger(__name__)

DEMO_DATABASE = "georchestra_analytics_demo"
SCHEMA = "analytics"
_ROWS_PER_TRANSACTION = 20_000

# Called after each parse batch with the number of buffer rows it consumed.
Progress = Callable[[int], None]


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


def migrate_schema(dsn: str, flavor: Flavor, schema: str = SCHEMA) -> MigrationReport:
    """`db migrate` with the demo's settings (UTC buckets)."""
    return migrate(dsn, DatabaseSettings(schema=schema, flavor=flavor, time_zone="UTC"))


def migrate_best_flavor(dsn: str, timescaledb_expected: bool, schema: str = SCHEMA) -> MigrationReport:
    """timescaledb when the server can run it, else postgresql: the dashboards' views are the same on both."""
    if timescaledb_expected:
        try:
            return migrate_schema(dsn, "timescaledb", schema)
        except FlavorError as error:
            log.info("TimescaleDB cannot be used here (%s): using the postgresql flavor", error)
    return migrate_schema(dsn, "postgresql", schema)


def ingest(dsn: str, rows: Iterable[dict[str, Any]], schema: str = SCHEMA) -> int:
    """Load buffer rows as the collector and `ingest` do: COPY in chunks, one transaction per chunk."""
    count = 0
    iterator = iter(rows)
    with psycopg.connect(dsn, autocommit=True, application_name="georchestra-analytics demo") as conn:
        while chunk := list(islice(iterator, _ROWS_PER_TRANSACTION)):
            with conn.transaction():
                count += insert_buffer_rows(conn, schema, chunk)
    return count


def parser_settings(schema: str = SCHEMA) -> ParserSettings:
    """The parse job's settings on the demo platform: defaults, plus the platform's organisation alias map, read
    through the stack model as a stack's would be."""
    spec = ParserSpec.model_validate({"organisationAliases": platform()["organisation_aliases"]})
    aliases = {alias.key: tuple(alias.names) for alias in spec.organisation_aliases}
    return ParserSettings(schema=schema, organisation_aliases=aliases)


def parse(dsn: str, progress: Progress | None = None, schema: str = SCHEMA) -> RunSummary:
    """The parse job, draining the buffer in one worker (the demo shares the machine with its own server)."""

    def report_batch(batch: BatchResult) -> None:
        if progress is not None:
            progress(batch.claimed)

    return run_worker(dsn, parser_settings(schema), report_batch)


def refresh(dsn: str, sample: Sample, schema: str = SCHEMA) -> None:
    """Materialise the week in the continuous aggregates (timescaledb; the postgresql rollups are current)."""
    refresh_aggregates(dsn, sample.start, sample.end, schema=schema)


def report(dsn: str, schema: str = SCHEMA) -> UsageReport:
    with psycopg.connect(dsn, autocommit=True, application_name="georchestra-analytics demo") as conn:
        return build_report(conn, schema)


def buffered_rows(dsn: str, schema: str = SCHEMA) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "otel_buffer"))).fetchone()
    return int(row[0]) if row else 0


def rejected_rows(dsn: str, schema: str = SCHEMA) -> list[tuple[str, int]]:
    """(reason, count) of what the parse job kept aside: nothing is dropped silently, not even in a demo."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        query = sql.SQL("SELECT reason, count(*) FROM {} GROUP BY reason ORDER BY 2 DESC, 1").format(
            sql.Identifier(schema, "rejected_logs")
        )
        return [(str(row[0]), int(row[1])) for row in conn.execute(query).fetchall()]


@dataclass
class DemoServer:
    """The demo's throwaway server and its database."""

    embedded: EmbeddedPostgres
    dsn: str

    @classmethod
    def start(cls) -> DemoServer:
        embedded = EmbeddedPostgres().start()
        try:
            with psycopg.connect(embedded.dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
        except psycopg.Error as error:
            embedded.stop()
            raise DemoError(f"cannot create the demo database: {error}") from error
        return cls(embedded, embedded.dsn_for(DEMO_DATABASE))

    def keep(self) -> list[str]:
        """Leave the server running after this process exits; returns the commands that stop and remove it.

        The cluster directory names its owner process, and later embedded servers remove clusters whose owner
        is gone: the server's own postmaster becomes the owner, so the cluster lives exactly as long as it runs.
        """
        base = self.embedded.base
        if base is None:
            raise DemoError("the demo server is not running")
        postmaster = (self.embedded.datadir / "postmaster.pid").read_text().splitlines()[0].strip()
        (base / OWNER_FILE).write_text(postmaster)
        as_user = f"runuser -u {UNPRIVILEGED_USER} -- " if os.geteuid() == 0 else ""
        pg_ctl = shlex.quote(str(self.embedded.bindir / "pg_ctl"))
        return [
            f"{as_user}{pg_ctl} stop -D {shlex.quote(str(self.embedded.datadir))} -m fast",
            f"rm -rf {shlex.quote(str(base))}",
        ]

    def stop(self) -> None:
        self.embedded.stop()


def write_html(path: Path, document: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path.resolve()
