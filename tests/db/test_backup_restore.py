"""The restore drill of docs/backup-restore.md on the postgresql flavor: the page's own commands dump a
database with records, rollups, rejects and buffered rows, restore it on a new server, and the restored
database migrates to nothing, answers the same and keeps parsing (tests/support/restore_drill.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.postgres import PostgresServer
from tests.support.restore_drill import run_drill


def test_restore_drill_postgresql(pg_server: PostgresServer, tmp_path: Path) -> None:
    run_drill(pg_server, tmp_path, "postgresql")
