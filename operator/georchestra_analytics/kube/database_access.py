"""How pods reach the analytics database: libpq environment variables, the password from a Secret.

Every pod that talks to the database (Vector, the Jobs) gets the same variables:
- PGHOST, PGPORT, PGDATABASE, PGSSLMODE, and PGUSER/PGPASSWORD from the credentials Secret (libpq, psycopg
  and Vector's sqlx-based postgres sink all read them);
- ANALYTICS_DSN, a libpq connection string without credentials (the `--dsn` default of every command);
- ANALYTICS_DB_ENDPOINT, the same as a URL for Vector's `endpoint` (credentials again from PGUSER/PGPASSWORD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from georchestra_analytics.kube.naming import database_name, database_secret_name
from georchestra_analytics.kube.pods import secret_env
from georchestra_analytics.stack.resource import AnalyticsStack

POSTGRES_PORT = 5432
MANAGED_USERNAME = "analytics"
MANAGED_SSL_MODE = "prefer"  # in-cluster traffic; TLS is used when the server offers it


@dataclass(frozen=True)
class DatabaseAccess:
    host: str
    port: int
    database: str
    ssl_mode: str
    secret_name: str
    username_key: str
    password_key: str

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} dbname={self.database} sslmode={self.ssl_mode}"

    @property
    def endpoint(self) -> str:
        return f"postgresql://{self.host}:{self.port}/{self.database}?sslmode={self.ssl_mode}"


def database_access(stack: AnalyticsStack) -> DatabaseAccess:
    database = stack.spec.database
    if database.external is not None:
        external = database.external
        return DatabaseAccess(
            host=external.host,
            port=external.port,
            database=external.database_name,
            ssl_mode=external.ssl_mode,
            secret_name=external.credentials_secret.name,
            username_key=external.credentials_secret.username_key,
            password_key=external.credentials_secret.password_key,
        )
    assert database.managed is not None  # the model guarantees exactly one
    return DatabaseAccess(
        host=f"{database_name(stack)}.{stack.namespace}.svc",
        port=POSTGRES_PORT,
        database=database.managed.database_name,
        ssl_mode=MANAGED_SSL_MODE,
        secret_name=database_secret_name(stack),
        username_key="username",
        password_key="password",  # noqa: S106 - the name of a key of the generated Secret, not a password
    )


def database_env(stack: AnalyticsStack) -> list[dict[str, Any]]:
    access = database_access(stack)
    return [
        {"name": "PGHOST", "value": access.host},
        {"name": "PGPORT", "value": str(access.port)},
        {"name": "PGDATABASE", "value": access.database},
        {"name": "PGSSLMODE", "value": access.ssl_mode},
        secret_env("PGUSER", access.secret_name, access.username_key),
        secret_env("PGPASSWORD", access.secret_name, access.password_key),
        {"name": "ANALYTICS_DSN", "value": access.dsn},
        {"name": "ANALYTICS_DB_ENDPOINT", "value": access.endpoint},
    ]


def referenced_secrets(stack: AnalyticsStack) -> list[str]:
    """Names of every Secret the stack's pods read, for the controller to watch and checksum."""
    names = [database_access(stack).secret_name]
    if stack.spec.superset is not None:
        names.append(stack.spec.superset.credentials_secret.name)
    key = stack.spec.parser.privacy.pseudonymization_key
    if key is not None:
        names.append(key.name)
    return sorted(set(names))
