"""The parsed access record (docs/architecture.md, Contracts) and the reject that replaces it when an input is
unusable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict


class UserAgent(TypedDict):
    family: str | None
    version: str | None
    os: str | None
    device: str | None


class AccessRecord(TypedDict):
    """One row of `access_logs`. `ts` is an aware UTC datetime here; JSON output writes it as ISO 8601."""

    ts: datetime
    id: str
    source: str
    server: str | None
    app: str | None
    method: str | None
    path: str
    query: str | None
    status: int | None
    user: str | None
    org: str | None
    roles: list[str]
    service: str | None
    request: str | None
    layers: list[str]
    workspaces: list[str]
    tiled: bool
    is_download: bool
    download_format: str | None
    response_time_ms: int | None
    response_size: int | None
    referrer: str | None
    user_agent: UserAgent
    client_ip: str | None
    tags: list[str]


# Column order of `access_logs`, shared by the dry-run output, the writer and the benchmark.
RECORD_KEYS: tuple[str, ...] = tuple(AccessRecord.__annotations__)


@dataclass(frozen=True, slots=True)
class Reject:
    """An input that gives no record. `reason` is a short, low-cardinality phrase (counted per run);
    `raw` keeps the whole input (JSON-safe) so nothing is lost and the reason can be checked later."""

    reason: str
    raw: dict[str, Any]
    source: str | None = None


def record_to_json(record: AccessRecord) -> dict[str, Any]:
    """The record as the dry-run prints it: same keys, `ts` as ISO 8601 UTC."""
    out: dict[str, Any] = dict(record)
    out["ts"] = record["ts"].isoformat().replace("+00:00", "Z")
    return out
