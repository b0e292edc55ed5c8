"""A LoggedRequest to its AccessRecord: URL split, KVP or REST classification, application, workspaces,
user agent and privacy. Pure and per-record lean: it runs on millions of rows."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from georchestra_analytics.parser.apps import GEOSERVER, ApplicationMap
from georchestra_analytics.parser.audience import Audience
from georchestra_analytics.parser.bounds import LAYER_REFUSED_TAG, bound_record
from georchestra_analytics.parser.classify.layers import resolve_layers, virtual_workspace
from georchestra_analytics.parser.classify.ogc import KVP_PARAMETERS, classify_kvp, is_kvp, service_of_endpoint
from georchestra_analytics.parser.classify.outcome import Classification
from georchestra_analytics.parser.classify.rest import classify_rest
from georchestra_analytics.parser.extent import requested_extent
from georchestra_analytics.parser.formats import download_formats
from georchestra_analytics.parser.memo import MAX_KEY_CHARS
from georchestra_analytics.parser.organisations import OrganisationMap
from georchestra_analytics.parser.privacy import Privacy
from georchestra_analytics.parser.record import AccessRecord
from georchestra_analytics.parser.request import LoggedRequest
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.useragent import parse_user_agent


def split_url(url: str) -> tuple[str | None, str, str]:
    """(host, path, query) of an absolute URL or of a path; cheaper than urlsplit and never raises."""
    host: str | None = None
    rest = url
    scheme_end = url.find("://")
    if scheme_end != -1 and scheme_end < 10:
        after = url[scheme_end + 3 :]
        slash = after.find("/")
        question = after.find("?")
        cut = min(i for i in (slash, question, len(after)) if i != -1)
        authority = after[:cut]
        rest = after[cut:] or "/"
        host = authority.rsplit("@", 1)[-1].lower() or None
    rest = rest.split("#", 1)[0]
    path, _, query = rest.partition("?")
    return host, path or "/", query


def _decoded(text: str) -> str:
    """URL-decoded, without NUL characters (`%00`): PostgreSQL text cannot hold them."""
    decoded = unquote_plus(text)
    return decoded.replace("\x00", "") if "\x00" in decoded else decoded


def query_parameters(query: str) -> dict[str, str]:
    """Lower-case names, decoded values; repeated names comma-joined (as the Gateway logs them)."""
    params: dict[str, str] = {}
    if not query:
        return params
    repeated: dict[str, list[str]] = {}
    # Hand-rolled parse_qsl: most names and values need no decoding, and this runs on every record.
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = _decoded(name)
        if "%" in value or "+" in value:
            value = _decoded(value)
        key = name.lower()
        if key in params:
            # Joined once at the end: appending to the joined text each time is quadratic in the repeats.
            repeated.setdefault(key, [params[key]]).append(value)
        else:
            params[key] = value
    for key, values in repeated.items():
        params[key] = ",".join(values)
    return params


# A request's shape: its method, path and the parameters the classification reads (the KVP ones, and `f` for
# REST). Tile and map requests repeat a few shapes with different coordinates, so what the shape decides is kept
# per shape (docs/performance.md), at most SHAPES_KEPT of them (then the memo starts again).
SHAPE_PARAMETERS = KVP_PARAMETERS | {"f"}
SHAPES_KEPT = 20_000


@dataclass(frozen=True, slots=True)
class Shape:
    """What a request's shape decides, whatever its coordinates, user or time."""

    app: str | None
    service: str | None
    request: str | None
    layers: tuple[str, ...]
    workspaces: tuple[str, ...]
    tiled: bool
    is_download: bool
    download_format: str | None
    requested_format: str | None
    tags: tuple[str, ...]


class Classifier:
    def __init__(self, settings: ParserSettings, *, shapes_kept: int = SHAPES_KEPT) -> None:
        self.apps = ApplicationMap(settings.applications)
        self.privacy = Privacy(settings.privacy)
        self.organisations = OrganisationMap(settings.organisation_aliases)
        self.audience = Audience(settings)
        self.shapes_kept = shapes_kept
        self._shapes: dict[tuple[str | None, str, tuple[tuple[str, str], ...]], Shape] = {}

    def _classify(
        self, method: str | None, segments: list[str], lower: list[str], params: dict[str, str]
    ) -> Classification:
        if is_kvp(params):
            return classify_kvp(params, segments)
        found = classify_rest(segments, lower, params.get("f", "").strip() or None)
        if found is not None:
            return found
        # Not OGC: the endpoint may still name a service (POST bodies are not logged); `/ows` names none.
        result = Classification(service=service_of_endpoint(segments))
        if method == "POST" and result.service is not None:
            result.tags.append("body-not-logged")
        return result

    def shape(self, method: str | None, path: str, params: dict[str, str]) -> Shape:
        """What the request's shape decides (service, operation, layers, format, application, tags)."""
        segments = [segment for segment in path.split("/") if segment]
        lower = [segment.lower() for segment in segments]
        found = self._classify(method, segments, lower, params)

        app = self.apps.app_for(lower)
        default_workspace = None
        if lower and lower[0] == GEOSERVER:
            default_workspace, layer_from_path = virtual_workspace(segments, 0)
            if layer_from_path and not found.layer_names and found.service is not None:
                found.layer_names = [layer_from_path]
            if default_workspace is not None:
                found.tags.append("virtual-service")
        layers, workspaces, refused = resolve_layers(found.layer_names, default_workspace)
        if refused:
            found.tags.append(LAYER_REFUSED_TAG)
        download_format, requested_format = download_formats(found.service, found.download_format, found.is_download)
        return Shape(
            app, found.service, found.request, tuple(layers), tuple(workspaces), found.tiled, found.is_download,
            download_format, requested_format, tuple(found.tags),
        )  # fmt: skip

    def classify(self, logged: LoggedRequest) -> AccessRecord:
        host, path, query = split_url(logged.url)
        params = query_parameters(query)
        if logged.extra_params:
            for name, value in logged.extra_params.items():
                params.setdefault(name, value)
        shaping = tuple([item for item in params.items() if item[0] in SHAPE_PARAMETERS])
        key = (logged.method, path, shaping)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self.shape(logged.method, path, params)
            # A shape is kept only when its key is short: many distinct kilobyte-long paths keep nothing.
            if self.shapes_kept and len(path) + sum(len(value) for _, value in shaping) <= MAX_KEY_CHARS:
                if len(self._shapes) >= self.shapes_kept:
                    self._shapes.clear()
                self._shapes[key] = shape

        org, org_name = self.organisations.resolve(logged.org, logged.org_name)
        agent = parse_user_agent(logged.user_agent)
        tags = list(shape.tags)
        # Coordinates differ from one request of a shape to the next: read from each request (parser/extent.py).
        extent = requested_extent(shape.service, shape.request, params, path)
        west, south, east, north = extent if extent is not None else (None, None, None, None)
        # From the address as logged: the privacy rules truncate or drop it below (docs/privacy.md).
        visitor = self.audience.visitor(logged.user_agent, agent, logged.referrer, logged.client_ip)
        if visitor.robot_family is not None:
            tags.append("robot")
        record: AccessRecord = {
            "ts": logged.ts,
            "id": logged.id,
            "source": logged.source,
            "server": host,
            "app": shape.app,
            "method": logged.method,
            "path": path,
            "query": query or None,
            "status": logged.status,
            "user": logged.user,
            "org": org,
            "roles": logged.roles,
            "service": shape.service,
            "request": shape.request,
            "layers": list(shape.layers),
            "workspaces": list(shape.workspaces),
            "tiled": shape.tiled,
            "is_download": shape.is_download,
            "download_format": shape.download_format,
            "response_time_ms": logged.response_time_ms,
            "response_size": logged.response_size,
            "referrer": logged.referrer,
            "user_agent": agent,
            "client_ip": self.privacy.client_ip(logged.client_ip),
            "tags": tags,
            "org_name": org_name,
            "download_format_requested": shape.requested_format,
            "extent_west": west,
            "extent_south": south,
            "extent_east": east,
            "extent_north": north,
            "is_robot": visitor.robot_family is not None,
            "robot_family": visitor.robot_family,
            "country": visitor.country,
            "region": visitor.region,
            "client_app": visitor.client_app,
        }
        self.privacy.apply(record)
        bound_record(record)
        return record
