"""A week of realistic access logs of the fictional platform described in platform.yaml, generated from a seed.

Two outputs, as a real platform produces them: Gateway access logs as buffer rows (what Vector's postgres sink
writes from OTel log events) and security-proxy access lines (a text file, loaded as `ingest` would). The same
seed and end date always give the same logs; generating beats shipping megabytes of sample files.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import quote as _quote
from zoneinfo import ZoneInfo

import yaml
from pyproj import Transformer

from georchestra_analytics.parser.ingest import buffer_rows as text_buffer_rows
from georchestra_analytics.parser.sources.otel import GATEWAY_REMOTE_ADDR_ATTRIBUTE

DEFAULT_SEED = 2026
DEFAULT_RECORDS = 70_000
DAYS = 7
GATEWAY_SCOPE = "org.georchestra.gateway.accesslog"
PROXY_LOG_NAME = "security-proxy.log"  # the source name of the proxy lines (part of their record ids)
# The security-proxy writes local time; the platform is in France.
PROXY_TIME_ZONE = ZoneInfo("Europe/Paris")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

T = TypeVar("T")
# Percent-encoding of the few distinct names and formats, memoised: the sample repeats them many thousand times.
quote = cache(_quote)


@cache
def platform() -> dict[str, Any]:
    """The platform description shipped with the package."""
    text = resources.files("georchestra_analytics.demo").joinpath("platform.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def default_end(now: datetime | None = None) -> datetime:
    """The sample's week ends at the last midnight (UTC), so it always lies in the recent past."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class _Weighted:
    """Draws from (item, weight) pairs with one random number and a binary search."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


@dataclass(frozen=True)
class User:
    login: str
    org_id: str
    org_name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """One generated request, before it is written as a Gateway row or a security-proxy line."""

    ts: datetime
    app: str  # backend: geoserver, geonetwork, mapstore, datahub
    path_and_query: str
    method: str
    status: int
    size: int
    millis: int
    user: User | None
    agent: str
    referrer: str | None
    ip: str


@dataclass(frozen=True)
class Sample:
    gateway_rows: list[dict[str, Any]]
    proxy_lines: list[str]
    end: datetime
    seed: int

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=DAYS)

    def __len__(self) -> int:
        return len(self.gateway_rows) + len(self.proxy_lines)

    def buffer_rows(self) -> Iterator[dict[str, Any]]:
        """Every row as it lands in the buffer table: Gateway rows as Vector writes them, proxy lines as
        `georchestra-analytics ingest security-proxy.log` writes them."""
        yield from self.gateway_rows
        yield from text_buffer_rows(self.proxy_lines, PROXY_LOG_NAME, "text")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (sample data, reproducible by design)
        self.p = platform()
        p = self.p
        self.layers = [layer for layer in p["layers"] if not layer.get("protected")]
        self.protected = [layer["name"] for layer in p["layers"] if layer.get("protected")]
        self.vector_layers = _Weighted(
            [layer["name"] for layer in self.layers if layer["kind"] == "vector"],
            [layer["weight"] for layer in self.layers if layer["kind"] == "vector"],
        )
        self.raster_layers = _Weighted(
            [layer["name"] for layer in self.layers if layer["kind"] == "raster"],
            [layer["weight"] for layer in self.layers if layer["kind"] == "raster"],
        )
        self.any_layer = _Weighted([layer["name"] for layer in self.layers], [layer["weight"] for layer in self.layers])
        self.users = self._users()
        self.user_draw = _Weighted(self.users, [self._org_weight(user.org_id) for user in self.users])
        self.agents = _Weighted([a["text"] for a in p["user_agents"]], [a["weight"] for a in p["user_agents"]])
        # Robots' own networks: their requests come from there, anonymous and without referrer.
        self.robot_networks = {a["text"]: a["network"] for a in p["user_agents"] if a.get("network")}
        self.referrers = _Weighted([r["url"] for r in p["referrers"]], [r["weight"] for r in p["referrers"]])
        self.wfs_formats = _Weighted(
            [f["format"] for f in p["wfs_download_formats"]], [f["weight"] for f in p["wfs_download_formats"]]
        )
        self.wcs_formats = _Weighted(
            [f["format"] for f in p["wcs_download_formats"]], [f["weight"] for f in p["wcs_download_formats"]]
        )
        kinds = p["requests"]
        self.kinds = _Weighted(list(kinds), [kinds[name]["weight"] for name in kinds])
        self.builders: dict[str, Callable[[], tuple[str, str, str, int]]] = {
            name: getattr(self, "_" + name) for name in kinds
        }
        self.hours = _Weighted(list(range(24)), p["hour_weights"])
        self.metadata_uuids = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(120)]
        self.map_ids = [self.rng.randint(100, 999) for _ in range(25)]
        # A pool of client addresses in the platform's client networks: returning visitors, as real traffic has.
        networks = _Weighted([n["prefix"] for n in p["client_networks"]], [n["weight"] for n in p["client_networks"]])
        self.ips = [f"{networks.draw(self.rng)}.{n}" for n in range(1, 200)]
        self.places = _Weighted(
            [(float(place["lon"]), float(place["lat"]), float(place["spread"])) for place in p["places"]],
            [place["weight"] for place in p["places"]],
        )
        self.to_lambert93 = Transformer.from_crs(4326, 2154, always_xy=True)

    def _org_weight(self, org_id: str) -> float:
        return next(float(org["weight"]) for org in self.p["organisations"] if org["id"] == org_id)

    def _users(self) -> list[User]:
        first = ("camille", "lea", "hugo", "ines", "lucas", "chloe", "nathan", "manon", "theo", "zoe", "jules")
        last = ("martin", "bernard", "dubois", "lefevre", "moreau", "garnier", "roux", "fournier", "girard")
        users = []
        for org in self.p["organisations"]:
            for index in range(self.p["users_per_organisation"]):
                login = f"{self.rng.choice(first)}.{self.rng.choice(last)}{index}"
                roles = tuple(self.p["roles"][index % len(self.p["roles"])])
                users.append(User(login, org["id"], org["name"], roles))
        return users

    # Each builder returns (app, method, path and query, output format or "").

    def _place(self) -> tuple[float, float]:
        """Where a user looks: near one of the territory's towns (platform.yaml), longitude and latitude."""
        lon, lat, spread = self.places.draw(self.rng)
        return lon + self.rng.gauss(0, spread), lat + self.rng.gauss(0, spread * 0.7)

    def _bbox(self) -> str:
        """A view in Lambert-93 (EPSG:2154, as the platform's map viewer sends it), centred on a place."""
        x, y = self.to_lambert93.transform(*self._place())
        span = self.rng.choice((500, 2_000, 10_000, 50_000))
        return f"{x - span / 2:.0f},{y - span / 2:.0f},{x + span / 2:.0f},{y + span / 2:.0f}"

    def _tile(self) -> tuple[int, int, int]:
        """(zoom, column, row from the top) of the Web Mercator tile over a place."""
        lon, lat = self._place()
        zoom = self.rng.randint(8, 19)
        scale = 2**zoom
        column = int((lon + 180) / 360 * scale)
        row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale)
        return zoom, column, row

    def _wms_getmap(self) -> tuple[str, str, str, int]:
        tiled = self.rng.random() < 0.6
        count = self.rng.choice((1, 1, 1, 2, 3))
        layers = list(dict.fromkeys(self.any_layer.draw(self.rng) for _ in range(count)))
        size = "256" if tiled else self.rng.choice(("1280", "1024", "800"))
        query = (
            f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={quote(','.join(layers))}&STYLES=&CRS=EPSG%3A2154"
            f"&BBOX={self._bbox()}&WIDTH={size}&HEIGHT={size if tiled else '768'}&FORMAT=image%2Fpng"
            + ("&TILED=true" if tiled else "")
        )
        return "geoserver", "GET", f"/geoserver/ows?{query}", 0

    def _wmts_gettile(self) -> tuple[str, str, str, int]:
        layer = self.raster_layers.draw(self.rng) if self.rng.random() < 0.6 else self.any_layer.draw(self.rng)
        zoom, column, row = self._tile()
        query = (
            f"SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&LAYER={quote(layer)}&STYLE=&TILEMATRIXSET=EPSG%3A3857"
            f"&TILEMATRIX=EPSG%3A3857%3A{zoom}&TILEROW={row}&TILECOL={column}&FORMAT=image%2Fjpeg"
        )
        return "geoserver", "GET", f"/geoserver/gwc/service/wmts?{query}", 0

    def _tms_tile(self) -> tuple[str, str, str, int]:
        layer = self.raster_layers.draw(self.rng)
        zoom, column, row = self._tile()
        # TMS counts rows from the bottom of the grid.
        tms_row = 2**zoom - 1 - row
        path = f"/geoserver/gwc/service/tms/1.0.0/{quote(layer)}@EPSG%3A900913@jpeg/{zoom}/{column}/{tms_row}.jpeg"
        return "geoserver", "GET", path, 0

    def _wms_getfeatureinfo(self) -> tuple[str, str, str, int]:
        layer = quote(self.vector_layers.draw(self.rng))
        query = (
            f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS={layer}&QUERY_LAYERS={layer}&CRS=EPSG%3A2154"
            f"&BBOX={self._bbox()}&WIDTH=101&HEIGHT=101&I=50&J=50&INFO_FORMAT=application%2Fjson"
        )
        return "geoserver", "GET", f"/geoserver/ows?{query}", 0

    def _wms_getcapabilities(self) -> tuple[str, str, str, int]:
        workspace = self.any_layer.draw(self.rng).split(":")[0]
        where = self.rng.choice(("/geoserver/ows", f"/geoserver/{workspace}/wms"))
        return "geoserver", "GET", f"{where}?SERVICE=WMS&REQUEST=GetCapabilities", 0

    def _wms_getlegendgraphic(self) -> tuple[str, str, str, int]:
        layer = quote(self.any_layer.draw(self.rng))
        query = f"SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.0.0&FORMAT=image%2Fpng&LAYER={layer}"
        return "geoserver", "GET", f"/geoserver/wms?{query}", 0

    def _wfs_getfeature_json(self) -> tuple[str, str, str, int]:
        layer = quote(self.vector_layers.draw(self.rng))
        query = (
            f"service=WFS&version=2.0.0&request=GetFeature&typeNames={layer}&outputFormat=application%2Fjson"
            f"&srsName=EPSG%3A4326&count={self.rng.choice((10, 50, 500))}&bbox={self._bbox()},EPSG%3A2154"
        )
        return "geoserver", "GET", f"/geoserver/wfs?{query}", 0

    def _wfs_download(self) -> tuple[str, str, str, int]:
        layer = quote(self.vector_layers.draw(self.rng))
        output = quote(self.wfs_formats.draw(self.rng), safe="")
        query = f"service=WFS&version=1.0.0&request=GetFeature&typeName={layer}&outputFormat={output}"
        return "geoserver", "GET", f"/geoserver/wfs?{query}", self.rng.randint(200_000, 40_000_000)

    def _wfs_describefeaturetype(self) -> tuple[str, str, str, int]:
        layer = quote(self.vector_layers.draw(self.rng))
        return "geoserver", "GET", f"/geoserver/wfs?service=WFS&request=DescribeFeatureType&typeName={layer}", 0

    def _wcs_download(self) -> tuple[str, str, str, int]:
        workspace, name = self.raster_layers.draw(self.rng).split(":")
        output = quote(self.wcs_formats.draw(self.rng), safe="")
        query = (
            f"service=WCS&version=2.0.1&request=GetCoverage&coverageId={workspace}__{name}&format={output}"
            f"&subset=E({self.rng.randint(150_000, 240_000)},{self.rng.randint(241_000, 250_000)})"
        )
        return "geoserver", "GET", f"/geoserver/wcs?{query}", self.rng.randint(2_000_000, 120_000_000)

    def _ogcapi_items(self) -> tuple[str, str, str, int]:
        layer = quote(self.vector_layers.draw(self.rng))
        query = f"f=json&limit={self.rng.choice((10, 100, 1000))}"
        if self.rng.random() < 0.5:  # a map's view: bbox in longitude and latitude (CRS84)
            lon, lat = self._place()
            half = self.rng.choice((0.01, 0.05, 0.2))
            query += f"&bbox={lon - half:.5f},{lat - half:.5f},{lon + half:.5f},{lat + half:.5f}"
        return "geoserver", "GET", f"/geoserver/ogc/features/v1/collections/{layer}/items?{query}", 0

    def _csw_getrecords(self) -> tuple[str, str, str, int]:
        query = (
            "service=CSW&version=2.0.2&request=GetRecords&typeNames=csw%3ARecord&resultType=results"
            f"&elementSetName=full&startPosition={self.rng.choice((1, 11, 21))}&maxRecords=10"
        )
        return "geonetwork", "GET", f"/geonetwork/srv/fre/csw?{query}", 0

    def _geonetwork_search(self) -> tuple[str, str, str, int]:
        return "geonetwork", "POST", "/geonetwork/srv/api/search/records/_search?bucket=metadata", 0

    def _geonetwork_record(self) -> tuple[str, str, str, int]:
        record = self.rng.choice(self.metadata_uuids)
        return "geonetwork", "GET", f"/geonetwork/srv/api/records/{record}/formatters/xsl-view?output=xml", 0

    def _mapstore_config(self) -> tuple[str, str, str, int]:
        name = self.rng.choice(("localConfig.json", "pluginsConfig.json", "new.json"))
        return "mapstore", "GET", f"/mapstore/configs/{name}", 0

    def _mapstore_geostore(self) -> tuple[str, str, str, int]:
        map_id = self.rng.choice(self.map_ids)
        path = self.rng.choice(
            (f"/mapstore/rest/geostore/data/{map_id}", "/mapstore/rest/geostore/extjs/search/category/MAP/***/")
        )
        return "mapstore", "GET", path, 0

    def _datahub_page(self) -> tuple[str, str, str, int]:
        return "datahub", "GET", f"/datahub/dataset/{self.rng.choice(self.metadata_uuids)}", 0

    def _status(self, kind: str) -> int:
        roll = self.rng.random()
        if kind in ("wmts_gettile", "tms_tile", "wms_getlegendgraphic", "mapstore_config") and roll < 0.12:
            return 304
        if roll < 0.006:
            return 500
        if roll < 0.012:
            return 502 if kind in ("wfs_download", "wcs_download") else 400
        if roll < 0.03:
            return 404
        return 200

    def _millis(self, kind: str, status: int) -> int:
        spec = self.p["requests"][kind]
        if status == 304:
            return max(1, round(self.rng.lognormvariate(math.log(3), 0.4)))
        value = self.rng.lognormvariate(math.log(spec["median_ms"]), spec["sigma"])
        if status >= 500:
            value = self.rng.choice((value, 30_000.0 + self.rng.random() * 30_000))  # some are time-outs
        return max(1, round(value))

    def _size(self, kind: str, status: int, download_size: int) -> int:
        if status == 304:
            return 0
        if status >= 400:
            return self.rng.randint(200, 1500)
        if download_size:
            return download_size
        if kind in ("wmts_gettile", "tms_tile"):
            return self.rng.randint(3_000, 60_000)
        if kind == "wms_getmap":
            return self.rng.randint(20_000, 900_000)
        return self.rng.randint(500, 80_000)

    def _timestamps(self, count: int, start: datetime) -> list[datetime]:
        weekdays = self.p["weekday_weights"]
        days = _Weighted(list(range(DAYS)), [weekdays[(start + timedelta(days=d)).weekday()] for d in range(DAYS)])
        stamps = []
        for _ in range(count):
            day, hour = days.draw(self.rng), self.hours.draw(self.rng)
            offset = timedelta(days=day, hours=hour, seconds=self.rng.random() * 3600)
            stamps.append(start + timedelta(microseconds=offset // timedelta(milliseconds=1) * 1000))
        stamps.sort()
        return stamps

    def requests(self, count: int, start: datetime) -> Iterator[Request]:
        signed_in = self.p["signed_in_share"]
        for ts in self._timestamps(count, start):
            kind = self.kinds.draw(self.rng)
            app, method, path, download_size = self.builders[kind]()
            user = self.user_draw.draw(self.rng) if self.rng.random() < signed_in else None
            if kind == "wms_getmap" and self.rng.random() < 0.02:
                # A layer that needs a role: anonymous visitors are refused.
                layer = quote(self.protected[0])
                path = f"/geoserver/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&BBOX={self._bbox()}"
                status = 403 if user is None or "ROLE_EAU" not in user.roles else 200
            else:
                status = self._status(kind)
            agent = self.agents.draw(self.rng)
            robot_network = self.robot_networks.get(agent)
            scripted = robot_network is not None or any(name in agent for name in ("QGIS", "python", "curl"))
            referrer = None if scripted else self.referrers.draw(self.rng)
            ip = self.rng.choice(self.ips) if robot_network is None else f"{robot_network}.{self.rng.randint(1, 254)}"
            if robot_network is not None:
                user = None
            yield Request(
                ts=ts,
                app=app,
                path_and_query=path,
                method=method,
                status=status,
                size=self._size(kind, status, download_size),
                millis=self._millis(kind, status),
                user=user,
                agent=agent,
                referrer=referrer,
                ip=ip,
            )


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gateway_row(request: Request, host: str) -> dict[str, Any]:
    """A Gateway access log as Vector's postgres sink stores it. The Gateway logs neither the response time nor
    the size (see docs/log-sources.md); its MDC gives the user, organisation and roles, and the client address,
    as a platform that wants countries configures it (logging.mdc.include.http.remote-addr)."""
    url = f"{host}{request.path_and_query}"
    request_id = hashlib.blake2b(f"{_iso(request.ts)} {url} {request.ip}".encode(), digest_size=8).hexdigest()
    attributes: dict[str, Any] = {
        "http.request.method": request.method,
        "http.status_code": str(request.status),
        "http.request.url": url,
        "http.request.id": request_id,
        "http.request.header.User-Agent": request.agent,
        GATEWAY_REMOTE_ADDR_ATTRIBUTE: f"/{request.ip}:{40000 + int(request_id[:4], 16) % 20000}",
    }
    if "?" in request.path_and_query:
        attributes["http.request.query-string"] = request.path_and_query.split("?", 1)[1]
    if request.referrer:
        attributes["http.request.header.Referer"] = request.referrer
    if request.user is not None:
        attributes["enduser.id"] = request.user.login
        attributes["enduser.auth-method"] = "FormLoginAuthenticationToken"
        attributes["enduser.org.id"] = request.user.org_id
        attributes["enduser.roles"] = ",".join(request.user.roles)
    return {
        "timestamp": request.ts,
        "observed_timestamp": request.ts + timedelta(milliseconds=350),
        "message": f"{request.method} {request.status} {url}",
        "attributes": attributes,
        "resources": {"service.name": "gateway", "host.name": "gateway-6f7c9d-2xk8p"},
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
    local = ts.astimezone(PROXY_TIME_ZONE)
    return f"{local:%d}/{_MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S %z}"


def proxy_line(request: Request, backends: dict[str, str]) -> str:
    """A security-proxy access line (logger org.georchestra.security.accesslog), backend URL and all."""
    user = request.user
    identity = "anonymousUser" if user is None else f"{user.login}|{user.org_name}|{','.join(user.roles)}"
    backend = backends.get(request.app, backends["geoserver"])
    return (
        f'{request.ip} - {identity} [{_clf_time(request.ts)}] "{request.method} {backend}{request.path_and_query} '
        f'HTTP/1.1" {request.status} {request.size} "{request.referrer or "-"}" "{request.agent}" - "{backend}" "-" '
        f"{request.millis}ms"
    )


def generate(seed: int = DEFAULT_SEED, records: int = DEFAULT_RECORDS, end: datetime | None = None) -> Sample:
    """About `records` requests over the week before `end` (default: the last midnight, UTC)."""
    if records < 1:
        raise ValueError(f"the sample needs at least one record, got {records}")
    week_end = default_end() if end is None else end.astimezone(UTC)
    generator = _Generator(seed)
    p = generator.p
    backends: dict[str, str] = p["proxy_backends"]
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    for request in generator.requests(records, week_end - timedelta(days=DAYS)):
        if generator.rng.random() < p["proxy_share"]:
            line = proxy_line(request, backends)
            if generator.rng.random() < p["corrupt_share"]:
                line = line[: generator.rng.randint(10, 60)]  # cut by a log rotation: rejected, with its reason
            lines.append(line)
        else:
            rows.append(gateway_row(request, p["gateway_host"]))
    return Sample(gateway_rows=rows, proxy_lines=lines, end=week_end, seed=seed)
