"""10,000 hostile lines per format through `ingest` and `parse` (postgresql flavor): no traceback, the buffer
drained, every row a record, a duplicate or a reject, the rollups counting each record once, bounded time;
ingesting the same files again stores nothing new (rejects included)."""

from __future__ import annotations

from pathlib import Path

from tests.db.parser.corpus_run import reingest_hostile_corpus, run_hostile_corpus


def test_the_hostile_corpus_drains_and_reingests_to_nothing_new(analytics_dsn: str, tmp_path: Path) -> None:
    run_hostile_corpus(analytics_dsn, tmp_path, "postgresql")
    reingest_hostile_corpus(analytics_dsn, tmp_path)
