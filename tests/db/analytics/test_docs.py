"""docs/database.md documents every dashboard view and every column they have, on both flavors."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from georchestra_analytics.db.aggregates import DASHBOARD_VIEWS
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "database.md"


def test_every_view_and_column_is_documented(pg_dsn: str) -> None:
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_0-9]+)`", text)) | set(re.findall(r"\| (rt_b\d\d) \|", text))
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'analytics' AND table_name = ANY(%s)",
            (list(DASHBOARD_VIEWS),),
        ).fetchall()
    assert {table for table, _ in rows} == set(DASHBOARD_VIEWS)
    missing_views = [view for view in DASHBOARD_VIEWS if view not in documented]
    missing_columns = sorted({f"{table}.{column}" for table, column in rows if column not in documented})
    assert missing_views == []
    assert missing_columns == []
