"""A run fails only for a fault of the connection or the server, and its message says which kind."""

from __future__ import annotations

import psycopg
import pytest
from tests.support.accesslogs import gateway_row

from georchestra_analytics.db.buffer import insert_buffer_rows
from georchestra_analytics.parser.job import JobFault, run_worker
from georchestra_analytics.parser.settings import ParserSettings


def test_a_lock_the_job_cannot_get_is_named_as_such(analytics_dsn: str) -> None:
    with psycopg.connect(analytics_dsn) as conn:
        insert_buffer_rows(conn, "analytics", [gateway_row("/geoserver/wms?request=GetMap&layers=a:b")])
        conn.commit()
    # A real server fault: another session holds the records' table, the job's lock_timeout expires.
    with psycopg.connect(analytics_dsn) as holder:
        holder.execute("LOCK TABLE analytics.access_logs IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(JobFault) as raised:
            run_worker(analytics_dsn + " options='-c lock_timeout=200'", ParserSettings(connections=1))
        holder.rollback()
    message = str(raised.value)
    assert message.startswith("database object not in the required state (lock not available): LockNotAvailable")
    assert "unreachable" not in message
    with psycopg.connect(analytics_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.otel_buffer").fetchone() == (1,)  # kept for later


def test_a_missing_privilege_is_a_permission_fault(analytics_dsn: str) -> None:
    with psycopg.connect(analytics_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS fault_probe")
        conn.execute("CREATE ROLE fault_probe LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA analytics TO fault_probe")
        conn.execute("GRANT SELECT ON analytics.settings, analytics.schema_migrations TO fault_probe")
    try:
        with pytest.raises(JobFault, match=r"^database permission or schema problem: InsufficientPrivilege \(42501\)"):
            run_worker(analytics_dsn + " user=fault_probe", ParserSettings(connections=1))
    finally:
        with psycopg.connect(analytics_dsn, autocommit=True) as conn:
            conn.execute("DROP OWNED BY fault_probe")
            conn.execute("DROP ROLE fault_probe")
