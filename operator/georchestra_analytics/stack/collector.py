"""The collector: Vector receiving OpenTelemetry logs (and optionally syslog or files) into the buffer table."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.k8s_names import DnsLabel, Labels
from georchestra_analytics.stack.pods import PodSettings
from georchestra_analytics.stack.references import ObjectName

# Vector refuses a disk buffer smaller than this (its minimum max_size, in bytes).
DISK_BUFFER_MIN_BYTES = 268435488
MSG_DISK_BUFFER_SIZE = f"collector.buffer.maxSize must be at least {DISK_BUFFER_MIN_BYTES} bytes for a disk buffer"
# Vector's syslog source cannot acknowledge: its lines are at most once whatever the sink does, so a stack with
# syslog must say it accepts that.
SYSLOG_DELIVERY = "atMostOnce"
MSG_SYSLOG_DELIVERY = (
    f"collector.syslog.delivery must be {SYSLOG_DELIVERY}: syslog cannot acknowledge, so lines the collector has"
    " received but not yet stored are lost if it stops or crashes, and the sender is never told; for"
    " at-least-once delivery send OpenTelemetry logs (OTLP) from the application, or use collector.files"
)

GATEWAY_ACCESS_LOG_SCOPE = "org.georchestra.gateway.accesslog"
SECURITY_PROXY_ACCESS_LOG_SCOPE = "org.georchestra.security.accesslog"

ScopeName = Annotated[str, Field(min_length=1, max_length=256)]
# A file pattern relative to the volume's root: no NUL (the API server would store it, Vector cannot open it)
# and no `..` segment (it would leave the volume).
FILE_PATH_PATTERN = r"^[^/\x00][^\x00]*$"
PARENT_SEGMENT_PATTERN = r"(^|/)\.\.(/|$)"
MSG_FILE_PATH = "collector.files.paths entries must be relative to the volume's root, without a '..' segment or NUL"


def _inside_the_volume(path: str) -> str:
    if not re.fullmatch(FILE_PATH_PATTERN, path) or re.search(PARENT_SEGMENT_PATTERN, path):
        raise ValueError(f"{path!r}: {MSG_FILE_PATH}")
    return path


FilePattern = Annotated[
    str,
    Field(min_length=1, max_length=512),
    AfterValidator(_inside_the_volume),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 512,
            "pattern": FILE_PATH_PATTERN,
            "x-kubernetes-validations": [
                {"rule": f"!self.matches(r'{PARENT_SEGMENT_PATTERN}')", "message": MSG_FILE_PATH}
            ],
        }
    ),
]


class Buffer(SpecModel):
    """Vector's buffer in front of the database sink."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    # has(): the API server also checks the rule on the bare `default: {}` of this section.
                    "rule": (
                        f"!has(self.type) || self.type != 'disk' || !has(self.maxSize)"
                        f" || self.maxSize >= {DISK_BUFFER_MIN_BYTES}"
                    ),
                    "message": MSG_DISK_BUFFER_SIZE,
                }
            ]
        }
    }

    type: Literal["memory", "disk"] = "memory"
    """memory is fast but loses buffered events when a pod restarts; disk survives restarts and runs the
    collector as a StatefulSet with one volume per replica (so does a `files` source, for its checkpoints)."""
    max_events: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    """Memory buffer: how many events it holds."""
    max_size: Annotated[int, Field(ge=1, le=1 << 40)] = 1 << 30
    """Disk buffer: its size in bytes (at least 268435488); the volumes are sized a quarter larger when they
    are created (later changes resize the buffer, not existing volumes)."""
    storage_class_name: ObjectName | None = None
    """Storage class of the collector's data volumes (disk buffer, or a `files` source's checkpoints); empty
    uses the cluster's default."""
    when_full: Literal["block", "drop_newest"] = "block"
    """block pushes back on senders (nothing lost while they retry); drop_newest discards new events."""

    @model_validator(mode="after")
    def _disk_minimum(self) -> Buffer:
        if self.type == "disk" and self.max_size < DISK_BUFFER_MIN_BYTES:
            raise ValueError(MSG_DISK_BUFFER_SIZE)
        return self


class NetworkAccess(SpecModel):
    """Who may send logs to the collector (a NetworkPolicy on the OTLP and syslog ports)."""

    enabled: bool = True
    """Create the NetworkPolicy. Without it any pod of the cluster can reach the collector."""
    allowed_namespaces: Annotated[list[DnsLabel], Field(max_length=64)] = Field(default_factory=list)
    """Namespaces whose pods may send; empty allows only the AnalyticsStack's own namespace."""
    allowed_pod_labels: Labels = Field(default_factory=dict)
    """Labels a sending pod must carry (in the allowed namespaces); empty allows every pod there."""


class SyslogSource(SpecModel):
    """Receive access-log lines over syslog (for example from nginx or Apache). Syslog cannot acknowledge:
    `delivery: atMostOnce` is required to say that this loss is accepted."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [{"rule": "has(self.delivery)", "message": MSG_SYSLOG_DELIVERY}]
        }
    }

    port: Annotated[int, Field(ge=1024, le=65535)] = 5140
    """Port Vector listens on (non-privileged: the collector does not run as root)."""
    mode: Literal["tcp", "udp"] = "tcp"
    """Transport of the syslog messages."""
    log_format: Literal["clf", "combined", "security-proxy"] = "combined"
    """Format of the access-log lines carried in the messages."""
    delivery: Literal["atMostOnce"] | None = None
    """Required, and only `atMostOnce`: the syslog source cannot acknowledge, so, unlike OTLP, a line is not
    held by its sender until it is stored. Lines the collector has received but not yet written to the buffer
    table (or to a disk buffer) are lost if it stops or crashes, and over UDP so is every line sent while it is
    down or saturated. For at-least-once delivery, send OpenTelemetry logs (OTLP) from the application, or let
    the web server write files that `files` reads: its checkpoints advance only once lines are stored."""

    @model_validator(mode="after")
    def _delivery_chosen(self) -> SyslogSource:
        if self.delivery is None:
            raise ValueError(MSG_SYSLOG_DELIVERY)
        return self


class FileSource(SpecModel):
    """Read access-log files from a volume shared with the web server that writes them. Vector's read
    positions (checkpoints) are kept on a volume per collector replica (the collector runs as a StatefulSet), so
    a restarted collector reads neither the files nor their rotated copies again."""

    claim_name: ObjectName
    """PersistentVolumeClaim holding the files, mounted read-only in the collector pods."""
    paths: Annotated[
        list[FilePattern],
        Field(min_length=1, max_length=16),
    ]
    """Glob patterns of the files, relative to the volume's root (e.g. `nginx/access*.log`), without `..`."""
    log_format: Literal["clf", "combined", "security-proxy"] = "combined"
    """Format of the lines."""


def _default_scopes() -> list[str]:
    return [GATEWAY_ACCESS_LOG_SCOPE, SECURITY_PROXY_ACCESS_LOG_SCOPE]


class CollectorSpec(PodSettings):
    """The Vector collector."""

    replicas: Annotated[int, Field(ge=1, le=20)] = 2
    """Number of Vector pods behind the OTLP Service."""
    buffer: Buffer = Field(default_factory=Buffer)
    """Buffer in front of the database sink."""
    acknowledgements: bool = True
    """Acknowledge an OTLP request only once its events are written to the buffer table (or the disk buffer),
    so senders retry what was not stored."""
    accepted_scopes: Annotated[list[ScopeName], Field(min_length=1, max_length=64)] = Field(
        default_factory=_default_scopes
    )
    """OpenTelemetry instrumentation scopes (logger names) kept; other log records are dropped at the
    collector. Defaults to the geOrchestra Gateway's and security-proxy's access loggers."""
    network: NetworkAccess = Field(default_factory=NetworkAccess)
    """Who may send logs to the collector."""
    syslog: SyslogSource | None = None
    """Optional syslog source for text access-log lines, delivered at most once (see its `delivery`)."""
    files: FileSource | None = None
    """Optional file source for text access-log files on a shared volume."""
