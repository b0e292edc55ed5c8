"""The PostgreSQL tier is real: a server that answers, isolates transactions and serves concurrent sessions."""

from __future__ import annotations

import threading

import psycopg
from tests.support.postgres import PostgresServer


def test_server_is_real_postgresql(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) >= 150000
        banner = conn.execute("SELECT version()").fetchone()
        assert banner is not None and banner[0].startswith("PostgreSQL")


def test_rolled_back_transaction_leaves_nothing(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int)")
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO t VALUES (1), (2)")
        seen_inside = conn.execute("SELECT count(*) FROM t").fetchone()
        conn.rollback()
        seen_after = conn.execute("SELECT count(*) FROM t").fetchone()
    assert seen_inside == (2,)
    assert seen_after == (0,)


def test_two_concurrent_connections_see_each_others_locks(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (n int primary key)")
        conn.execute("INSERT INTO t VALUES (1), (2)")
    first = psycopg.connect(pg_dsn)
    second = psycopg.connect(pg_dsn)
    try:
        locked = first.execute("SELECT n FROM t ORDER BY n FOR UPDATE SKIP LOCKED LIMIT 1").fetchone()
        # The second session runs truly concurrently: it skips the row the first one holds.
        skipped = second.execute("SELECT n FROM t ORDER BY n FOR UPDATE SKIP LOCKED LIMIT 1").fetchone()
        assert (locked, skipped) == ((1,), (2,))
        pids = {first.info.backend_pid, second.info.backend_pid}
        assert len(pids) == 2
        blocked = threading.Event()

        def wait_for_row_one() -> None:
            with psycopg.connect(pg_dsn) as third:
                third.execute("SELECT n FROM t WHERE n = 1 FOR UPDATE")
                blocked.set()

        waiter = threading.Thread(target=wait_for_row_one)
        waiter.start()
        assert not blocked.wait(0.5), "a row lock must block another session"
        first.commit()
        waiter.join(10)
        assert blocked.is_set()
    finally:
        first.close()
        second.close()


def test_timescaledb_probe_gives_a_reason_or_nothing(pg_server: PostgresServer) -> None:
    if pg_server.timescaledb_missing is not None:
        assert "timescaledb" in pg_server.timescaledb_missing
