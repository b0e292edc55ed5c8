"""The status the operator reports: phase, conditions with named reasons, endpoints, the last parse run."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from georchestra_analytics.stack.base import SpecModel


class ConditionType(StrEnum):
    READY = "Ready"
    DATABASE_READY = "DatabaseReady"
    SCHEMA_READY = "SchemaReady"
    COLLECTOR_READY = "CollectorReady"
    PARSER_READY = "ParserReady"
    DASHBOARDS_SYNCED = "DashboardsSynced"
    SUSPENDED = "Suspended"


class Reason(StrEnum):
    """Machine-readable reasons of conditions; the message says what to do."""

    # Ready
    ALL_COMPONENTS_READY = "AllComponentsReady"
    COMPONENTS_NOT_READY = "ComponentsNotReady"
    # Database
    DATABASE_AVAILABLE = "DatabaseAvailable"
    DATABASE_STARTING = "DatabaseStarting"
    DATABASE_UNREACHABLE = "DatabaseUnreachable"
    SECRET_NOT_FOUND = "SecretNotFound"
    SECRET_KEY_MISSING = "SecretKeyMissing"
    # Schema
    MIGRATION_RUNNING = "MigrationRunning"
    MIGRATION_SUCCEEDED = "MigrationSucceeded"
    MIGRATION_FAILED = "MigrationFailed"
    # Collector
    COLLECTOR_AVAILABLE = "CollectorAvailable"
    COLLECTOR_PROGRESSING = "CollectorProgressing"
    COLLECTOR_UNAVAILABLE = "CollectorUnavailable"
    # Parser
    PARSE_SUCCEEDED = "ParseSucceeded"
    PARSE_NOT_RUN_YET = "ParseNotRunYet"
    PARSE_FAILED = "ParseFailed"
    BACKLOG_GROWING = "BacklogGrowing"
    # Dashboards
    DASHBOARDS_IMPORTED = "DashboardsImported"
    SYNC_RUNNING = "SyncRunning"
    SYNC_FAILED = "SyncFailed"
    SUPERSET_NOT_CONFIGURED = "SupersetNotConfigured"
    # Suspension
    SUSPENDED_BY_SPEC = "SuspendedBySpec"
    NOT_SUSPENDED = "NotSuspended"
    # Anything that stops the reconcile itself
    INVALID_SPEC = "InvalidSpec"
    RECONCILE_ERROR = "ReconcileError"


class Phase(StrEnum):
    """One word summing up the stack."""

    PROVISIONING = "Provisioning"
    READY = "Ready"
    DEGRADED = "Degraded"
    SUSPENDED = "Suspended"
    FAILED = "Failed"


class Condition(SpecModel):
    """A condition as Kubernetes' metav1.Condition."""

    type: Annotated[str, Field(min_length=1, max_length=316)]
    """Ready, DatabaseReady, SchemaReady, CollectorReady, ParserReady, DashboardsSynced or Suspended."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")]
    """A CamelCase word for programs."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """What happened and what to do, for people."""
    last_transition_time: datetime
    """When the status last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The spec generation the condition was computed from."""


class Endpoints(SpecModel):
    """Where applications send their OpenTelemetry logs."""

    otlp_grpc: Annotated[str, Field(max_length=512)] | None = None
    """OTLP over gRPC, e.g. http://analytics-collector.geor.svc:4317."""
    otlp_http: Annotated[str, Field(max_length=512)] | None = None
    """OTLP over HTTP, e.g. http://analytics-collector.geor.svc:4318."""


class LastParse(SpecModel):
    """The latest finished parse run, read from the Job's termination message."""

    job_name: Annotated[str, Field(max_length=253)] | None = None
    """Name of the Job."""
    time: datetime | None = None
    """When the run finished."""
    succeeded: bool | None = None
    """Whether the run succeeded."""
    claimed: Annotated[int, Field(ge=0)] | None = None
    """Buffer rows claimed."""
    written: Annotated[int, Field(ge=0)] | None = None
    """Access records written (replays of already stored records are not counted)."""
    rejected: Annotated[int, Field(ge=0)] | None = None
    """Records rejected (kept with their reason in rejected_logs)."""
    oldest_buffered_age_seconds: Annotated[int, Field(ge=0)] | None = None
    """Age of the oldest record still in the buffer after the run."""
    message: Annotated[str, Field(max_length=4096)] | None = None
    """Error of a failed run."""


class StackStatus(SpecModel):
    """Observed state of an AnalyticsStack, written by the operator."""

    model_config = SpecModel.model_config | {"extra": "ignore"}

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The spec generation the status describes."""
    phase: Phase | None = None
    """Provisioning, Ready, Degraded, Suspended or Failed."""
    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, DatabaseReady, SchemaReady, CollectorReady, ParserReady, DashboardsSynced, Suspended."""
    endpoints: Endpoints | None = None
    """OTLP endpoints of the collector."""
    schema_version: Annotated[str, Field(max_length=64)] | None = None
    """Latest database migration applied."""
    migration_job: Annotated[str, Field(max_length=253)] | None = None
    """Name of the db-migrate Job matching the current spec."""
    last_parse: LastParse | None = None
    """The latest finished parse run."""
    last_dashboards_sync: datetime | None = None
    """When the Superset bundle was last imported."""
