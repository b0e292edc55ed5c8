"""The environment variables the operator's pods carry and the commands read: one name each, for both sides.

`kube/` writes them into pods, `cli/` reads them (`envvar=` of click options, `os.environ`), `render/` names one
in Vector's configuration; a test feeds the environment of a built Job to the command line.
"""

from __future__ import annotations

# libpq's own variables (psycopg and Vector's postgres sink read them too).
PGHOST = "PGHOST"
PGPORT = "PGPORT"
PGDATABASE = "PGDATABASE"
PGSSLMODE = "PGSSLMODE"
PGUSER = "PGUSER"
PGPASSWORD = "PGPASSWORD"

DSN = "ANALYTICS_DSN"
"""A libpq connection string without credentials: the `--dsn` default of every command that needs a database."""
DB_ENDPOINT = "ANALYTICS_DB_ENDPOINT"
"""The same database as a URL, for Vector's postgres sink (`endpoint`)."""

LOG_LEVEL = "ANALYTICS_LOG_LEVEL"
LOG_FORMAT = "ANALYTICS_LOG_FORMAT"

# The passwords `db migrate` sets on the login roles, and `superset sync` hands to Superset (dashboards).
ROLE_PASSWORDS = {
    "collector": "ANALYTICS_COLLECTOR_PASSWORD",
    "parser": "ANALYTICS_PARSER_PASSWORD",
    "dashboards": "ANALYTICS_DASHBOARDS_PASSWORD",
}
DASHBOARDS_USER = "ANALYTICS_DASHBOARDS_USER"
"""The database role Superset connects as (`superset sync --db-user`)."""
DASHBOARDS_DB_HOST = "ANALYTICS_DASHBOARDS_DB_HOST"
"""The database host as Superset reaches it (`superset sync --db-host`)."""

SUPERSET_URL = "SUPERSET_URL"
SUPERSET_USERNAME = "SUPERSET_USERNAME"
SUPERSET_PASSWORD = "SUPERSET_PASSWORD"

METRICS_PORT = "ANALYTICS_METRICS_PORT"
RESYNC_INTERVAL = "ANALYTICS_RESYNC_INTERVAL"

PSEUDONYMIZATION_KEY = "ANALYTICS_PSEUDONYMIZATION_KEY"
"""The key of spec.parser.privacy.pseudonymizationKey, from its Secret, in the parse job."""
