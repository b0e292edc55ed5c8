"""A migrated database with the three least-privilege roles' passwords set, and DSNs that log in as each, as
the operator's pods do (PGUSER = the role, PGPASSWORD from the generated Secret)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from psycopg.conninfo import make_conninfo

from georchestra_analytics.db.migrate import migrate
from georchestra_analytics.db.roles import role_names
from georchestra_analytics.db.settings import DatabaseSettings

RoleDsn = Callable[[str], str]


def migrated_with_roles(owner_dsn: str, settings: DatabaseSettings) -> RoleDsn:
    """Migrate as the owner, setting generated passwords; return purpose ("collector", "parser",
    "dashboards") -> DSN logging in as that role."""
    passwords = {purpose: secrets.token_urlsafe(24) for purpose in ("collector", "parser", "dashboards")}
    migrate(owner_dsn, settings, passwords=passwords)
    names = role_names(settings)
    return lambda purpose: make_conninfo(owner_dsn, user=names[purpose], password=passwords[purpose])
