"""The restore drill of docs/backup-restore.md, run as the page writes it.

The page marks each shell block of the drill with an HTML comment (`<!-- drill: NAME -->`); this module reads
those blocks and runs them with bash, nothing added, on a source database of the test cluster and a second,
empty cluster started from the same binaries (a new server: no roles, no database). Before and after, it reads
what the dashboards and the parse job depend on, to show the restored database answers the same and keeps
working.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS, FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.embedded import EmbeddedPostgres
from georchestra_analytics.db.refresh import refresh_aggregates
from georchestra_analytics.db.writer import write_records
from georchestra_analytics.parser.job import run_workers
from georchestra_analytics.parser.settings import ParserSettings
from tests.support.accesslogs import mixed_backlog
from tests.support.analytics_db import chunks, random_records, utc
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "backup-restore.md"
SCHEMA = "analytics"
DATABASE = "analytics"
_BLOCK = re.compile(r"<!-- drill: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)\n```", re.DOTALL)


def drill_blocks(page: Path = PAGE) -> dict[str, str]:
    """The page's drill blocks by name, exactly as written."""
    blocks = {match["name"]: match["body"] for match in _BLOCK.finditer(page.read_text(encoding="utf-8"))}
    assert blocks, f"{page} has no drill blocks"
    return blocks


def stack_manifest(flavor: str) -> dict[str, Any]:
    """The stack the drill's `stack.yaml` holds: the schema and database names of the page, a time zone
    other than UTC (the daily buckets must come back as they were)."""
    return {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "georchestra"},
        "spec": {
            "timeZone": "Europe/Paris",
            "database": {
                "flavor": flavor,
                "schema": SCHEMA,
                "external": {"host": "db.example.org", "databaseName": DATABASE, "credentialsSecret": {"name": "db"}},
            },
        },
    }


@dataclass
class Drill:
    bindir: Path
    workdir: Path
    source_dsn: str
    target: EmbeddedPostgres

    def environment(self) -> dict[str, str]:
        scripts = str(Path(sys.executable).parent)  # the georchestra-analytics command of this venv
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(
            PATH=os.pathsep.join([str(self.bindir), scripts, env.get("PATH", "")]),
            SOURCE=self.source_dsn,
            PGHOST="127.0.0.1",
            PGPORT=str(self.target.port),
            PGUSER=self.target.user,
        )
        env.pop("ANALYTICS_DSN", None)
        for variable in ("ANALYTICS_COLLECTOR_PASSWORD", "ANALYTICS_PARSER_PASSWORD", "ANALYTICS_DASHBOARDS_PASSWORD"):
            env.pop(variable, None)
        return env

    def run(self, name: str) -> str:
        """One block of the page, in bash with errexit and pipefail; returns its standard output."""
        script = drill_blocks()[name]
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.workdir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"drill block {name!r} failed ({result.returncode}):\n{result.stderr}"
        return result.stdout

    @property
    def target_dsn(self) -> str:
        return self.target.dsn_for(DATABASE)


def _rows(conn: psycopg.Connection[Any], relation: sql.Composable) -> list[tuple[Any, ...]]:
    return sorted(
        conn.execute(sql.SQL("SELECT * FROM {}").format(relation)).fetchall(),
        key=lambda row: tuple((value is None, str(value)) for value in row),
    )


def answers(dsn: str, flavor: str) -> dict[str, Any]:
    """What the dashboards and the parse job read: every record and layer row, every view, every aggregate's
    stored rows (materialised only, on timescaledb), the rejects, the jobs or partitions, the grants."""
    result: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("access_logs", "access_log_layers", "rejected_logs", "settings", "schema_migrations"):
            result[table] = _rows(conn, sql.Identifier(SCHEMA, table))
        for view in DASHBOARD_VIEWS:
            result[view] = _rows(conn, sql.Identifier(SCHEMA, view))
        for family in FAMILIES:
            for level in LEVELS:
                name = storage_name(family, level)
                if flavor == "timescaledb":
                    conn.execute(
                        sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(
                            sql.Identifier(SCHEMA, name)
                        )
                    )
                result[f"stored {name}"] = _rows(conn, sql.Identifier(SCHEMA, name))
                if flavor == "timescaledb":
                    conn.execute(
                        sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = false)").format(
                            sql.Identifier(SCHEMA, name)
                        )
                    )
        result["grants"] = conn.execute(
            "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
            (SCHEMA,),
        ).fetchall()
        if flavor == "timescaledb":
            result["jobs"] = conn.execute(
                "SELECT proc_name, hypertable_name, config::text, schedule_interval, scheduled"
                " FROM timescaledb_information.jobs WHERE hypertable_schema = %s ORDER BY 1, 2, 3",
                (SCHEMA,),
            ).fetchall()
            # Chunks per hypertable. Which of them are compressed is not compared: the compression policy's
            # background job runs on both servers on its own schedule and may compress one between two reads.
            result["chunks"] = conn.execute(
                "SELECT hypertable_name, count(*)"
                " FROM timescaledb_information.chunks WHERE hypertable_schema = %s GROUP BY 1 ORDER BY 1",
                (SCHEMA,),
            ).fetchall()
    return result


def fill_source(server: PostgresServer, drill_dir: Path, flavor: str) -> str:
    """A source database migrated by the command line from the drill's stack.yaml, with records written by
    the parse job's writer over two months (compressed chunks on timescaledb), rejects, and buffer rows not
    parsed yet. Returns its DSN."""
    name = server.create_database()
    dsn = server.dsn_for(name)
    (drill_dir / "stack.yaml").write_text(yaml.safe_dump(stack_manifest(flavor)), encoding="utf-8")
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "georchestra-analytics"), "db", "migrate", "-f", "stack.yaml", "--dsn", dsn],
        cwd=drill_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    start = utc(2026, 3, 20)
    records = random_records(41, 3_000, start, timedelta(days=60))
    with psycopg.connect(dsn) as conn:
        for batch in chunks(records, 500):
            with conn.transaction():
                write_records(conn, SCHEMA, batch)
    if flavor == "timescaledb":
        refresh_aggregates(dsn, start, start + timedelta(days=60), schema=SCHEMA)
        with psycopg.connect(dsn, autocommit=True) as conn:
            chunk = conn.execute(
                "SELECT compress_chunk(c) FROM show_chunks(%s::regclass, older_than => %s::timestamptz) c",
                (f"{SCHEMA}.access_logs", start + timedelta(days=30)),
            ).fetchall()
            assert chunk, "no chunk to compress"
    # A parse run over the collector's rows: rejects, and records through the whole job.
    with psycopg.connect(dsn) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, mixed_backlog(400, seed=3, start=utc(2026, 5, 10)))
    summary = run_workers(dsn, ParserSettings(schema=SCHEMA, batch_size=200))
    assert summary.written > 0 and sum(summary.rejected.values()) > 0
    # Rows the collector stored after the last parse run: the dump carries them to the restored buffer.
    with psycopg.connect(dsn) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, mixed_backlog(50, seed=4, start=utc(2026, 5, 12)))
    return dsn


def start_target(bindir: Path) -> EmbeddedPostgres:
    """A second, empty server: the drill's target is a new server, with none of the source's roles."""
    return EmbeddedPostgres(bindir=bindir).start()


def source_credentials(server: PostgresServer, dsn: str) -> str:
    """The source as a key=value connection string, as an administrator would write `SOURCE`."""
    params = conninfo_to_dict(dsn)
    return make_conninfo("", **{key: value for key, value in params.items() if value})


def run_drill(server: PostgresServer, tmp_path: Path, flavor: str) -> None:
    """The whole drill for one flavor: fill, dump, restore on a new server, compare, keep parsing."""
    if server.embedded is None:
        pytest.skip("the restore drill starts a second server from the test cluster's binaries; ANALYTICS_TEST_DSN")
    bindir = server.embedded.bindir
    source = fill_source(server, tmp_path, flavor)
    before = answers(source, flavor)
    target = start_target(bindir)
    try:
        drill = Drill(bindir, tmp_path, source_credentials(server, source), target)
        drill.run("backup")
        assert (tmp_path / "analytics.dump").stat().st_size > 0
        version = (tmp_path / "analytics.dump.timescaledb").read_text(encoding="utf-8").strip()
        assert bool(version) == (flavor == "timescaledb"), version
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            roles = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'analytics\\_%'").fetchone()
        assert roles == (0,), "the target must be a new server, without the stack's roles"
        drill.run("roles")
        drill.run(f"restore-{flavor}")
        output = drill.run("check")
        assert "database is up to date: nothing to do" in output, output
        after = answers(drill.target_dsn, flavor)
        assert after.keys() == before.keys()
        for key in before:
            assert after[key] == before[key], f"{key} differs after the restore"
        assert before["access_logs"] and before["usage_daily"] and before["rejected_logs"]
        if flavor == "timescaledb":
            with psycopg.connect(drill.target_dsn, autocommit=True) as conn:
                compressed = conn.execute(
                    "SELECT count(*) FROM timescaledb_information.chunks"
                    " WHERE hypertable_schema = %s AND is_compressed",
                    (SCHEMA,),
                ).fetchone()
                assert compressed is not None and compressed[0] > 0, "the restored chunks include compressed ones"
                restoring = conn.execute("SHOW timescaledb.restoring").fetchone()
            assert restoring == ("off",)
        keeps_parsing(drill.target_dsn, flavor, before)
    finally:
        target.stop()


def keeps_parsing(dsn: str, flavor: str, before: dict[str, Any]) -> None:
    """The parse job, logged in as the parser role (its grants came back with the dump), drains the restored
    buffer and new rows; the aggregates count what it wrote."""
    parser_dsn = make_conninfo(dsn, user=f"{SCHEMA}_parser")
    with psycopg.connect(dsn) as conn, conn.transaction():
        buffered = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "otel_buffer")))
        restored_buffer = buffered.fetchone()
        assert restored_buffer == (50,)
        insert_buffer_rows(conn, SCHEMA, mixed_backlog(300, seed=9, start=utc(2026, 6, 2)))
    summary = run_workers(parser_dsn, ParserSettings(schema=SCHEMA, batch_size=100))
    assert summary.claimed == 350
    assert summary.written > 0
    if flavor == "timescaledb":
        assert summary.aggregates_refreshed is True
    with psycopg.connect(dsn, autocommit=True) as conn:
        records = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, "access_logs")))
        assert records.fetchone() == (len(before["access_logs"]) + summary.written,)
        if flavor == "timescaledb":
            for level in LEVELS:
                conn.execute(
                    sql.SQL("ALTER MATERIALIZED VIEW {} SET (timescaledb.materialized_only = true)").format(
                        sql.Identifier(SCHEMA, storage_name("usage", level))
                    )
                )
        for level in LEVELS:
            row = conn.execute(
                sql.SQL("SELECT coalesce(sum(requests), 0)::bigint FROM {}").format(
                    sql.Identifier(SCHEMA, storage_name("usage", level))
                )
            ).fetchone()
            assert row == (len(before["access_logs"]) + summary.written,), level
