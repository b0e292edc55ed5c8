"""The database: a managed single-instance TimescaleDB, or an external PostgreSQL/TimescaleDB server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.durations import FiniteDuration, cel_hours, duration_hours
from georchestra_analytics.stack.pods import PodSettings, Quantity
from georchestra_analytics.stack.references import CredentialsSecret, ObjectName

SCHEMA_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
# Role names are `<prefix>_collector` ... `<prefix>_aggregates`: the longest suffix (11 bytes) leaves 52 of
# PostgreSQL's 63.
ROLE_PREFIX_PATTERN = r"^[a-z_][a-z0-9_]{0,51}$"
DATABASE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"
HOST_PATTERN = r"^[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?$|^\[[0-9a-fA-F:.]{2,45}\]$"

POSTGRES_PORT = 5432
"""PostgreSQL's port: the managed server's, and an external server's default."""

MSG_EXACTLY_ONE_DATABASE = "set exactly one of database.managed and database.external"
MSG_PARTITION_INTERVAL_TOO_SHORT = (
    "database.partitionInterval must be at least 1d on the postgresql flavor (each partition is a table; "
    "use 1d for the busiest platforms, the default 7d otherwise)"
)

Flavor = Literal["timescaledb", "postgresql"]


class ManagedStorage(SpecModel):
    """The persistent volume of the managed database."""

    size: Quantity = "20Gi"
    """Size of the PersistentVolumeClaim, set when it is created: a StatefulSet's claim template cannot change,
    so to grow the volume later, resize the claim itself (where the storage class allows expansion)."""
    storage_class_name: ObjectName | None = None
    """Storage class of the claim; empty uses the cluster's default class."""


class ManagedDatabase(PodSettings):
    """A single-instance TimescaleDB StatefulSet run by the operator, with generated credentials."""

    storage: ManagedStorage = Field(default_factory=ManagedStorage)
    """The database's persistent volume."""
    keep_volume_on_delete: bool = True
    """Keep the PersistentVolumeClaim (and so the data) when the AnalyticsStack is deleted."""
    database_name: Annotated[str, Field(max_length=63, pattern=DATABASE_NAME_PATTERN)] = "analytics"
    """Name of the database created in the managed server."""


class ExternalDatabase(SpecModel):
    """An existing PostgreSQL (15 or later) or TimescaleDB server."""

    host: Annotated[str, Field(min_length=1, max_length=253, pattern=HOST_PATTERN)]
    """Host name or address of the server, as seen from the cluster's pods."""
    port: Annotated[int, Field(ge=1, le=65535)] = POSTGRES_PORT
    """TCP port of the server."""
    database_name: Annotated[str, Field(max_length=63, pattern=DATABASE_NAME_PATTERN)] = "analytics"
    """Database holding the analytics schema."""
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "require"
    """libpq sslmode used by every client of the database."""
    credentials_secret: CredentialsSecret
    """Secret with the user name and password of a role that owns (or may create) the analytics schema."""


class DatabaseSpec(SpecModel):
    """Where the analytics data lives."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {"rule": "has(self.managed) != has(self.external)", "message": MSG_EXACTLY_ONE_DATABASE},
                {
                    "rule": "!has(self.flavor) || self.flavor != 'postgresql' || !has(self.partitionInterval) || "
                    f"{cel_hours('self.partitionInterval')} >= 24",
                    "message": MSG_PARTITION_INTERVAL_TOO_SHORT,
                },
            ]
        }
    }

    flavor: Flavor = "timescaledb"
    """timescaledb uses a hypertable and continuous aggregates (the server needs the extension);
    postgresql uses native partitions and rollup tables maintained by the parse job."""
    schema_name: Annotated[str, Field(max_length=63, pattern=SCHEMA_NAME_PATTERN, alias="schema")] = "analytics"
    """PostgreSQL schema holding the analytics tables and views."""
    role_prefix: Annotated[str, Field(max_length=52, pattern=ROLE_PREFIX_PATTERN)] | None = None
    """Prefix of the database roles `db migrate` creates (`<prefix>_collector`, `_parser`, `_dashboards`, and
    `_aggregates` on timescaledb); empty uses the schema name. Roles belong to the server, not to a database:
    two stacks with the same schema name on one server need different prefixes. A change creates the new roles,
    moves the schema's grants to them and takes them from the previous ones (docs/two-stacks.md)."""
    partition_interval: FiniteDuration = "7d"
    """Time span of one chunk (timescaledb) or partition (postgresql) of the raw tables (`access_logs`,
    `access_log_layers`). A change applies to the chunks or partitions made from then on; at least `1d` on
    postgresql (each partition is a table)."""
    managed: ManagedDatabase | None = None
    """Run a TimescaleDB server in the cluster. Exactly one of managed and external must be set."""
    external: ExternalDatabase | None = None
    """Use an existing server. Exactly one of managed and external must be set."""

    @model_validator(mode="after")
    def _exactly_one_location(self) -> DatabaseSpec:
        if (self.managed is None) == (self.external is None):
            raise ValueError(MSG_EXACTLY_ONE_DATABASE)
        if self.flavor == "postgresql" and (duration_hours(self.partition_interval) or 0) < 24:
            raise ValueError(MSG_PARTITION_INTERVAL_TOO_SHORT)
        return self
