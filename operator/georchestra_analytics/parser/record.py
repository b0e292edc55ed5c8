"""The parsed access record (docs/architecture.md, Contracts) and the reject that replaces it when an input is
unusable.

`AccessRecord` is the one declaration of the record's columns: each key with its Python type and, attached to
it, its SQL type. Everything else is derived from it: `RECORD_KEYS` (the order of the dry-run output and of
`access_logs`), `RECORD_COLUMNS` (key -> SQL type: the writer's staging tables and checks, the benchmarks), and a
test compares both flavors' migrated `access_logs` with it. Adding a column: add it here, and add it to the
tables in a new migration (a versioned migration never changes once applied).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypedDict, get_type_hints


@dataclass(frozen=True, slots=True)
class Sql:
    """The SQL type of a record column, attached to its Python type with `Annotated`."""

    type: str


TIMESTAMPTZ, TEXT, TEXT_ARRAY, BOOLEAN = Sql("timestamptz"), Sql("text"), Sql("text[]"), Sql("boolean")
SMALLINT, INTEGER, BIGINT, JSONB = Sql("smallint"), Sql("integer"), Sql("bigint"), Sql("jsonb")
DOUBLE = Sql("double precision")


class UserAgent(TypedDict):
    family: str | None
    version: str | None
    os: str | None
    device: str | None


class AccessRecord(TypedDict):
    """One row of `access_logs`, in column order. `ts` is an aware UTC datetime here; JSON output writes it as
    ISO 8601."""

    ts: Annotated[datetime, TIMESTAMPTZ]
    id: Annotated[str, TEXT]
    source: Annotated[str, TEXT]
    server: Annotated[str | None, TEXT]
    app: Annotated[str | None, TEXT]
    method: Annotated[str | None, TEXT]
    path: Annotated[str, TEXT]
    query: Annotated[str | None, TEXT]
    status: Annotated[int | None, SMALLINT]
    user: Annotated[str | None, TEXT]
    org: Annotated[str | None, TEXT]
    roles: Annotated[list[str], TEXT_ARRAY]
    service: Annotated[str | None, TEXT]
    request: Annotated[str | None, TEXT]
    layers: Annotated[list[str], TEXT_ARRAY]
    workspaces: Annotated[list[str], TEXT_ARRAY]
    tiled: Annotated[bool, BOOLEAN]
    is_download: Annotated[bool, BOOLEAN]
    download_format: Annotated[str | None, TEXT]
    response_time_ms: Annotated[int | None, INTEGER]
    response_size: Annotated[int | None, BIGINT]
    referrer: Annotated[str | None, TEXT]
    user_agent: Annotated[UserAgent, JSONB]
    client_ip: Annotated[str | None, TEXT]
    tags: Annotated[list[str], TEXT_ARRAY]
    # Added by migration 0006, so last: `org` is the organisation's key, this its display name (docs/classification.md).
    org_name: Annotated[str | None, TEXT]
    # `download_format` is the canonical name (parser/formats.py), this the format as requested.
    download_format_requested: Annotated[str | None, TEXT]
    # Added by migration 0009: the extent the request asked for, in EPSG:4326 degrees (parser/extent.py); all
    # four or none.
    extent_west: Annotated[float | None, DOUBLE]
    extent_south: Annotated[float | None, DOUBLE]
    extent_east: Annotated[float | None, DOUBLE]
    extent_north: Annotated[float | None, DOUBLE]
    # Added by migration 0010 (docs/classification.md, Robots, countries and client applications): whether the
    # client is a robot and which, the country and region of its address (looked up before the privacy rules
    # truncate it), the client application from the user agent and referrer.
    is_robot: Annotated[bool, BOOLEAN]
    robot_family: Annotated[str | None, TEXT]
    country: Annotated[str | None, TEXT]
    region: Annotated[str | None, TEXT]
    client_app: Annotated[str | None, TEXT]


def _sql_types() -> dict[str, str]:
    types = {}
    for key, hint in get_type_hints(AccessRecord, include_extras=True).items():
        marks = [mark for mark in getattr(hint, "__metadata__", ()) if isinstance(mark, Sql)]
        if len(marks) != 1:
            raise TypeError(f"AccessRecord.{key} needs exactly one Sql type")
        types[key] = marks[0].type
    return types


# Key -> SQL type, in access_logs column order.
RECORD_COLUMNS: dict[str, str] = _sql_types()
# Column order of `access_logs`, shared by the dry-run output, the writer and the benchmark.
RECORD_KEYS: tuple[str, ...] = tuple(RECORD_COLUMNS)


@dataclass(frozen=True, slots=True)
class Reject:
    """An input that gives no record. `reason` is a short, low-cardinality phrase (counted per run);
    `raw` keeps the whole input (JSON-safe) so nothing is lost and the reason can be checked later; `id` names
    what was rejected, so a replay keeps it once (None: always kept)."""

    reason: str
    raw: Any
    source: str | None = None
    id: str | None = None


def record_to_json(record: AccessRecord) -> dict[str, Any]:
    """The record as the dry-run prints it: same keys, `ts` as ISO 8601 UTC."""
    out: dict[str, Any] = dict(record)
    out["ts"] = record["ts"].isoformat().replace("+00:00", "Z")
    return out
