"""Benchmark of the parse job: a realistic backlog of buffer rows, drained end to end (claim, classify, write,
delete, commit), compared with a plain COPY of the same output rows into an equivalent table.

Prints, from one run: job throughput (records/s) with one worker, COPY throughput, their ratio, the speed-up
with two workers, and the peak RSS of the worker processes. Run from the repository root:

    .venv/bin/python bench/bench_parse.py --rows 1000000
    .venv/bin/python bench/bench_parse.py --rows 50000 --dsn "host=... dbname=postgres"   # an existing server

Without --dsn a throwaway PostgreSQL cluster is started (and removed) for the run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from tests.support.accesslogs import mixed_backlog

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.embedded import EmbeddedPostgres
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser.record import RECORD_COLUMNS

SCHEMA = "analytics"
LOAD_CHUNK = 50_000


@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    with EmbeddedPostgres() as embedded:
        yield embedded.dsn


@contextmanager
def fresh_database(maintenance_dsn: str, flavor: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(maintenance_dsn, dbname=name)
    try:
        migrate(dsn, DatabaseSettings(flavor=flavor))  # type: ignore[arg-type]
        yield dsn
    finally:
        with psycopg.connect(maintenance_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_backlog(dsn: str, rows: int) -> float:
    started = time.perf_counter()
    backlog = mixed_backlog(rows, seed=42)
    with psycopg.connect(dsn) as conn:
        while chunk := list(islice(backlog, LOAD_CHUNK)):
            with conn.transaction():
                insert_buffer_rows(conn, SCHEMA, chunk)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE analytics.otel_buffer")
    return time.perf_counter() - started


def run_job(dsn: str, workers: int, batch_size: int) -> dict[str, object]:
    """The real command in a child process, so its peak RSS is measured apart from this process."""
    command = [sys.executable, "-m", "georchestra_analytics", "--log-level", "warning", "parse", "--dsn", dsn,
               "--json", "--workers", str(workers), "--batch-size", str(batch_size)]  # fmt: skip
    started = time.perf_counter()
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    summary: dict[str, object] = json.loads(output)
    summary["wall_seconds"] = time.perf_counter() - started
    return summary


def copy_baseline(dsn: str) -> tuple[int, float]:
    """COPY the job's output rows into an equivalent table (same columns, same unique key), timing only COPY."""
    columns = list(RECORD_COLUMNS)
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    with psycopg.connect(dsn) as reader, psycopg.connect(dsn) as writer:
        writer.execute(
            sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, UNIQUE (ts, id))").format(
                sql.Identifier(SCHEMA, "bench_copy"), sql.Identifier(SCHEMA, "access_logs")
            )
        )
        writer.commit()
        user_agent = columns.index("user_agent")
        copied, timed = 0, 0.0
        with reader.cursor(name="output_rows") as cursor:
            cursor.itersize = LOAD_CHUNK
            cursor.execute(sql.SQL("SELECT {} FROM {}").format(column_list, sql.Identifier(SCHEMA, "access_logs")))
            while chunk := cursor.fetchmany(LOAD_CHUNK):
                rows = [list(row) for row in chunk]
                for row in rows:
                    if row[user_agent] is not None:
                        row[user_agent] = Jsonb(row[user_agent])
                started = time.perf_counter()
                with (
                    writer.cursor() as out,
                    out.copy(
                        sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(SCHEMA, "bench_copy"), column_list)
                    ) as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                writer.commit()
                timed += time.perf_counter() - started
                copied += len(rows)
    return copied, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="buffer rows in the backlog")
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--flavor", choices=["postgresql", "timescaledb"], default="postgresql")
    parser.add_argument("--dsn", help="maintenance DSN of an existing server (it must allow CREATE DATABASE)")
    args = parser.parse_args()

    with server(args.dsn) as maintenance:
        with fresh_database(maintenance, args.flavor) as dsn:
            load_seconds = load_backlog(dsn, args.rows)
            print(f"backlog: {args.rows} buffer rows loaded in {load_seconds:.1f} s ({args.flavor} flavor)")
            one = run_job(dsn, 1, args.batch_size)
            rss_one_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            copied, copy_seconds = copy_baseline(dsn)
        with fresh_database(maintenance, args.flavor) as dsn:
            load_backlog(dsn, args.rows)
            two = run_job(dsn, 2, args.batch_size)
            rss_all_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    claimed = int(one["claimed"])  # type: ignore[call-overload]
    job_rate = claimed / float(one["wall_seconds"])  # type: ignore[arg-type]
    copy_rate = copied / copy_seconds
    two_rate = int(two["claimed"]) / float(two["wall_seconds"])  # type: ignore[call-overload, arg-type]
    print(f"job, 1 worker : {claimed} rows ({one['written']} records, {one['rejected']} rejected) "
          f"in {float(one['wall_seconds']):.1f} s = {job_rate:,.0f} rows/s end to end")  # type: ignore[arg-type]  # fmt: skip
    print(f"COPY baseline : {copied} output rows in {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio job/COPY: {job_rate / copy_rate:.2f}")
    print(f"job, 2 workers: {two_rate:,.0f} rows/s, speed-up {two_rate / job_rate:.2f}x "
          f"(claimed per worker {two['claimed_per_worker']})")  # fmt: skip
    print(f"peak RSS      : {rss_one_mb:.0f} MB (1 worker run), {rss_all_mb:.0f} MB (largest process of all runs)")


if __name__ == "__main__":
    main()
