"""Realistic access-log builders: geOrchestra Gateway OTel buffer rows, security-proxy lines, nginx combined
lines. Shared by the parser tests, the benchmark and anyone who needs believable input."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord, Reject

GATEWAY_SCOPE = "org.georchestra.gateway.accesslog"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36"
)
QGIS = "Mozilla/5.0 QGIS/34000/Ubuntu 22.04.3 LTS"
DEFAULT_TS = datetime(2026, 11, 27, 9, 30, 15, 123000, tzinfo=UTC)
PUBLIC_HOST = "https://geo.example.org"


def gateway_row(
    path_and_query: str,
    *,
    method: str = "GET",
    status: int | str = 200,
    user: str | None = None,
    org: str | None = None,
    roles: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    ts: datetime = DEFAULT_TS,
    host: str = PUBLIC_HOST,
) -> dict[str, Any]:
    """A buffer row as Vector's postgres sink writes a Gateway access log (timestamps as Vector's JSON gives them)."""
    url = f"{host}{path_and_query}"
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "http.status_code": str(status),
        "http.request.url": url,
        "http.request.id": "req-" + hashlib.blake2b(f"{url} {ts} {user}".encode()).hexdigest()[:12],
    }
    if "?" in path_and_query:
        attributes["http.request.query-string"] = path_and_query.split("?", 1)[1]
    for name, value in (headers or {}).items():
        attributes[f"http.request.header.{name}"] = value
    for name, value in (parameters or {}).items():
        attributes[f"http.request.parameter.{name}"] = value
    if user is not None:
        attributes["enduser.id"] = user
        attributes["enduser.auth-method"] = "FormLoginAuthenticationToken"
        if org is not None:
            attributes["enduser.org.id"] = org
        if roles:
            attributes["enduser.roles"] = ",".join(roles)
    attributes.update(extra or {})
    return {
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "observed_timestamp": ts.isoformat().replace("+00:00", "Z"),
        "message": f"{method} {status} {url}",
        "attributes": attributes,
        "resources": {"service.name": "gateway", "host.name": "gateway-7d9f8"},
        "scope": {"name": GATEWAY_SCOPE, "version": ""},
        "trace_id": None,
        "span_id": None,
        "severity_text": "INFO",
        "severity_number": 9,
        "flags": 0,
        "dropped_attributes_count": 0,
        "source_type": "opentelemetry",
    }


def _clf_time(ts: datetime) -> str:
    return ts.strftime("%d/%b/%Y:%H:%M:%S %z")


def proxy_line(
    backend_url: str,
    *,
    method: str = "GET",
    status: int = 200,
    size: int = 4312,
    user: str | None = None,
    org: str | None = None,
    roles: Sequence[str] = (),
    agent: str = FIREFOX,
    ip: str = "192.0.2.44",
    ts: datetime = DEFAULT_TS,
    millis: int = 87,
) -> str:
    """A security-proxy access line (logger org.georchestra.security.accesslog)."""
    identity = "anonymousUser" if user is None else f"{user}|{org or ''}|{','.join(roles)}"
    target = backend_url.split("/", 3)[:3]
    return (
        f'{ip} - {identity} [{_clf_time(ts)}] "{method} {backend_url} HTTP/1.1" {status} {size} "-" '
        f'"{agent}" - "{"/".join(target)}" "-" {millis}ms'
    )


def combined_line(
    path_and_query: str,
    *,
    method: str = "GET",
    status: int = 200,
    size: int | None = 1520,
    referrer: str | None = None,
    agent: str | None = CHROME,
    ip: str = "198.51.100.7",
    user: str = "-",
    ts: datetime = DEFAULT_TS,
) -> str:
    """An nginx/Apache `combined` access line."""
    return (
        f'{ip} - {user} [{_clf_time(ts)}] "{method} {path_and_query} HTTP/1.1" {status} '
        f'{"-" if size is None else size} "{referrer or "-"}" "{agent or "-"}"'
    )


def record_of_row(pipeline: Pipeline, row: dict[str, Any]) -> AccessRecord:
    """The record of one buffer row, failing the test with the reason if it is rejected."""
    result = pipeline.parse_row(row)
    assert not isinstance(result, Reject), f"rejected: {result.reason}"
    return result


def record_of_line(pipeline: Pipeline, line: str, source: str = "access.log") -> AccessRecord:
    """The record of one text line, failing the test with the reason if it is rejected."""
    result = pipeline.parse_line(line, source, 0)
    assert not isinstance(result, Reject), f"rejected: {result.reason}"
    return result


def _text_row(line: str, ts: datetime) -> dict[str, Any]:
    """A text line as it lands in the buffer from the collector's file source."""
    return {"timestamp": ts, "observed_timestamp": ts, "message": line, "source_type": "file",
            "attributes": {"log.file.name": "access.log"}}  # fmt: skip


def mixed_backlog(count: int, seed: int = 7, start: datetime = DEFAULT_TS) -> Iterator[dict[str, Any]]:
    """`count` buffer rows shaped like a busy platform's: mostly Gateway OGC traffic over many users,
    organisations and layers, some security-proxy and nginx lines, a few unusable rows (about 2%)."""
    rng = random.Random(seed)
    workspaces = [f"ws{n}" for n in range(20)]
    layers = [f"{rng.choice(workspaces)}:layer_{n}" for n in range(300)]
    users = [(f"user{n}", f"org{n % 30}", ["ROLE_USER"] + (["ROLE_EDITOR"] if n % 7 == 0 else [])) for n in range(500)]
    agents = [FIREFOX, CHROME, QGIS, *(f"Mozilla/5.0 QGIS/3{n:02d}00" for n in range(40))]
    for index in range(count):
        ts = start + timedelta(milliseconds=index * 37)
        kind = rng.random()
        user, org, roles = rng.choice(users) if rng.random() < 0.4 else (None, None, [])
        layer_list = ",".join(rng.sample(layers, rng.choice((1, 1, 1, 2, 3))))
        headers = {"User-Agent": rng.choice(agents), "Referer": "https://geo.example.org/mapstore/"}
        if kind < 0.45:
            size = rng.choice(("256", "256", "512", "1024"))
            path = (
                f"/geoserver/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer_list}&STYLES="
                f"&CRS=EPSG:3857&BBOX=0,0,1,1&WIDTH={size}&HEIGHT={size}&FORMAT=image/png&n={index}"
            )
        elif kind < 0.60:
            path = (
                f"/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER={rng.choice(layers)}"
                f"&TILEMATRIXSET=EPSG:3857&TILEMATRIX=EPSG:3857:{rng.randint(0, 18)}&TILEROW={index}&TILECOL=1"
            )
        elif kind < 0.68:
            path = (
                f"/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames={rng.choice(layers)}"
                f"&outputFormat={rng.choice(('application/json', 'shape-zip', 'csv'))}&count={index}"
            )
        elif kind < 0.74:
            path = f"/geoserver/ogc/features/v1/collections/{rng.choice(layers)}/items?f=json&offset={index}"
        elif kind < 0.78:
            path = f"/geonetwork/srv/eng/csw?service=CSW&request=GetRecords&typeNames=csw:Record&startPosition={index}"
        elif kind < 0.84:
            path = f"/mapstore/rest/geostore/extjs/search/category/MAP/{index}"
        elif kind < 0.91:
            line = proxy_line(f"http://geoserver:8080/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS={layer_list}"
                              f"&WIDTH=256&HEIGHT=256&n={index}", user=user, org=org and f"Organisation d'{org}",
                              roles=roles, ts=ts, millis=rng.randint(5, 3000))  # fmt: skip
            yield _text_row(line, ts)
            continue
        elif kind < 0.98:
            line = combined_line(f"/geoserver/gwc/service/tms/1.0.0/{rng.choice(layers)}@EPSG:900913@png/"
                                 f"{rng.randint(0, 18)}/{index}/7.png", ts=ts)  # fmt: skip
            yield _text_row(line, ts)
            continue
        elif kind < 0.99:
            row = gateway_row(f"/x?n={index}", ts=ts)
            row["scope"] = {"name": "org.springframework.cloud.gateway.filter"}
            yield row
            continue
        else:
            yield _text_row(combined_line(f"/geoserver/wms?n={index}", ts=ts)[:50], ts)
            continue
        yield gateway_row(path, user=user, org=org, roles=roles, headers=headers, ts=ts,
                          status=rng.choice((200, 200, 200, 304, 404)))  # fmt: skip
