"""The collector's Vector configuration (vector/vector.yaml.j2), rendered from an AnalyticsStack.

`render_vector_config(stack)` is what the operator puts in the collector's ConfigMap and what the Ansible role
writes to /etc/vector. The constants below are the contract with the pods that run it: the ports to expose,
where the file source's volume and the data directory are mounted, and the environment variable that must hold
the buffer database's URL (from a Secret: the rendered configuration never contains a password).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from georchestra_analytics.render.environment import render_template
from georchestra_analytics.render.vrl import (
    ACCEPTED_SCOPE_PROGRAM,
    BUFFER_ROW_PROGRAM,
    TEXT_LINE_PROGRAM,
    VrlParameter,
    program_with_parameters,
)
from georchestra_analytics.stack import AnalyticsStack, CollectorSpec, environment

TEMPLATE = "vector/vector.yaml.j2"

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
API_PORT = 8686  # GET /health: liveness and readiness probes
METRICS_PORT = 9598  # Prometheus exposition of Vector's internal metrics

BUFFER_DSN_ENV = environment.DB_ENDPOINT
"""Environment variable holding the buffer database's URL (`postgresql://host:5432/db?sslmode=require`), the
one the pods already carry. The sink's driver (sqlx) takes the user and password from `PGUSER`/`PGPASSWORD`
when the URL has none, and those come from the credentials Secret (`secretKeyRef`). Vector resolves the
variable while loading its config, so the `vector validate` init container needs it as well."""

DATA_DIR = "/var/lib/vector"
"""Vector's data directory: disk buffer and file checkpoints. A volume that outlives the pod for a disk buffer."""
ACCESS_LOG_FILES_MOUNT = "/var/log/access"
"""Where the file source's PersistentVolumeClaim is mounted (read-only); spec paths are relative to it."""

BUFFER_TABLE = "otel_buffer"


@dataclass(frozen=True)
class BatchSettings:
    """How the postgres sink groups events into one INSERT."""

    # One batch is one INSERT and one transaction. A thousand rows keep an insert well under a second on a
    # modest server, and the parse job claims its batches independently of these.
    max_events: int = 1000
    max_bytes: int = 10_000_000
    # An event waits at most this long for its batch to fill. With acknowledgements an OTLP export is answered
    # only once its batch is written, and SDKs send one batch (512 records) at a time: this wait caps each
    # sender's rate (1 s: about 500 records/s; 0.1 s: about 2,600, bench/bench_collector.py). At low traffic
    # it costs at most ten small INSERTs a second; at high traffic batches fill before it expires.
    timeout_secs: float = 0.1


@dataclass(frozen=True)
class RequestSettings:
    """How the postgres sink retries. Only connection errors and pool time-outs are retried by Vector; with
    end-to-end acknowledgements the events stay in the buffer (and the sender is not answered) meanwhile."""

    timeout_secs: int = 60
    # Retry for as long as the database is away: with a disk buffer and `when_full: block`, the pressure goes
    # back to the senders instead of dropping events.
    retry_attempts: int = 2**63 - 1
    retry_initial_backoff_secs: int = 1
    retry_max_duration_secs: int = 30


@dataclass(frozen=True)
class BufferSettings:
    type: Literal["memory", "disk"] = "memory"
    max_events: int = 10_000
    max_size: int = 1 << 30
    when_full: Literal["block", "drop_newest"] = "block"


@dataclass(frozen=True)
class SyslogSettings:
    port: int
    mode: Literal["tcp", "udp"]
    log_format: str


@dataclass(frozen=True)
class FileSettings:
    paths: tuple[str, ...]
    """Glob patterns relative to ACCESS_LOG_FILES_MOUNT."""
    log_format: str


@dataclass(frozen=True)
class CollectorSettings:
    """Everything the Vector configuration depends on, as plain values."""

    schema: str = "analytics"
    accepted_scopes: tuple[str, ...] = ("org.georchestra.gateway.accesslog", "org.georchestra.security.accesslog")
    acknowledgements: bool = True
    buffer: BufferSettings = field(default_factory=BufferSettings)
    syslog: SyslogSettings | None = None
    files: FileSettings | None = None
    batch: BatchSettings = field(default_factory=BatchSettings)
    request: RequestSettings = field(default_factory=RequestSettings)
    pool_size: int = 2

    @classmethod
    def from_stack(cls, stack: AnalyticsStack) -> CollectorSettings:
        return cls.from_spec(stack.spec.collector, schema=stack.spec.database.schema_name)

    @classmethod
    def from_spec(cls, collector: CollectorSpec, *, schema: str) -> CollectorSettings:
        return cls(
            schema=schema,
            accepted_scopes=tuple(collector.accepted_scopes),
            acknowledgements=collector.acknowledgements,
            buffer=BufferSettings(
                type=collector.buffer.type,
                max_events=collector.buffer.max_events,
                max_size=collector.buffer.max_size,
                when_full=collector.buffer.when_full,
            ),
            syslog=(
                SyslogSettings(
                    port=collector.syslog.port, mode=collector.syslog.mode, log_format=collector.syslog.log_format
                )
                if collector.syslog
                else None
            ),
            files=(
                FileSettings(paths=tuple(collector.files.paths), log_format=collector.files.log_format)
                if collector.files
                else None
            ),
        )


def render_vector_config(stack: AnalyticsStack) -> str:
    """The collector's vector.yaml for `stack`."""
    return render_collector_config(CollectorSettings.from_stack(stack))


def render_collector_config(settings: CollectorSettings) -> str:
    """The collector's vector.yaml for plain settings (the AnalyticsStack's, or a test's)."""
    if not settings.accepted_scopes:
        raise ValueError("collector.acceptedScopes is empty: every OpenTelemetry access log would be dropped")
    return render_template(TEMPLATE, **_context(settings))


def quoted_table_name(schema: str, table: str) -> str:
    """`"schema"."table"` with PostgreSQL's identifier quoting: Vector writes the table name into SQL as is."""
    for name in (schema, table):
        if not name or "\x00" in name:
            raise ValueError(f"{name!r} cannot name a PostgreSQL schema or table")
    return ".".join('"' + name.replace('"', '""') + '"' for name in (schema, table))


def file_include_patterns(paths: tuple[str, ...]) -> list[str]:
    """The file source's absolute glob patterns, refusing any that would leave the mounted volume."""
    patterns = []
    for path in paths:
        if not path or path.startswith("/") or "\x00" in path or ".." in path.split("/"):
            raise ValueError(f"collector.files.paths: {path!r} must be a relative path inside the volume, without '..'")
        patterns.append(posixpath.join(ACCESS_LOG_FILES_MOUNT, path))
    return patterns


def _program(name: str, parameters: Mapping[str, VrlParameter] | None = None) -> str:
    # Vector expands `$NAME` anywhere in its config file, VRL included: `$$` keeps a literal `$`.
    return program_with_parameters(name, parameters).rstrip("\n").replace("$", "$$")


def _context(settings: CollectorSettings) -> dict[str, Any]:
    buffer_row_inputs = ["access_log_scopes"]
    syslog: dict[str, Any] | None = None
    if settings.syslog is not None:
        syslog = {
            "mode": settings.syslog.mode,
            "address": f"0.0.0.0:{settings.syslog.port}",
            "program": _program(TEXT_LINE_PROGRAM, {"log_format": settings.syslog.log_format}),
        }
        buffer_row_inputs.append("syslog_lines")
    files: dict[str, Any] | None = None
    if settings.files is not None:
        files = {
            "include": file_include_patterns(settings.files.paths),
            "program": _program(TEXT_LINE_PROGRAM, {"log_format": settings.files.log_format}),
        }
        buffer_row_inputs.append("file_lines")
    return {
        "data_dir": DATA_DIR,
        "api_address": f"0.0.0.0:{API_PORT}",
        "metrics_address": f"0.0.0.0:{METRICS_PORT}",
        "otlp_grpc_port": OTLP_GRPC_PORT,
        "otlp_http_port": OTLP_HTTP_PORT,
        "otlp_grpc_address": f"0.0.0.0:{OTLP_GRPC_PORT}",
        "otlp_http_address": f"0.0.0.0:{OTLP_HTTP_PORT}",
        "syslog": syslog,
        "files": files,
        "accepted_scope_program": _program(ACCEPTED_SCOPE_PROGRAM, {"accepted_scopes": list(settings.accepted_scopes)}),
        "buffer_row_program": _program(BUFFER_ROW_PROGRAM),
        "buffer_row_inputs": buffer_row_inputs,
        "buffer_table": quoted_table_name(settings.schema, BUFFER_TABLE),
        "dsn_env": BUFFER_DSN_ENV,
        "pool_size": settings.pool_size,
        "acknowledgements": settings.acknowledgements,
        "batch": settings.batch,
        "request": settings.request,
        "buffer": settings.buffer,
    }
