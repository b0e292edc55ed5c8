"""The landing buffer: append, claim with SKIP LOCKED, delete by ctid, and rollback keeps rows."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from georchestra_analytics.db.buffer import claim_batch, delete_claimed, insert_buffer_rows
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings

SETTINGS = DatabaseSettings(flavor="postgresql")


def _rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "timestamp": datetime(2026, 11, 1, 12, 0, index, tzinfo=UTC),
            "message": f"GET 200 https://sdi.example.org/geoserver/ows?n={index}",
            "attributes": {"http.status_code": "200", "n": index},
            "scope": {"name": "org.georchestra.gateway.accesslog"},
            "source_type": "opentelemetry",
        }
        for index in range(count)
    ]


def _buffer_size(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM analytics.otel_buffer").fetchone()
    assert row is not None
    return int(row[0])


def test_concurrent_claims_never_share_a_row_and_delete_only_their_own(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as first, psycopg.connect(pg_dsn) as second:
        with first.transaction():
            assert insert_buffer_rows(first, "analytics", _rows(10)) == 10
        with first.transaction(), second.transaction():
            mine = claim_batch(first, "analytics", 6)
            theirs = claim_batch(second, "analytics", 6)
            assert len(mine) == 6 and len(theirs) == 4
            assert not {row.ctid for row in mine} & {row.ctid for row in theirs}
            assert mine[0].row["attributes"]["http.status_code"] == "200"
            assert delete_claimed(first, "analytics", [row.ctid for row in mine]) == 6
        assert _buffer_size(first) == 4  # second committed without deleting: its rows stay


def test_a_failed_batch_keeps_its_rows(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            insert_buffer_rows(conn, "analytics", _rows(3))
        with pytest.raises(RuntimeError), conn.transaction():
            claimed = claim_batch(conn, "analytics", 10)
            delete_claimed(conn, "analytics", [row.ctid for row in claimed])
            raise RuntimeError("the parse job failed mid-batch")
        assert _buffer_size(conn) == 3


def test_unknown_buffer_column_is_an_error(pg_dsn: str) -> None:
    migrate(pg_dsn, SETTINGS)
    with psycopg.connect(pg_dsn) as conn, pytest.raises(ValueError, match="not buffer columns: colour"):
        insert_buffer_rows(conn, "analytics", [{"message": "x", "colour": "red"}])
