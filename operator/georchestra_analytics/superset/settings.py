"""What the dashboard bundle needs to know about a stack: its name, the schema, how Superset reaches the database.

Kept small and separate from the AnalyticsStack model so the bundle can be rendered from a plain stack file
(the CLI, the Ansible role) and from the operator alike.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from georchestra_analytics.stack.database import POSTGRES_PORT

DEFAULT_SCHEMA = "analytics"
DEFAULT_PORT = POSTGRES_PORT
# Superset runs its own Jinja over virtual-dataset SQL, and the dataset SQL relies on SQL comments when it
# does not: a schema name carrying Jinja or comment delimiters is refused rather than escaped.
_SUPERSET_JINJA_MARKERS = re.compile(r"[{}%#*/]")


class BundleSettingsError(ValueError):
    """A stack value that cannot go into the bundle, with the reason."""


@dataclass(frozen=True)
class DatabaseTarget:
    """The analytics database as Superset sees it (its host may differ from the operator's view)."""

    host: str
    database: str
    username: str
    port: int = DEFAULT_PORT
    sslmode: str | None = None

    def sqlalchemy_uri(self) -> str:
        """The URI stored in Superset, WITHOUT the password (it goes in the import's `passwords` field)."""

        def quote(value: str) -> str:
            return urllib.parse.quote(value, safe="")

        host = f"[{self.host}]" if ":" in self.host else quote(self.host)
        uri = f"postgresql+psycopg2://{quote(self.username)}@{host}:{self.port}/{quote(self.database)}"
        if self.sslmode:
            uri += "?" + urllib.parse.urlencode({"sslmode": self.sslmode})
        return uri


@dataclass(frozen=True)
class BundleSettings:
    stack_name: str
    database: DatabaseTarget
    schema: str = DEFAULT_SCHEMA
    time_zone: str = "UTC"
    database_name: str = "geOrchestra analytics"  # the connection's name as Superset shows it

    def __post_init__(self) -> None:
        if not self.stack_name:
            raise BundleSettingsError("the stack has no name: the bundle's uuids are derived from it")
        if not self.schema:
            raise BundleSettingsError("the database schema name is empty")
        if _SUPERSET_JINJA_MARKERS.search(self.schema):
            raise BundleSettingsError(
                f"schema name {self.schema!r} cannot be used in Superset dataset SQL: it contains one of "
                "{ } % # * /, which Superset's template engine or the SQL comments of the dataset would interpret"
            )
        if not 0 < self.database.port < 65536:
            raise BundleSettingsError(f"database port {self.database.port} is not a TCP port")
