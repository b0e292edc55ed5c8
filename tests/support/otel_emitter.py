"""Gateway- and security-proxy-shaped log records, sent through the real OpenTelemetry Python SDK.

What the platform's Java agent sends, reproduced with the SDK's own pieces: a LoggerProvider, a Simple or
Batch log record processor, and the OTLP gRPC or HTTP/protobuf exporter from PyPI. Each record is planned first
(`plan_records`, deterministic from a seed), then emitted through a logger named after its scope, the way the
agent names a logger's records: `org.georchestra.gateway.accesslog` (the Gateway, MDC attributes with their real
names), `org.georchestra.security.accesslog` (the security-proxy, its access line as the body) and unrelated
application loggers, which the collector must drop.

`resend_attempts` wraps the exporter in `ResendingExporter`: a failed batch is exported again, as the Java
SDK's OTLP exporters do under their retry policy (exponential backoff, a bounded number of attempts). The Python
exporters retry a few transient errors themselves; a timeout (the collector waiting for the database before it
answers) is a failure they do not retry. A resent batch may already have been accepted by the collector: the
records' stable ids are what collapses such duplicates downstream.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from grpc import Compression as GrpcCompression  # type: ignore[import-untyped]
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

GATEWAY_SCOPE = "org.georchestra.gateway.accesslog"
SECURITY_PROXY_SCOPE = "org.georchestra.security.accesslog"
# Loggers of the same applications that are not access logs: the agent exports them too.
APP_SCOPES = (
    "org.georchestra.gateway.app.GeorchestraGatewayApplication",
    "org.springframework.cloud.gateway.filter.NettyRoutingFilter",
    "org.georchestra.security.proxy.Proxy",
)

Kind = Literal["gateway", "security-proxy", "app"]
ExporterKind = Literal["grpc", "http"]
ProcessorKind = Literal["simple", "batch"]

PUBLIC_BASE = "https://georchestra.example.org"
START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)

_USERS = (
    ("testadmin", "PSC", "Project Steering Committee", "ROLE_ADMINISTRATOR,ROLE_USER,ROLE_GN_ADMIN"),
    ("testuser", "PSC", "Project Steering Committee", "ROLE_USER"),
    ("jdupont", "C2C", "Camptocamp", "ROLE_USER,ROLE_GN_EDITOR"),
    ("mmartin", "DREAL", "DREAL Bretagne", "ROLE_USER,ROLE_MAPSTORE_ADMIN"),
)
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "QGIS/33400/Ubuntu 24.04",
    "python-requests/2.32.3",
)
_LAYERS = ("topp:states", "ne:countries", "sf:roads", "geor:communes_2024", "tiger:poi")
_FORMATS = ("image/png", "image/jpeg", "application/json")
_AUTH_METHODS = ("FormLoginAuthenticationToken", "OAuth2AuthenticationToken", "PreAuthenticatedAuthenticationToken")
_APP_MESSAGES = (
    "Started GeorchestraGatewayApplication in 12.3 seconds (process running for 13.1)",
    "Route matched: geoserver",
    "Connection prematurely closed BEFORE response",
    "Proxying request to http://geoserver:8080/geoserver/wms",
)


@dataclass(frozen=True)
class PlannedRecord:
    """One log record as it is handed to the SDK (and what the test expects the collector to do with it)."""

    kind: Kind
    scope: str
    body: str
    attributes: dict[str, str]
    timestamp: dt.datetime
    severity: SeverityNumber = SeverityNumber.INFO
    service: str = "gateway"

    @property
    def accepted(self) -> bool:
        """Whether the collector's default scope filter keeps it."""
        return self.kind != "app"

    @property
    def timestamp_ns(self) -> int:
        return int(self.timestamp.timestamp()) * 10**9 + self.timestamp.microsecond * 1000


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _ogc_query(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    """(path, query string, decoded parameters) of one OGC request behind the Gateway."""
    layer = rng.choice(_LAYERS)
    choice = rng.randrange(5)
    if choice == 0:
        x, y = rng.randrange(-180, 170), rng.randrange(-80, 70)
        params = {
            "SERVICE": "WMS",
            "VERSION": "1.3.0",
            "REQUEST": "GetMap",
            "LAYERS": layer,
            "FORMAT": rng.choice(_FORMATS[:2]),
            "CRS": "EPSG:4326",
            "BBOX": f"{y},{x},{y + 10},{x + 10}",
            "WIDTH": "256",
            "HEIGHT": "256",
        }
        path = "/geoserver/ows"
    elif choice == 1:
        params = {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "typeNames": layer}
        params["outputFormat"] = "application/json"
        params["count"] = str(rng.randrange(1, 500))
        path = "/geoserver/wfs"
    elif choice == 2:
        params = {"SERVICE": rng.choice(("WMS", "WFS")), "REQUEST": "GetCapabilities"}
        path = "/geoserver/ows"
    elif choice == 3:
        params = {
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "LAYER": layer,
            "TILEMATRIXSET": "EPSG:3857",
            "TILEMATRIX": f"EPSG:3857:{rng.randrange(3, 18)}",
            "TILEROW": str(rng.randrange(0, 4096)),
            "TILECOL": str(rng.randrange(0, 4096)),
            "FORMAT": "image/png",
        }
        path = "/geoserver/gwc/service/wmts"
    else:
        params = {"SERVICE": "WMS", "REQUEST": "GetFeatureInfo", "QUERY_LAYERS": layer, "LAYERS": layer}
        params["INFO_FORMAT"] = "application/json"
        params["I"], params["J"] = str(rng.randrange(256)), str(rng.randrange(256))
        path = "/geoserver/wms"
    query = "&".join(f"{_q(name)}={_q(value)}" for name, value in params.items())
    return path, query, params


def gateway_record(rng: random.Random, timestamp: dt.datetime) -> PlannedRecord:
    """A Gateway access-log record: body `METHOD STATUS URL`, the MDC attributes the Gateway can attach."""
    status = rng.choices(("200", "304", "404", "500"), weights=(85, 6, 6, 3))[0]
    attributes: dict[str, str] = {"http.request.method": "GET", "http.status_code": status}
    if rng.random() < 0.8:
        path, query, params = _ogc_query(rng)
        url = f"{PUBLIC_BASE}{path}?{query}"
        for name, value in params.items():
            attributes[f"http.request.parameter.{name}"] = value
        attributes["http.request.query-string"] = query
    else:
        record = uuid.UUID(int=rng.getrandbits(128), version=4)
        path = rng.choice(
            (f"/geonetwork/srv/api/records/{record}", "/mapstore/", "/datahub/dataset/" + str(record), "/console/")
        )
        url = f"{PUBLIC_BASE}{path}"
        if path.endswith("/") and rng.random() < 0.5:
            attributes["http.request.method"] = "POST"
    attributes["http.request.url"] = url
    if rng.random() < 0.85:  # `logging.mdc.include.http.id`: usually on
        attributes["http.request.id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if rng.random() < 0.65:  # anonymous requests carry no enduser.* at all
        user, org, _, roles = rng.choice(_USERS)
        attributes["enduser.id"] = user
        attributes["enduser.org.id"] = org
        attributes["enduser.roles"] = roles
        attributes["enduser.auth-method"] = rng.choice(_AUTH_METHODS)
    attributes["http.request.remote-addr"] = f"/192.0.2.{rng.randrange(1, 255)}:{rng.randrange(32768, 61000)}"
    attributes["http.request.header.User-Agent"] = rng.choice(_AGENTS)
    if rng.random() < 0.5:
        attributes["http.request.header.Referer"] = f"{PUBLIC_BASE}/mapstore/"
    attributes["application.name"] = "gateway"
    attributes["application.instance.id"] = "gateway-6f7d9c-x2x8b"
    return PlannedRecord(
        kind="gateway",
        scope=GATEWAY_SCOPE,
        body=f"{attributes['http.request.method']} {status} {url}",
        attributes=attributes,
        timestamp=timestamp,
    )


def security_proxy_line(rng: random.Random, timestamp: dt.datetime, serial: int) -> str:
    """The security-proxy's access line (CLF-like); `serial` makes each line unique (the size field)."""
    if rng.random() < 0.6:
        user, _, org_name, roles = rng.choice(_USERS)
        who = f"{user}|{org_name}|{roles}"
    else:
        who = "anonymousUser"
    path, query, _ = _ogc_query(rng)
    backend = f"http://geoserver:8080{path}?{query}"
    stamp = timestamp.astimezone(dt.timezone(dt.timedelta(hours=1))).strftime("%d/%b/%Y:%H:%M:%S %z")
    status = rng.choices((200, 304, 404), weights=(90, 5, 5))[0]
    size = 1000 + serial  # unique per line: identical lines would be one request read twice
    return (
        f'192.0.2.{rng.randrange(1, 255)} - {who} [{stamp}] "GET {backend} HTTP/1.1" {status} {size} "-" '
        f'"{rng.choice(_AGENTS)}" - "geoserver" "-" {rng.randrange(1, 900)}ms'
    )


def plan_records(
    seed: int, gateway: int, security_proxy: int = 0, app: int = 0, start: dt.datetime = START
) -> list[PlannedRecord]:
    """`gateway` + `security_proxy` + `app` records, interleaved, 7 ms apart, the same for the same arguments."""
    rng = random.Random(seed)
    gateways: list[Kind] = ["gateway"] * gateway
    proxies: list[Kind] = ["security-proxy"] * security_proxy
    apps: list[Kind] = ["app"] * app
    kinds = gateways + proxies + apps
    rng.shuffle(kinds)
    planned: list[PlannedRecord] = []
    for index, kind in enumerate(kinds):
        timestamp = start + dt.timedelta(milliseconds=7 * index)
        if kind == "gateway":
            planned.append(gateway_record(rng, timestamp))
        elif kind == "security-proxy":
            planned.append(
                PlannedRecord(
                    kind=kind,
                    scope=SECURITY_PROXY_SCOPE,
                    body=security_proxy_line(rng, timestamp, index),
                    attributes={},
                    timestamp=timestamp,
                    service="security-proxy",
                )
            )
        else:
            scope = rng.choice(APP_SCOPES)
            planned.append(
                PlannedRecord(
                    kind=kind,
                    scope=scope,
                    body=rng.choice(_APP_MESSAGES),
                    attributes={"thread.name": f"reactor-http-epoll-{rng.randrange(1, 5)}"},
                    timestamp=timestamp,
                    service="security-proxy" if scope.startswith("org.georchestra.security") else "gateway",
                )
            )
    return planned


@dataclass
class ExportCounts:
    """What the exporter saw: batches and records handed over, records in successful exports, failed attempts,
    resends, records finally given up."""

    batches: int = 0
    records: int = 0
    exported: int = 0
    failures: int = 0
    resends: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


class ResendingExporter(LogRecordExporter):
    """Exports a failed batch again, up to `attempts` times in all, with exponential backoff (the Java SDK's
    OTLP retry policy: 1 s initial backoff, x1.5, capped at 5 s; here scaled by `backoff`)."""

    def __init__(self, inner: LogRecordExporter, attempts: int, backoff: float = 1.0) -> None:
        self.inner = inner
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.counts = ExportCounts()
        self._stopping = threading.Event()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        with self.counts.lock:
            self.counts.batches += 1
            self.counts.records += len(batch)
        delay = self.backoff
        for attempt in range(self.attempts):
            if attempt:
                with self.counts.lock:
                    self.counts.resends += 1
            if self.inner.export(batch) == LogRecordExportResult.SUCCESS:
                with self.counts.lock:
                    self.counts.exported += len(batch)
                return LogRecordExportResult.SUCCESS
            with self.counts.lock:
                self.counts.failures += 1
            if attempt + 1 < self.attempts and self._stopping.wait(delay):
                break
            delay = min(delay * 1.5, 5 * self.backoff)
        with self.counts.lock:
            self.counts.dropped += len(batch)
        return LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self._stopping.set()
        self.inner.shutdown()  # type: ignore[no-untyped-call]


def make_exporter(kind: ExporterKind, endpoint: str, timeout: float, gzip: bool = False) -> LogRecordExporter:
    """The SDK's OTLP exporter; `endpoint` is the collector's `host:port` for that protocol."""
    if kind == "grpc":
        return GrpcLogExporter(
            endpoint=endpoint, insecure=True, timeout=timeout, compression=GrpcCompression.Gzip if gzip else None
        )
    return HttpLogExporter(
        endpoint=f"http://{endpoint}/v1/logs", timeout=timeout, compression=HttpCompression.Gzip if gzip else None
    )


class OtelEmitter:
    """One LoggerProvider per emitting service, as in the platform (gateway, security-proxy), sharing one
    exporter configuration. Use as a context manager; `close` flushes and shuts down."""

    def __init__(
        self,
        endpoint: str,
        exporter: ExporterKind = "http",
        processor: ProcessorKind = "simple",
        *,
        timeout: float = 10.0,
        gzip: bool = False,
        resend_attempts: int = 1,
        resend_backoff: float = 1.0,
        batch_size: int = 512,
        schedule_delay_millis: float = 200,
        export_timeout_millis: float = 30_000,
        max_queue_size: int = 2048,
    ) -> None:
        self.endpoint = endpoint
        self.exporter_kind = exporter
        self.processor_kind = processor
        self._settings = (timeout, resend_attempts, resend_backoff)
        self.gzip = gzip
        self._batch = (schedule_delay_millis, batch_size, export_timeout_millis, max_queue_size)
        self._providers: dict[str, LoggerProvider] = {}
        self._exporters: list[ResendingExporter] = []
        self.sent: list[PlannedRecord] = []

    def _provider(self, service: str) -> LoggerProvider:
        if service not in self._providers:
            timeout, attempts, backoff = self._settings
            inner = make_exporter(self.exporter_kind, self.endpoint, timeout, self.gzip)
            exporter = ResendingExporter(inner, attempts, backoff)
            self._exporters.append(exporter)
            processor: LogRecordProcessor
            if self.processor_kind == "batch":
                delay, size, export_timeout, queue = self._batch
                processor = BatchLogRecordProcessor(
                    exporter,
                    schedule_delay_millis=delay,
                    max_export_batch_size=size,
                    export_timeout_millis=export_timeout,
                    max_queue_size=queue,
                )
            else:
                processor = SimpleLogRecordProcessor(exporter)
            provider = LoggerProvider(resource=Resource.create({"service.name": service, "host.name": "test-pod"}))
            provider.add_log_record_processor(processor)
            self._providers[service] = provider
        return self._providers[service]

    def emit(self, records: Iterable[PlannedRecord], pace: float = 0.0) -> list[PlannedRecord]:
        """Hand each record to its service's logger (named after the scope); `pace` seconds between records."""
        emitted: list[PlannedRecord] = []
        for record in records:
            logger = self._provider(record.service).get_logger(record.scope)
            logger.emit(
                LogRecord(
                    timestamp=record.timestamp_ns,
                    observed_timestamp=record.timestamp_ns + 1_000_000,
                    severity_text="INFO",
                    severity_number=record.severity,
                    body=record.body,
                    attributes=dict(record.attributes),
                )
            )
            emitted.append(record)
            if pace:
                time.sleep(pace)
        self.sent.extend(emitted)
        return emitted

    def flush(self, timeout_millis: int = 60_000) -> bool:
        return all(provider.force_flush(timeout_millis) for provider in self._providers.values())

    @property
    def counts(self) -> ExportCounts:
        """The sum over the services' exporters."""
        total = ExportCounts()
        for exporter in self._exporters:
            with exporter.counts.lock:
                total.batches += exporter.counts.batches
                total.records += exporter.counts.records
                total.exported += exporter.counts.exported
                total.failures += exporter.counts.failures
                total.resends += exporter.counts.resends
                total.dropped += exporter.counts.dropped
        return total

    def close(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()
        self._providers.clear()

    def __enter__(self) -> OtelEmitter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def send(
    endpoint: str,
    records: Sequence[PlannedRecord],
    exporter: ExporterKind = "http",
    processor: ProcessorKind = "simple",
    **options: Any,
) -> list[PlannedRecord]:
    """Emit `records`, flush and shut down; returns what was handed to the SDK."""
    with OtelEmitter(endpoint, exporter, processor, **options) as emitter:
        emitted = emitter.emit(records)
        emitter.flush()
    return emitted


def accepted(records: Iterable[PlannedRecord]) -> Iterator[PlannedRecord]:
    """The records the collector keeps."""
    return (record for record in records if record.accepted)
