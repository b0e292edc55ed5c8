"""Buffer rows: Vector `opentelemetry` log events as the postgres sink stores them (one column per event field).

Gateway access logs (scope `org.georchestra.gateway.accesslog`) are read from their attributes; text access
lines (security-proxy through OTel, or files loaded by `ingest` / Vector's file source) from `message`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from georchestra_analytics.parser import jsonfast
from georchestra_analytics.parser.bounds import MAX_LINE_CHARS
from georchestra_analytics.parser.ids import record_id, stable_id
from georchestra_analytics.parser.jsonfast import Unreadable
from georchestra_analytics.parser.record import Reject
from georchestra_analytics.parser.request import LoggedRequest
from georchestra_analytics.parser.sources.addresses import client_address, forwarded_for
from georchestra_analytics.parser.sources.addresses import socket_address_ip as socket_address_ip  # re-exported
from georchestra_analytics.parser.sources.clf import parse_text_line

GATEWAY_SCOPE = "org.georchestra.gateway.accesslog"
SECURITY_PROXY_SCOPE = "org.georchestra.security.accesslog"
# Set by `ingest` on the rows it writes: the line's stable id, computed from the file name and content.
RECORD_UID_ATTRIBUTE = "log.record.uid"
FORMAT_ATTRIBUTE = "log.format"
# Set by `ingest` on the row standing for an input it could not read to its end (a truncated .gz).
INGEST_PROBLEM_ATTRIBUTE = "log.ingest.problem"
_INGEST_PROBLEM_PREFIX = "unreadable input: "

_JSON_COLUMNS = ("attributes", "resources", "scope")
_HEADER_PREFIX = "http.request.header."
_PARAMETER_PREFIX = "http.request.parameter."
_REQUEST_PREFIXES = (_HEADER_PREFIX, _PARAMETER_PREFIX)
_HEADER_CUT, _PARAMETER_CUT = len(_HEADER_PREFIX), len(_PARAMETER_PREFIX)
# First found wins. `http.response.body.size_bytes` and `http.response.duration_ms` are the keys georchestra/analytics
# 2.x reads; `http.response.body.size` and `http.server.request.duration` (seconds) OpenTelemetry's HTTP
# conventions; the others older conventions.
_SIZE_ATTRIBUTES = (
    "http.response.body.size",
    "http.response.body.size_bytes",
    "http.response.size",
    "http.response_content_length",
)
_DURATION_MS_ATTRIBUTES = (
    "http.response.duration_ms",
    "http.server.duration",
    "http.response.time",
    "duration_ms",
    "http.request.duration",
)
# Semantic conventions give this one in seconds.
_DURATION_S_ATTRIBUTES = ("http.server.request.duration",)
GATEWAY_REMOTE_ADDR_ATTRIBUTE = "http.request.remote-addr"
_CLIENT_IP_ATTRIBUTES = ("client.address", "http.client_ip", GATEWAY_REMOTE_ADDR_ATTRIBUTE, "net.peer.ip")
# One set intersection tells whether any of them is there: the Gateway emits none by default.
_MEASUREMENT_ATTRIBUTES = frozenset(
    _SIZE_ATTRIBUTES + _DURATION_MS_ATTRIBUTES + _DURATION_S_ATTRIBUTES + _CLIENT_IP_ATTRIBUTES
)
# The request as OpenTelemetry's HTTP conventions name it, for sources other than the Gateway's MDC.
_STATUS_ATTRIBUTES = ("http.status_code", "http.response.status_code")
_URL_ATTRIBUTES = ("http.request.url", "url.full")
_SERVER_ADDRESS_ATTRIBUTE = "server.address"
_PROXY_HEADERS = ("x-forwarded-for", "forwarded")


def json_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as it can be stored in `rejected_logs.raw` (jsonb): timestamps as ISO text, an unreadable
    column as its reason."""
    return {
        key: value.isoformat()
        if isinstance(value, datetime)
        else str(value)
        if isinstance(value, Unreadable)
        else value
        for key, value in row.items()
    }


def read_timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = value / 1e9 if value > 1e14 else float(value)  # OTLP's nanoseconds, or epoch seconds
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _as_mapping(value: Any) -> dict[str, Any] | None:
    """jsonb columns arrive as dicts from psycopg; some exporters double-encode them as a JSON string."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            decoded = jsonfast.loads(value)
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value)) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _bounded(value: int | None, upper: int) -> int | None:
    """Values outside the column's range (or negative) are not measurements: null, not a failed batch."""
    return value if value is not None and 0 <= value < upper else None


def _scalar_text(value: Any) -> str | None:
    """An attribute meant as text: a number is taken as its text, an object or a list (a wrong type) as none."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value not in (None, ""):
            return value
    return None


def _url(attributes: Mapping[str, Any]) -> Any:
    url = _first(attributes, _URL_ATTRIBUTES)
    if url is None:
        path = attributes.get("url.path")
        if isinstance(path, str) and path.startswith("/"):
            query = attributes.get("url.query")
            url = f"{path}?{query}" if isinstance(query, str) and query else path
    if isinstance(url, str) and url.startswith("/"):
        # A path alone: the server the request was addressed to, when the source names it.
        server = attributes.get(_SERVER_ADDRESS_ATTRIBUTE)
        if isinstance(server, str) and server and "/" not in server and len(server) <= 255:
            scheme = attributes.get("url.scheme")
            url = f"{scheme if scheme in ('http', 'https') else 'http'}://{server}{url}"
    return url


def _duration_ms(attributes: Mapping[str, Any]) -> int | None:
    duration = _int(_first(attributes, _DURATION_MS_ATTRIBUTES))
    if duration is not None:
        return duration
    seconds = _first(attributes, _DURATION_S_ATTRIBUTES)
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        return round(float(seconds) * 1000)
    except (TypeError, ValueError, OverflowError):
        return None


def _gateway(row: Mapping[str, Any], attributes: dict[str, Any], ts: datetime) -> LoggedRequest | Reject:
    url = _url(attributes)
    method = attributes.get("http.request.method")
    status: Any = _first(attributes, _STATUS_ATTRIBUTES)
    message = row.get("message")
    if not url and isinstance(message, str):
        # The body repeats "METHOD STATUS URL": enough when the attributes were trimmed.
        parts = message.split(" ", 2)
        if len(parts) == 3:
            method, status, url = method or parts[0], status or parts[1], parts[2]
    if not isinstance(url, str) or not url:
        return Reject("gateway log without a request URL", json_safe(row), "gateway")
    if len(url) > MAX_LINE_CHARS:
        return Reject("request URL too long", json_safe(row), "gateway")
    headers: dict[str, str] = {}
    params: dict[str, str] | None = None
    for name, value in attributes.items():
        if not name.startswith(_REQUEST_PREFIXES):
            continue
        if name.startswith(_HEADER_PREFIX):
            headers[name[_HEADER_CUT:].lower()] = str(value)
        elif name.startswith(_PARAMETER_PREFIX):
            if params is None:
                params = {}
            params[name[_PARAMETER_CUT:].lower()] = str(value)
    user = attributes.get("enduser.id") or None
    roles_text = attributes.get("enduser.roles")
    roles = [r.strip() for r in roles_text.split(",") if r.strip()] if isinstance(roles_text, str) and user else []
    duration: int | None = None
    size: int | None = None
    direct: str | None = None
    if not _MEASUREMENT_ATTRIBUTES.isdisjoint(attributes):
        duration = _duration_ms(attributes)
        size = _int(_first(attributes, _SIZE_ATTRIBUTES))
        direct = _scalar_text(_first(attributes, _CLIENT_IP_ATTRIBUTES))
    hops: list[str] = []
    for header in _PROXY_HEADERS:
        if header in headers:
            hops += forwarded_for(headers[header])
    client_ip = client_address(direct, hops) if direct is not None or hops else None
    uid = attributes.get(RECORD_UID_ATTRIBUTE)
    request_id = attributes.get("http.request.id")
    if isinstance(uid, str) and uid:
        uid = record_id(uid)
    elif isinstance(request_id, str) and request_id:
        # The Gateway's own request id: unique per request, and far cheaper than digesting every attribute.
        uid = stable_id("gateway", ts.isoformat(), request_id, url)
    else:
        uid = stable_id(
            "otel",
            ts.isoformat(),
            message if isinstance(message, str) else "",
            str(row.get("trace_id") or ""),
            str(row.get("span_id") or ""),
            json.dumps(attributes, sort_keys=True, separators=(",", ":"), default=str),
        )
    return LoggedRequest(
        ts=ts,
        id=uid,
        source="gateway",
        method=str(method).upper() if method else None,
        url=url,
        status=_bounded(_int(status), 1000),
        user=str(user) if user else None,
        org=_scalar_text(attributes.get("enduser.org.id")) if user else None,
        org_name=_scalar_text(attributes.get("enduser.org.fullname")) if user else None,
        roles=roles,
        client_ip=client_ip,
        response_time_ms=_bounded(duration, 2**31),
        response_size=_bounded(size, 2**63),
        referrer=headers.get("referer") or headers.get("referrer"),
        user_agent=headers.get("user-agent"),
        extra_params=params,
    )


def _text(row: Mapping[str, Any], message: str, attributes: dict[str, Any] | None) -> LoggedRequest | Reject:
    attrs = attributes or {}
    uid = attrs.get(RECORD_UID_ATTRIBUTE)
    if isinstance(uid, str) and uid:
        uid = record_id(uid)
    else:
        uid = stable_id("text", str(attrs.get("log.file.name") or ""), message)
    hint = attrs.get(FORMAT_ATTRIBUTE)
    parsed = parse_text_line(message, uid, format_hint=hint if isinstance(hint, str) else None)
    if isinstance(parsed, Reject):
        return Reject(parsed.reason, json_safe(row), parsed.source)
    return parsed


def read_buffer_row(row: Mapping[str, Any]) -> LoggedRequest | Reject:
    """One buffer row (a dict of its columns) to a LoggedRequest, or a Reject with the whole row."""
    for column in _JSON_COLUMNS:
        value = row.get(column)
        if isinstance(value, Unreadable):
            return Reject(f"unreadable {column}: {value.reason}", json_safe(row))
    scope = _as_mapping(row.get("scope"))
    scope_name = scope.get("name") if scope else None
    attributes = _as_mapping(row.get("attributes"))
    message = row.get("message")
    if scope_name == GATEWAY_SCOPE:
        if not attributes:
            return Reject("gateway log without attributes", json_safe(row), "gateway")
        ts = read_timestamp(row.get("timestamp")) or read_timestamp(row.get("observed_timestamp"))
        if ts is None:
            return Reject("missing or bad timestamp", json_safe(row), "gateway")
        return _gateway(row, attributes, ts)
    if scope_name not in (None, "", SECURITY_PROXY_SCOPE):
        return Reject("not an access log (other scope)", json_safe(row))
    if isinstance(message, str) and message:
        problem = attributes.get(INGEST_PROBLEM_ATTRIBUTE) if attributes else None
        if isinstance(problem, str) and problem.startswith(_INGEST_PROBLEM_PREFIX) and len(problem) <= 200:
            return Reject(problem, json_safe(row))  # bounded: a row claiming a reason cannot flood the reasons
        return _text(row, message, attributes)
    return Reject("not an access log (no message)", json_safe(row))
