"""What a source extracts from one access log before classification: the same shape for every format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class LoggedRequest:
    ts: datetime  # aware, UTC
    id: str
    source: str  # gateway | security-proxy | combined | clf
    method: str | None
    url: str  # absolute URL or path, with its query string, still URL-encoded
    status: int | None = None
    user: str | None = None
    org: str | None = None  # the organisation's id (short name), when the source logs it
    org_name: str | None = None  # its display name, when the source logs it
    roles: list[str] = field(default_factory=list)
    client_ip: str | None = None
    response_time_ms: int | None = None
    response_size: int | None = None
    referrer: str | None = None
    user_agent: str | None = None
    # Decoded request parameters logged beside the URL (Gateway `http.request.parameter.<Name>`), lower-case names.
    extra_params: dict[str, str] | None = None
