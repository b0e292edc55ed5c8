"""10,000 hostile lines per format through `ingest` and `parse` (timescaledb flavor): no traceback, the buffer
drained, every row a record, a duplicate or a reject, the continuous aggregates refreshed over them."""

from __future__ import annotations

from pathlib import Path

from tests.db.parser.corpus_run import run_hostile_corpus

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings


def test_the_hostile_corpus_drains(timescale_dsn: str, tmp_path: Path) -> None:
    migrate(timescale_dsn, DatabaseSettings(flavor="timescaledb"))
    run_hostile_corpus(timescale_dsn, tmp_path, "timescaledb")
