"""Benchmark of the parse job: a realistic backlog of buffer rows drained end to end (claim, classify, write,
delete, commit) by the real command, compared with a plain COPY of the same output rows, on each flavor.

Prints, from one run, per flavor: the job's rows/s with one worker, COPY rows/s of its output rows into an
equivalent table, their ratio; the parse process's CPU per row (user + system, the start-up cost of the command
taken off); the database side of a batch (the time the job waits on PostgreSQL per batch, and PostgreSQL's own
CPU per batch) beside the COPY of that batch's rows; the peak RSS of the parse process; and the job with two
workers on the same backlog. Run from the repository root:

    .venv/bin/python bench/bench_parse.py --rows 1000000
    .venv/bin/python bench/bench_parse.py --rows 100000 --flavor timescaledb --batch-size 20000

A throwaway cluster from the test tier's binaries is started (ANALYTICS_TIMESCALEDB_TARBALL adds TimescaleDB,
as for the timescale tier); each flavor gets fresh databases.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import set_json_loads

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support and bench

from tests.support.accesslogs import mixed_backlog

from bench.common import (
    PeakMemory,
    postgres_cpu,
    postmaster_of,
    throwaway_server,
    timed_copy_of_query,
    timescaledb_available,
)
from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.parser import jsonfast
from georchestra_analytics.parser.job import ParseJob
from georchestra_analytics.parser.record import RECORD_COLUMNS
from georchestra_analytics.parser.report import ParseReport
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "analytics"
LOAD_CHUNK = 50_000


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
    vacuum(dsn)
    return time.perf_counter() - started


def vacuum(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(SCHEMA, "otel_buffer")))


def copy_backlog(source: str, target: str) -> None:
    """The same buffer rows into another database (binary COPY through this process)."""
    table = sql.Identifier(SCHEMA, "otel_buffer")
    with psycopg.connect(source) as reader, psycopg.connect(target) as writer:
        with (
            reader.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(table)) as out,
            writer.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(table)) as into,
        ):
            for block in out:
                into.write(block)
        writer.commit()
    vacuum(target)


@dataclass
class JobRun:
    report: ParseReport
    wall: float
    cpu: float  # user + system of the command and the worker processes it started
    peak_rss_mb: float
    postgres_cpu: float


def run_job(dsn: str, workers: int, batch_size: int, postmaster: int) -> JobRun:
    """The real command in a child process: its CPU comes from wait4 (with the workers it started), its peak RSS
    from /proc while it runs."""
    command = [sys.executable, "-m", "georchestra_analytics", "--log-level", "warning", "parse", "--dsn", dsn,
               "--json", "--workers", str(workers), "--batch-size", str(batch_size)]  # fmt: skip
    database_before = postgres_cpu(postmaster)
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    memory = PeakMemory(process.pid)
    assert process.stdout is not None
    output = process.stdout.read()
    peak = memory.stop()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"parse exited with {process.returncode}")
    return JobRun(
        report=ParseReport.from_json(json.loads(output)),
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak,
        postgres_cpu=postgres_cpu(postmaster) - database_before,
    )


def copy_baseline(dsn: str, postmaster: int) -> tuple[int, float, float]:
    """COPY the job's output rows into an equivalent table (same columns, same unique key), in chunks of
    LOAD_CHUNK rows read as COPY data beforehand, timing only the COPYs. Returns (rows, seconds, PostgreSQL's CPU
    seconds during the COPYs)."""
    column_list = sql.SQL(", ").join(map(sql.Identifier, RECORD_COLUMNS))
    source = sql.Identifier(SCHEMA, "access_logs")
    target = sql.Identifier(SCHEMA, "bench_copy")
    with psycopg.connect(dsn) as reader, psycopg.connect(dsn) as writer:
        writer.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS, UNIQUE (ts, id))").format(target, source))
        writer.commit()
        keys = [row[0] for row in reader.execute(sql.SQL("SELECT ts FROM {} ORDER BY ts").format(source))]
        lowers = sorted(set(keys[::LOAD_CHUNK]))
        copied, timed, database = 0, 0.0, 0.0
        for index, lower in enumerate(lowers):
            upper = sql.SQL("") if index + 1 == len(lowers) else sql.SQL(" AND ts < {}").format(lowers[index + 1])
            query = sql.SQL("SELECT {} FROM {} WHERE ts >= {}{}").format(column_list, source, sql.Literal(lower), upper)
            before = postgres_cpu(postmaster)
            seconds, rows = timed_copy_of_query(reader, query, writer, target)
            database += postgres_cpu(postmaster) - before
            timed += seconds
            copied += rows
        reader.commit()
    return copied, timed, database


BATCHES_ALONE = 8


def batch_database_cpu(maintenance: str, postmaster: int, flavor: str, batch_size: int) -> float:
    """PostgreSQL's CPU for a batch's own work (claim and delete, records, layer rows, rollups on postgresql,
    commit), without the aggregates' refresh: BATCHES_ALONE batches run one at a time in this process, the
    cluster's CPU read around each. PostgreSQL does nothing between them (the classification is Python's)."""
    with fresh_database(maintenance, flavor) as dsn:
        load_backlog(dsn, batch_size * BATCHES_ALONE)
        with psycopg.connect(dsn, autocommit=True) as conn:
            set_json_loads(jsonfast.loads_column, conn)
            job = ParseJob(conn, ParserSettings(batch_size=batch_size))
            total = 0.0
            for _ in range(BATCHES_ALONE):
                before = postgres_cpu(postmaster)
                job.run_batch()
                total += postgres_cpu(postmaster) - before
    return total / BATCHES_ALONE


def bench_flavor(maintenance: str, postmaster: int, flavor: str, rows: int, batch_size: int, two: bool) -> None:
    with fresh_database(maintenance, flavor) as dsn, fresh_database(maintenance, flavor) as second:
        load_seconds = load_backlog(dsn, rows)
        if two:
            copy_backlog(dsn, second)
        print(f"\n== {flavor}: {rows:,} buffer rows loaded in {load_seconds:.0f} s; batches of {batch_size:,}")
        one = run_job(dsn, 1, batch_size, postmaster)
        empty = run_job(dsn, 1, batch_size, postmaster)  # nothing left: the command's fixed cost
        copied, copy_seconds, copy_database_cpu = copy_baseline(dsn, postmaster)
        pair = run_job(second, 2, batch_size, postmaster) if two else None
    alone = batch_database_cpu(maintenance, postmaster, flavor, batch_size)

    claimed = one.report.claimed or 0
    batches = max(one.report.batches or 1, 1)
    job_rate = claimed / one.wall
    copy_rate = copied / copy_seconds
    cpu_per_row = (one.cpu - empty.cpu) / claimed * 1e6
    drain_rate = claimed / (one.report.seconds or one.wall)
    # PostgreSQL's CPU per batch against its CPU for a COPY of as many output rows: CPU, not wall time, so that
    # a busy machine (waiting for a core) does not count as database work.
    database_cpu = one.postgres_cpu / batches
    batch_copy_cpu = copy_database_cpu / copied * (claimed / batches)
    batch_copy = (claimed / batches) / copy_rate
    drain_seconds = one.report.seconds or one.wall
    # What the run spends after its drain: the final refresh of the aggregates (timescaledb), the start-up
    # (the empty run's whole wall clock) taken off.
    after_drain = max(one.wall - drain_seconds - empty.wall, 0.0)
    print(f"job, 1 worker      : {claimed:,} rows ({one.report.written:,} records, {one.report.rejected:,} rejected)"
          f" in {one.wall:.1f} s = {job_rate:,.0f} rows/s end to end; drain {drain_rate:,.0f} rows/s")  # fmt: skip
    print(f"run's time         : start-up {empty.wall:.1f} s, drain {drain_seconds:.1f} s, after the drain (final "
          f"refresh) {after_drain:.1f} s")  # fmt: skip
    print(f"COPY baseline      : {copied:,} output rows in {copy_seconds:.1f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio job/COPY     : {job_rate / copy_rate:.3f}")
    print(f"parse process CPU  : {cpu_per_row:.1f} us/row (user+system; {one.cpu:.1f} s, start-up {empty.cpu:.1f} s)")
    print(f"database per batch : {alone * 1000:.0f} ms of PostgreSQL CPU for the batch's own work "
          f"({BATCHES_ALONE} batches alone); a COPY of the batch's {claimed // batches:,} rows: "
          f"{batch_copy_cpu * 1000:.0f} ms of its CPU ({batch_copy * 1000:.0f} ms wall); ratio "
          f"{alone / batch_copy_cpu:.1f}x; the whole run, refreshes included: {database_cpu * 1000:.0f} ms per batch "
          f"({database_cpu / batch_copy_cpu:.1f}x)")  # fmt: skip
    print(f"peak RSS           : {one.peak_rss_mb:.0f} MB (1 worker)", flush=True)
    if pair is not None:
        pair_rate = (pair.report.claimed or 0) / pair.wall
        print(f"job, 2 workers     : {pair_rate:,.0f} rows/s, {pair_rate / job_rate:.2f}x one worker "
              f"(claimed per worker {list(pair.report.claimed_per_worker)}; parse CPU {pair.cpu:.0f} s, "
              f"PostgreSQL CPU {pair.postgres_cpu:.0f} s in {pair.wall:.0f} s; peak RSS of the largest process "
              f"{pair.peak_rss_mb:.0f} MB)", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="buffer rows in the backlog")
    parser.add_argument("--batch-size", type=int, default=ParserSettings().batch_size)
    parser.add_argument("--flavor", action="append", choices=["postgresql", "timescaledb"], help="default: both")
    parser.add_argument("--one-worker-only", action="store_true", help="skip the run with two workers")
    args = parser.parse_args()

    with throwaway_server() as embedded:
        postmaster = postmaster_of(embedded)
        flavors = args.flavor or (["postgresql", "timescaledb"] if timescaledb_available(embedded.dsn) else [])
        if not flavors:
            sys.exit("timescaledb is not available: set ANALYTICS_TIMESCALEDB_TARBALL, or pass --flavor postgresql")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for flavor in flavors:
            bench_flavor(embedded.dsn, postmaster, flavor, args.rows, args.batch_size, not args.one_worker_only)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
