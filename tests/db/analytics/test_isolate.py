"""Records the database refuses are found by bisection (postgresql flavor, real server): the rest of the batch
is stored once, at a small multiple of a clean batch's cost, and two connections doing so never deadlock."""

from __future__ import annotations

import random
import string
import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from tests.support.analytics_db import random_records, utc

from georchestra_analytics.db.isolate import write_isolating
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.schema_info import read_schema_info
from georchestra_analytics.db.settings import DatabaseSettings

SCHEMA = "analytics"


def _unindexable(rng: random.Random) -> str:
    """Letters that do not compress: too large for a btree entry of the rollups' unique key."""
    return "".join(rng.choices(string.ascii_letters, k=3000))


def _batch(seed: int, count: int, culprits: list[int]) -> list[dict[str, Any]]:
    records = random_records(seed, count, utc(2026, 3, 1), timedelta(hours=6))
    rng = random.Random(seed)
    for position in culprits:
        records[position]["service"] = "WMS"
        records[position]["request"] = _unindexable(rng)
    return records


def _write(dsn: str, records: list[dict[str, Any]]) -> tuple[Any, float]:
    with psycopg.connect(dsn) as conn:
        info = read_schema_info(conn, SCHEMA)
        started = time.perf_counter()
        with conn.transaction():
            outcome = write_isolating(conn, SCHEMA, records, info)
        return outcome, time.perf_counter() - started


def test_culprits_are_found_by_bisection_and_the_rest_is_stored(pg_dsn: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    outcome, _ = _write(pg_dsn, _batch(1, 2000, [137, 1500]))
    assert sorted(outcome.refused) == [137, 1500]
    assert set(outcome.refused.values()) == {"ProgramLimitExceeded (54000)"}
    assert outcome.written == 1998
    # Two culprits among 2,000: at most two paths of log2(2000) ~ 11 levels, two trials a level.
    assert outcome.trials <= 2 * 2 * 11
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM analytics.access_logs").fetchone()
    assert row == (1998,)


def test_one_culprit_costs_a_few_clean_batches(pg_dsn: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    count = 5000
    clean, clean_seconds = _write(pg_dsn, _batch(2, count, []))
    dirty, dirty_seconds = _write(pg_dsn, _batch(3, count, [4321]))
    print(f"\nclean batch of {count}: {clean_seconds:.2f} s; with one culprit: {dirty_seconds:.2f} s, "
          f"{dirty.trials} trials, {dirty.rows_sent} records sent")  # fmt: skip
    assert (clean.written, clean.trials, clean.rows_sent) == (count, 0, count)
    assert dirty.written == count - 1
    # Work, not a deadline: whole batch + halving trials + the final write stay under four batches' records.
    assert dirty.rows_sent <= 4 * count


def test_two_connections_isolating_culprits_never_deadlock(pg_dsn: str) -> None:
    """Both write the same rollup keys in opposite record orders, each batch holding culprits: the old
    record-by-record retry deadlocked here; bisection takes rollup locks in one sorted order."""
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    errors: list[BaseException] = []
    refused: list[int] = []

    def lane(seed: int, reverse: bool) -> None:
        try:
            for round_ in range(4):
                records = _batch(seed * 10 + round_, 400, [50, 300])
                if reverse:
                    records.reverse()
                outcome, _ = _write(pg_dsn, records)
                refused.append(len(outcome.refused))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    # The same seeds in both lanes: the same rollup rows, locked from both ends.
    threads = [threading.Thread(target=lane, args=(1, reverse)) for reverse in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert refused == [2] * 8


@pytest.mark.parametrize("count", [1, 2])
def test_a_batch_of_only_culprits_stores_nothing(pg_dsn: str, count: int) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    outcome, _ = _write(pg_dsn, _batch(4, count, list(range(count))))
    assert (outcome.written, sorted(outcome.refused)) == (0, list(range(count)))
