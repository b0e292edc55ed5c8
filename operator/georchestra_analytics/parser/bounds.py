"""Bounds of every text a record stores: a maximum length and a character set per key, so that no request can
make a value too large for an index (the rollups' and continuous aggregates' group keys, `UNIQUE (ts, id)`)
or a batch the database refuses. docs/classification.md lists them; a change here belongs there too.

Values a client chooses freely and that become group keys (service, operation, output format, layer,
workspace) are checked against a known list or a strict character set: anything else is the fixed value
`other` (the raw value stays in the record's `query`, cut to its bound). Free texts (path, query, referrer,
user, organisation) are cut to their bound. No stored text holds a control character or a lone surrogate
(they are replaced by U+FFFD): PostgreSQL cannot store NUL and psycopg cannot encode a surrogate.
"""

from __future__ import annotations

import re

from georchestra_analytics.parser.ids import stable_id
from georchestra_analytics.parser.memo import short_key_cache
from georchestra_analytics.parser.record import AccessRecord

OTHER = "other"
OTHER_METHOD = "OTHER"
# A request counts for at most this many layers; the rest are counted once, as this entry (not a valid name,
# so it never collides with a real layer).
MAX_LAYERS = 50
OVERFLOW_LAYER = "(more layers)"
LAYER_REFUSED_TAG = "layer-refused"

# Maximum length in characters of each text column (UTF-8 takes at most 4 bytes a character: the group keys
# stay under the 2,704 bytes of a btree entry whatever their combination).
MAX_CHARS: dict[str, int] = {
    "id": 128,
    "server": 253,
    "app": 64,
    "method": 16,
    "path": 2048,
    "query": 8192,
    "user": 128,
    "org": 128,
    "org_name": 128,
    "service": 32,
    "request": 64,
    "download_format": 64,
    "download_format_requested": 200,
    "referrer": 1024,
    "client_ip": 64,
    # Migration 0010's: set by parser/robots.py, geolocation.py and client_apps.py, within these already.
    "robot_family": 64,
    "country": 2,
    "region": 3,
    "client_app": 128,
}
# An input longer than this is refused whole (a text line; a Gateway request URL): no real request is, and
# every later step stays cheap.
MAX_LINE_CHARS = 65_536
# A JSON buffer row read from a file (dry-run, `ingest`) longer than this is refused whole, before decoding.
MAX_ROW_CHARS = 1_048_576
MAX_LAYER_CHARS = 200  # the whole `workspace:name`
MAX_WORKSPACE_CHARS = 64
MAX_ROLES, MAX_ROLE_CHARS = 32, 64
MAX_TAGS, MAX_TAG_CHARS = 16, 128
MAX_USER_AGENT_CHARS = 512  # the header given to ua-parser (its regexes are slow on huge input)
MAX_USER_AGENT_PART_CHARS = 64  # family, version, os, device
MAX_HOST_CHARS = 253  # a DNS name

KNOWN_SERVICES = frozenset(
    {"WMS", "WFS", "WCS", "WMTS", "WPS", "CSW", "TMS", "OGC API Features", "OGC API Tiles", "OGC API Maps",
     "OGC API Records"}
)  # fmt: skip
KNOWN_REQUESTS = frozenset(
    {
        # OGC KVP operations
        "getcapabilities", "getmap", "getfeatureinfo", "getlegendgraphic", "describelayer", "getstyles",
        "getfeature", "describefeaturetype", "getpropertyvalue", "transaction", "lockfeature",
        "getfeaturewithlock", "liststoredqueries", "describestoredqueries", "createstoredquery",
        "dropstoredquery", "getgmlobject", "getcoverage", "describecoverage", "gettile", "execute",
        "describeprocess", "getstatus", "getresult", "dismiss", "getrecords", "getrecordbyid", "getdomain",
        "harvest", "describerecord", "getrepositoryitem", "getkml", "getmetadata",
        # REST paths (WMTS RESTful, TMS, OGC API)
        "gettilemap", "landingpage", "conformance", "api", "openapi", "tilematrixsets", "collections",
        "collection", "items", "item", "tilesets", "map", "schema", "queryables", "sortables", "styles",
        "tilejson", "stylejson", "processes", "jobs",
    }
)  # fmt: skip

_COMMON_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"})
# Control characters (C0, DEL, C1) and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_HOST = re.compile(r"[a-z0-9._\-:\[\]]+")
_CLIENT_IP = re.compile(r"[A-Za-z0-9._\-:\[\]%]+")
_METHOD = re.compile(r"[A-Z]+")
_FORMAT = re.compile(r'[a-z0-9][a-z0-9.+_/;=:, "\-]*')
_WORKSPACE = re.compile(r"[\w.\-]+")
_LAYER = re.compile(r"[\w.\-:]+")
# The host of an absolute referrer URL as the client_usage aggregates extract it (aggregates._REFERRER_HOST).
_REFERRER_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?([^/?#:]+)")


def clean(value: str, limit: int) -> str:
    """Without control characters or lone surrogates, cut to `limit` characters."""
    if len(value) <= limit and value.isprintable():  # the usual case, tested in C
        return value
    if _UNSAFE.search(value):
        value = _UNSAFE.sub("\ufffd", value)
    return value if len(value) <= limit else value[:limit]


def _optional(value: str | None, limit: int) -> str | None:
    return None if value is None else clean(value, limit)


@short_key_cache(65536)  # layers repeat a lot: most records pay a lookup, not a match
def plausible_layer(layer: str) -> bool:
    """`name` or `workspace:name` of word characters, dots and hyphens, within the bounds."""
    if len(layer) > MAX_LAYER_CHARS or not _LAYER.fullmatch(layer):
        return False
    workspace, sep, _ = layer.partition(":")
    return not sep or len(workspace) <= MAX_WORKSPACE_CHARS


def plausible_workspace(workspace: str) -> bool:
    return len(workspace) <= MAX_WORKSPACE_CHARS and _WORKSPACE.fullmatch(workspace) is not None


@short_key_cache(4096)
def bounded_format(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= MAX_CHARS["download_format"] and _FORMAT.fullmatch(value) else OTHER


@short_key_cache(4096)
def _server(host: str | None) -> str | None:
    return host if host is None or (len(host) <= MAX_HOST_CHARS and _HOST.fullmatch(host)) else None


@short_key_cache(65536, max_chars=128)
def _client_ip(address: str | None) -> str | None:
    if address is None:
        return None
    return address if len(address) <= MAX_CHARS["client_ip"] and _CLIENT_IP.fullmatch(address) else None


def _referrer(referrer: str | None) -> str | None:
    if referrer is None:
        return None
    referrer = clean(referrer, MAX_CHARS["referrer"])
    if len(referrer) > MAX_HOST_CHARS:
        host = _REFERRER_HOST.match(referrer)
        if host is not None and len(host[1]) > MAX_HOST_CHARS:
            return None  # its host would be a group key of client_usage: no host name is that long
    return referrer


def _id(value: str) -> str:
    if len(value) <= MAX_CHARS["id"] and value.isascii() and value.isprintable():
        return value
    return stable_id("bounded id", value.encode("utf-8", "surrogatepass").hex())


def _texts(values: list[str], count: int, limit: int) -> list[str]:
    return [clean(value, limit) for value in values[:count]]


def bound_record(record: AccessRecord) -> None:
    """Bring every value of the record within its bounds, in place. Cheap when nothing is out of bounds."""
    record["id"] = _id(record["id"])
    record["server"] = _server(record["server"])
    record["app"] = _optional(record["app"], MAX_CHARS["app"])
    method = record["method"]
    if (
        method is not None
        and method not in _COMMON_METHODS
        and (len(method) > MAX_CHARS["method"] or not _METHOD.fullmatch(method))
    ):
        record["method"] = OTHER_METHOD
    record["path"] = clean(record["path"], MAX_CHARS["path"])
    record["query"] = _optional(record["query"], MAX_CHARS["query"])
    record["user"] = _optional(record["user"], MAX_CHARS["user"])
    record["org"] = _optional(record["org"], MAX_CHARS["org"])
    record["org_name"] = _optional(record["org_name"], MAX_CHARS["org_name"])
    if record["roles"]:
        record["roles"] = _texts(record["roles"], MAX_ROLES, MAX_ROLE_CHARS)
    service = record["service"]
    if service is not None and service not in KNOWN_SERVICES:
        record["service"] = OTHER
    request = record["request"]
    if request is not None and request not in KNOWN_REQUESTS:
        record["request"] = OTHER
    record["download_format"] = bounded_format(record["download_format"])
    record["download_format_requested"] = _optional(
        record["download_format_requested"], MAX_CHARS["download_format_requested"]
    )
    record["referrer"] = _referrer(record["referrer"])
    agent = record["user_agent"]
    if agent["family"] is not None:  # ua-parser gives a family to every agent it was given
        part = MAX_USER_AGENT_PART_CHARS
        agent["family"] = clean(agent["family"], part)
        agent["version"] = _optional(agent["version"], part)
        agent["os"] = _optional(agent["os"], part)
        agent["device"] = _optional(agent["device"], part)
    record["client_ip"] = _client_ip(record["client_ip"])
    record["robot_family"] = _optional(record["robot_family"], MAX_CHARS["robot_family"])
    record["client_app"] = _optional(record["client_app"], MAX_CHARS["client_app"])
    if record["tags"]:
        record["tags"] = _texts(record["tags"], MAX_TAGS, MAX_TAG_CHARS)
