"""The restore drill of docs/backup-restore.md on the timescaledb flavor: the page's own commands dump a
database with records, compressed chunks, continuous aggregates, policies, rejects and buffered rows, restore
it on a new server between timescaledb_pre_restore() and timescaledb_post_restore(), and the restored
database migrates to nothing, answers the same and keeps parsing (tests/support/restore_drill.py). Skips,
saying why, where the timescaledb extension is missing."""

from __future__ import annotations

from pathlib import Path

from tests.support.components import skip_or_fail
from tests.support.postgres import PostgresServer
from tests.support.restore_drill import run_drill


def test_restore_drill_timescaledb(pg_server: PostgresServer, tmp_path: Path) -> None:
    if pg_server.timescaledb_missing:
        skip_or_fail("timescaledb", pg_server.timescaledb_missing)
    run_drill(pg_server, tmp_path, "timescaledb")
