"""The parse job against a real PostgreSQL: drain, rejects kept, poison rows, exactly once under a kill -9,
concurrent workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import psycopg
import pytest
from tests.support.accesslogs import gateway_row, mixed_backlog

from georchestra_analytics.db.buffer import claim_batch, insert_buffer_rows
from georchestra_analytics.parser.job import JobFault, ParseJob, run_worker, run_workers
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.settings import ParserSettings

SCHEMA = "analytics"


def _load(dsn: str, rows: list[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as conn, conn.transaction():
        insert_buffer_rows(conn, SCHEMA, rows)


def _expected(rows: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], Counter[str]]:
    """What the job must store, computed by the same pipeline without a database: (ts, id) keys and rejects."""
    pipeline = Pipeline(ParserSettings())
    keys: set[tuple[str, str]] = set()
    rejects: Counter[str] = Counter()
    for row in rows:
        result = pipeline.parse_row(row)
        if isinstance(result, Reject):
            rejects[result.reason] += 1
        else:
            keys.add((result["ts"].isoformat(), result["id"]))
    return keys, rejects


def _stored(dsn: str) -> tuple[list[tuple[str, str]], Counter[str], int]:
    """(ts, id) of every stored record (duplicates kept, to see them), rejects by reason, rows left in the buffer."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        keys = [(ts.isoformat(), rid) for ts, rid in conn.execute("SELECT ts, id FROM analytics.access_logs")]
        rejects = Counter(
            dict(conn.execute("SELECT reason, count(*) FROM analytics.rejected_logs GROUP BY 1").fetchall())
        )
        left = conn.execute("SELECT count(*) FROM analytics.otel_buffer").fetchone()
    assert left is not None
    return keys, rejects, int(left[0])


def test_drains_the_buffer_into_records_and_rejects(analytics_dsn: str) -> None:
    rows = list(mixed_backlog(1500, seed=1))
    _load(analytics_dsn, rows)
    summary = run_workers(analytics_dsn, ParserSettings(batch_size=200), workers=1)
    expected_keys, expected_rejects = _expected(rows)
    keys, rejects, left = _stored(analytics_dsn)
    assert left == 0
    assert sorted(keys) == sorted(expected_keys)
    assert rejects == expected_rejects
    assert summary.claimed == len(rows)
    assert summary.written == len(expected_keys)
    assert summary.rejected == expected_rejects
    assert summary.batches >= 8  # 1500 rows by 200, shared by the worker's connections
    assert summary.oldest_buffered_age_seconds is None
    assert json.loads(json.dumps(summary.to_json()))["rejected"] == sum(expected_rejects.values())


def test_stored_record_matches_the_dry_run_record(analytics_dsn: str) -> None:
    row = gateway_row(
        "/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp%3Astates%2Csf%3Aroads&WIDTH=256&HEIGHT=256",
        user="jdoe", org="psc", roles=["ROLE_USER"], headers={"user-agent": "Mozilla/5.0 QGIS/34000"},
    )  # fmt: skip
    _load(analytics_dsn, [row])
    run_worker(analytics_dsn, ParserSettings())
    expected = Pipeline(ParserSettings()).parse_row(row)
    assert not isinstance(expected, Reject)
    with psycopg.connect(analytics_dsn) as conn:
        cursor = conn.execute("SELECT * FROM analytics.access_logs")
        names = [column.name for column in cursor.description or ()]
        stored = dict(zip(names, cursor.fetchone() or (), strict=True))
        layers = conn.execute("SELECT layer, workspace FROM analytics.access_log_layers ORDER BY layer").fetchall()
    assert {key: stored[key] for key in expected} == dict(expected)
    assert layers == [("sf:roads", "sf"), ("topp:states", "topp")]  # one row per layer


def test_poison_rows_become_rejects_and_never_stall_the_pipeline(analytics_dsn: str) -> None:
    good = [gateway_row(f"/geoserver/wms?request=GetMap&layers=a:b&n={n}") for n in range(5)]
    poison: list[dict[str, Any]] = [
        {"message": "\x1a\x02PK binary", "source_type": "file"},
        {**gateway_row("/x"), "attributes": {"http.request.url": {"not": "a string"}}},
        {**gateway_row("/x"), "timestamp": None, "observed_timestamp": None},
        {**gateway_row("/x"), "scope": {"name": ["a", "list"]}},
        {"timestamp": None, "message": None, "attributes": None, "scope": None},
        {**gateway_row("/x"), "attributes": {**gateway_row("/x")["attributes"], "http.status_code": "2" * 40,
                                              "http.response.body.size": "9" * 30}},
    ]  # fmt: skip
    _load(analytics_dsn, [*poison[:3], *good, *poison[3:]])
    summary = run_worker(analytics_dsn, ParserSettings(batch_size=4))
    keys, rejects, left = _stored(analytics_dsn)
    assert left == 0
    assert len(keys) == len(good) + 1  # the absurd status and size are nulled, the request is kept
    assert sum(rejects.values()) == len(poison) - 1
    assert summary.written == len(keys)
    with psycopg.connect(analytics_dsn) as conn:
        raws = [raw for (raw,) in conn.execute("SELECT raw FROM analytics.rejected_logs")]
    assert all(raw for raw in raws)  # each reject keeps its input


def test_a_record_the_writer_cannot_store_is_rejected_alone(analytics_dsn: str) -> None:
    """The classifier bounds every value, so an unstorable record needs a fault it cannot produce: a pipeline
    whose classifier returns a status out of smallint range (a stand-in, said so here)."""
    rows = [gateway_row(f"/geoserver/wms?request=GetMap&layers=a:b&n={n}") for n in range(3)]
    _load(analytics_dsn, rows)
    with psycopg.connect(analytics_dsn, autocommit=True) as conn:
        job = ParseJob(conn, ParserSettings())
        original = job.pipeline.classifier.classify
        calls = iter(range(100))

        def faulty(logged: Any) -> Any:
            record = original(logged)
            if next(calls) == 1:
                record["status"] = 70000
            return record

        job.pipeline.classifier.classify = faulty  # type: ignore[method-assign]
        summary = job.run()
    keys, rejects, left = _stored(analytics_dsn)
    assert (len(keys), left, summary.written) == (2, 0, 2)
    assert list(rejects) == ["unstorable record: status is not a smallint"]


def test_an_internal_error_in_classification_becomes_a_reject(analytics_dsn: str) -> None:
    """A classifier bug is a fault the real classifier is not known to have: injected here, said so."""
    rows = [gateway_row(f"/geoserver/wms?request=GetMap&layers=a:b&n={n}") for n in range(3)]
    _load(analytics_dsn, rows)
    with psycopg.connect(analytics_dsn, autocommit=True) as conn:
        job = ParseJob(conn, ParserSettings())

        def broken(logged: Any) -> Any:
            raise KeyError("bug")

        job.pipeline.classifier.classify = broken  # type: ignore[method-assign]
        job.run()
    _, rejects, left = _stored(analytics_dsn)
    assert (rejects, left) == (Counter({"internal error: KeyError": 3}), 0)


_CRASHING_WORKER = """
import sys, threading, time
from georchestra_analytics.parser.job import run_worker
from georchestra_analytics.parser.settings import ParserSettings

dsn, crash_at, batch_size, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
lock, batches = threading.Lock(), [0]
def before_commit(result):
    with lock:
        batches[0] += 1
        crash_now = batches[0] == crash_at
    if crash_now:
        print("written, not committed", flush=True)
        time.sleep(600)  # killed here, between write and commit

run_worker(dsn, ParserSettings(batch_size=batch_size, connections=connections), before_commit)
"""


@pytest.mark.parametrize(("crash_at_batch", "connections"), [(1, 1), (3, 1), (3, 2)])
def test_kill_9_between_write_and_commit_loses_nothing_and_duplicates_nothing(
    analytics_dsn: str, crash_at_batch: int, connections: int
) -> None:
    rows = list(mixed_backlog(1000, seed=crash_at_batch))
    _load(analytics_dsn, rows)
    worker = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WORKER, analytics_dsn, str(crash_at_batch), "150", str(connections)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "written, not committed"
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    keys_after_crash, _, left_after_crash = _stored(analytics_dsn)
    if connections == 1:
        committed_batches = crash_at_batch - 1
        assert left_after_crash == len(rows) - 150 * committed_batches  # the killed batch stayed in the buffer
    assert left_after_crash >= 150  # at least the killed batch is back in the buffer

    run_worker(analytics_dsn, ParserSettings(batch_size=150))  # the next run replays it
    expected_keys, expected_rejects = _expected(rows)
    keys, rejects, left = _stored(analytics_dsn)
    assert left == 0
    assert len(keys) == len(set(keys)) == len(expected_keys)  # nothing twice
    assert set(keys) == expected_keys  # nothing lost
    assert rejects == expected_rejects
    assert len(keys_after_crash) < len(keys)


def test_replaying_already_stored_rows_counts_nothing_twice(analytics_dsn: str) -> None:
    rows = list(mixed_backlog(300, seed=5))
    _load(analytics_dsn, rows)
    first = run_worker(analytics_dsn, ParserSettings())
    _load(analytics_dsn, [row for row in rows if row.get("source_type") == "opentelemetry"])
    second = run_worker(analytics_dsn, ParserSettings())
    keys, _, left = _stored(analytics_dsn)
    assert left == 0
    assert len(keys) == len(set(keys)) == first.written
    assert second.written == 0 and second.duplicates > 0


def test_two_workers_share_a_backlog_and_handle_every_row_once(analytics_dsn: str) -> None:
    rows = list(mixed_backlog(6000, seed=3))
    _load(analytics_dsn, rows)
    summary = run_workers(analytics_dsn, ParserSettings(batch_size=100), workers=2)
    expected_keys, expected_rejects = _expected(rows)
    keys, rejects, left = _stored(analytics_dsn)
    assert left == 0
    assert len(keys) == len(set(keys)) == len(expected_keys)
    assert rejects == expected_rejects
    assert summary.claimed == len(rows)
    assert len(summary.claimed_per_worker) == 2


def test_a_locked_batch_is_skipped_by_another_worker(analytics_dsn: str) -> None:
    """Deterministic interleaving: worker A holds a claimed batch while worker B drains the rest; A then dies
    (rollback) and its rows go to the next run."""
    rows = [gateway_row(f"/geoserver/wms?request=GetMap&layers=a:b&n={n}") for n in range(50)]
    _load(analytics_dsn, rows)
    with psycopg.connect(analytics_dsn) as conn_a:
        held = claim_batch(conn_a, SCHEMA, 20)
        worker_b = run_worker(analytics_dsn, ParserSettings(batch_size=7))
        conn_a.rollback()
    keys_meanwhile, _, left_meanwhile = _stored(analytics_dsn)
    last = run_worker(analytics_dsn, ParserSettings())
    keys, _, left = _stored(analytics_dsn)
    assert (len(held), worker_b.claimed, len(keys_meanwhile), left_meanwhile) == (20, 30, 30, 20)
    assert (last.claimed, left) == (20, 0)
    assert len(keys) == len(set(keys)) == 50


def test_an_unreachable_database_is_a_job_fault() -> None:
    with pytest.raises(JobFault, match="unreachable"):
        run_worker("host=127.0.0.1 port=1 connect_timeout=2 dbname=x user=x", ParserSettings())
