from __future__ import annotations

import pytest

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.settings import DatabaseSettings


@pytest.fixture
def analytics_dsn(pg_dsn: str) -> str:
    """A fresh database with the analytics schema migrated (postgresql flavor: rollups maintained by the job)."""
    migrate(pg_dsn, DatabaseSettings(flavor="postgresql"))
    return pg_dsn
