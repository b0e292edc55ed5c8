"""Rejects are written whatever their raw input holds (NUL, lone surrogates, infinite floats, deep nesting),
and one id is stored once."""

from __future__ import annotations

from typing import Any

import psycopg

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.writer import Reject, write_rejects


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_any_raw_input_is_storable_and_an_id_is_kept_once(pg_dsn: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    raws = [{"message": "a\x00b"}, {"message": "lone \ud800"}, {"n": float("inf")}, {"deep": _nested(60)}, None]
    rejects = [Reject("odd", raw, "test", f"id-{n}") for n, raw in enumerate(raws)]
    with psycopg.connect(pg_dsn) as conn:
        with conn.transaction():
            new_ids: set[str] = set()
            assert write_rejects(conn, "analytics", [*rejects, rejects[0]], new_ids=new_ids) == len(raws)
            assert new_ids == {f"id-{n}" for n in range(len(raws))}
        with conn.transaction():
            assert write_rejects(conn, "analytics", rejects) == 0  # all stored already
            assert write_rejects(conn, "analytics", [Reject("no id", {"a": 1})] * 2) == 2  # no id: always kept
        stored = conn.execute("SELECT raw->>'message' FROM analytics.rejected_logs WHERE id = 'id-0'").fetchone()
    assert stored == ("a\ufffdb",)
