"""The disk measurement of docs/sizing.md: a week of the demo platform's traffic through the real pipeline, then
the size of the raw tables and the aggregates, per flavor (timescaledb also after compressing every chunk).

    .venv/bin/python -m tests.support.sizing --records 700000          # 100,000 requests a day
    .venv/bin/python -m tests.support.sizing --records 70000 --flavors postgresql

A throwaway cluster from the test tier's binaries (ANALYTICS_TIMESCALEDB_TARBALL adds TimescaleDB, as for the
timescale tier). Each flavor gets its own database: migrate, load the buffer as the collector does, run the
parse job (one worker), refresh the aggregates, VACUUM ANALYZE, read the sizes. Prints one JSON object per
flavor.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from georchestra_analytics.db.aggregates import FAMILIES, LEVELS, storage_name
from georchestra_analytics.db.embedded import EmbeddedPostgres, find_bindir
from georchestra_analytics.db.settings import FLAVORS, DatabaseSettings
from georchestra_analytics.demo.run import ingest, migrate_schema, parse, refresh
from georchestra_analytics.demo.sample import generate
from tests.support.postgres import server_binaries

SCHEMA = "analytics"
RAW_TABLES = ("access_logs", "access_log_layers")


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> int:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type] - queries of this module only
    return int(row[0] or 0) if row else 0


def sizes(dsn: str, flavor: str) -> dict[str, int]:
    """Bytes of each raw table (indexes, TOAST, chunks or partitions included) and of all the aggregates."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if flavor == "timescaledb":
            result = {
                table: _one(conn, "SELECT hypertable_size(%s::regclass)", f"{SCHEMA}.{table}") for table in RAW_TABLES
            }
            result["aggregates"] = _one(
                conn,
                "SELECT sum(hypertable_size(format('%%I.%%I', materialization_hypertable_schema,"
                " materialization_hypertable_name)::regclass))"
                " FROM timescaledb_information.continuous_aggregates WHERE view_schema = %s",
                SCHEMA,
            )
        else:
            result = {
                table: _one(
                    conn,
                    "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(%s::regclass)",
                    f"{SCHEMA}.{table}",
                )
                for table in RAW_TABLES
            }
            result["aggregates"] = sum(
                _one(conn, "SELECT pg_total_relation_size(%s::regclass)", f"{SCHEMA}.{storage_name(family, level)}")
                for family in FAMILIES
                for level in LEVELS
            )
    return result


def measure(server: EmbeddedPostgres, flavor: str, records: int, seed: int) -> dict[str, Any]:
    database = f"sizing_{flavor}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    dsn = server.dsn_for(database)
    migrate_schema(dsn, flavor, SCHEMA)  # type: ignore[arg-type] - one of FLAVORS
    sample = generate(seed=seed, records=records)  # the week before last midnight: not compressed by the policy yet
    started = time.monotonic()
    ingest(dsn, sample.buffer_rows(), SCHEMA)
    summary = parse(dsn, schema=SCHEMA)
    parse_seconds = time.monotonic() - started
    refresh(dsn, sample, SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        written = _one(conn, f"SELECT count(*) FROM {SCHEMA}.access_logs")
    result: dict[str, Any] = {
        "flavor": flavor,
        "records": written,
        "rejected": sum(summary.rejected.values()),
        "days": 7,
        "ingest_and_parse_seconds": round(parse_seconds),
        "bytes": sizes(dsn, flavor),
    }
    raw = sum(result["bytes"][table] for table in RAW_TABLES)
    result["raw_bytes_per_record"] = round(raw / written)
    result["aggregate_bytes_per_day"] = round(result["bytes"]["aggregates"] / 7)
    if flavor == "timescaledb":
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in RAW_TABLES:
                conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks(%s::regclass) c",
                             (f"{SCHEMA}.{table}",))  # fmt: skip
            conn.execute("VACUUM ANALYZE")
        compressed = sizes(dsn, flavor)
        result["compressed_bytes"] = compressed
        result["compressed_raw_bytes_per_record"] = round(sum(compressed[table] for table in RAW_TABLES) / written)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=70_000, help="requests in the generated week")
    parser.add_argument("--flavors", default=",".join(FLAVORS), help="comma-separated: timescaledb,postgresql")
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args(argv)
    flavors = [flavor.strip() for flavor in arguments.flavors.split(",") if flavor.strip()]
    for flavor in flavors:
        DatabaseSettings(flavor=flavor)  # type: ignore[arg-type] - refuses an unknown flavor
    bindir, problem = server_binaries()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    server = EmbeddedPostgres(bindir=bindir or find_bindir()).start()
    try:
        for flavor in flavors:
            print(json.dumps(measure(server, flavor, arguments.records, arguments.seed)), flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
