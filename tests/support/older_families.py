"""The aggregate families an older version of the code knew, for tests that build the database that version
left (`migrate(..., migrations=before)`): the repeatable views and grants and the policies of this version name
every family, among them those a later migration creates, which do not exist yet at that point."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from georchestra_analytics.db import aggregates, partitions, refresh, timescale_policies
from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.migrations import versioned_migrations
from georchestra_analytics.db.settings import DatabaseSettings

# The migration that creates each family after 0003's.
ADDED_BY = {
    **dict.fromkeys(aggregates.EXTENT_FAMILIES, "0009"),
    **dict.fromkeys(aggregates.AUDIENCE_FAMILIES, "0010"),
    **dict.fromkeys(aggregates.ROBOT_FAMILIES, "0012"),
}


def families_before(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Until `monkeypatch` is undone, the code knows only the families of the migrations before `version`."""
    families = tuple(f for f in aggregates.FAMILIES if ADDED_BY.get(f, "0003") < version[:4])
    for module in (aggregates, timescale_policies, partitions, refresh):
        monkeypatch.setattr(module, "FAMILIES", families)


def migrate_as_before(dsn: str, settings: DatabaseSettings, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database the code before migration `version` left: its migrations, with the families it knew."""
    before = [m for m in versioned_migrations(settings.flavor) if m.version < version]
    with monkeypatch.context() as older:
        families_before(older, version)
        migrate(dsn, settings, migrations=before)


def compress_every_chunk(conn: psycopg.Connection[Any]) -> int:
    """timescaledb: compress every chunk of access_logs (an upgrade must cope with compressed history)."""
    row = conn.execute("SELECT count(compress_chunk(c)) FROM show_chunks('analytics.access_logs') c").fetchone()
    assert row is not None
    return int(row[0])
