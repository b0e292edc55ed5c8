"""Which client application sent a request (docs/classification.md, Client applications), from its user agent
and referrer, as one short label:
- desktop GIS and geospatial libraries by their user agent: `QGIS`, `ArcGIS`, `GDAL`, `FME`, `OWSLib`, ...;
- scripts by their HTTP library: `python-requests`, `curl`, `Wget`, `Java`, ...;
- web applications by the referrer: `MapStore: <context>` for a MapStore context, the platform application
  the referrer's path belongs to (spec.parser.applications: `mapstore`, `datahub`, `mviewer`, ...), or
  `web: <host>` for any other web site;
- otherwise the browser's family (a request typed in the address bar, or a client without referrer), or
  `unknown` without a user agent; `robot` for a robot (its family is in robot_family).
Labels are cached per user agent and per referrer: both repeat a lot.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from georchestra_analytics.parser.apps import ApplicationMap
from georchestra_analytics.parser.bounds import MAX_HOST_CHARS, MAX_USER_AGENT_CHARS, clean
from georchestra_analytics.parser.memo import short_key_cache

MAX_CLIENT_APP_CHARS = 128
ROBOT = "robot"
UNKNOWN = "unknown"
MAPSTORE = "mapstore"

# (label, regular expression searched in the user agent), first match wins: specific tools before the HTTP
# libraries they are built on (QGIS and OWSLib send their own names; GDAL may add libcurl's).
_TOOLS: tuple[tuple[str, str], ...] = (
    ("QGIS", r"\bQGIS\b"),
    ("ArcGIS", r"\bArcGIS|\bArcMap\b|\bEsri|\bArcPro\b"),
    ("GDAL", r"\bGDAL\b"),
    ("FME", r"\bFME\b|\bSafe Software\b"),
    ("OWSLib", r"\bOWSLib\b"),
    ("uDig", r"\buDig\b"),
    ("gvSIG", r"\bgvSIG\b"),
    ("OpenJUMP", r"\bOpenJUMP\b"),
    ("JOSM", r"\bJOSM\b"),
    ("Google Earth", r"\bGoogle ?Earth\b"),
    ("MapInfo", r"\bMapInfo\b"),
    ("GeoServer", r"\bGeoServer\b"),
    ("MapProxy", r"\bMapProxy\b"),
    ("GeoNetwork", r"\bGeoNetwork\b"),
    ("python-requests", r"\bpython-requests\b"),
    ("Python urllib", r"\bPython-urllib\b"),
    ("Python aiohttp", r"\baiohttp\b"),
    ("Python httpx", r"\bpython-httpx\b"),
    ("curl", r"^curl/|\blibcurl\b"),
    ("Wget", r"^Wget\b"),
    ("HTTPie", r"^HTTPie/"),
    ("Postman", r"\bPostmanRuntime/"),
    ("PowerShell", r"\bPowerShell\b"),
    ("R", r"^(?:R \(|libcurl/.* r-curl|httr\b)"),
    ("Node.js", r"\bnode-fetch\b|\baxios/|^undici\b|^node\b"),
    ("Go", r"^Go-http-client/"),
    ("Java", r"^Java/|\bApache-HttpClient/|\bokhttp/"),
    ("Perl", r"^libwww-perl/"),
)
_TOOL_REGEX = re.compile("|".join(f"(?P<t{index}>{pattern})" for index, (_, pattern) in enumerate(_TOOLS)))
_TOOL_LABELS = {f"t{index}": label for index, (label, _) in enumerate(_TOOLS)}
# scheme://[userinfo@]host[:port][/path][?query][#fragment]
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?([^/?#:]*)(?::[0-9]*)?([^?#]*)(?:\?[^#]*)?(?:#(.*))?")
_CONTEXT_NAME = re.compile(r"[\w.\-]{1,64}")


@short_key_cache(16384)
def tool_of(user_agent: str) -> str | None:
    """The desktop tool, library or script named by the user agent, if any."""
    match = _TOOL_REGEX.search(user_agent[:MAX_USER_AGENT_CHARS])
    return _TOOL_LABELS.get(match.lastgroup or "") if match is not None else None


def _mapstore_context(segments: list[str], fragment: str | None) -> str | None:
    """`context/<name>` in the path after MapStore's own prefix, or in the `#/context/<name>` route (kept by
    the few clients that send the whole URL)."""
    candidates = [segments]
    if fragment:
        candidates.append([part for part in fragment.split("/") if part])
    for parts in candidates:
        for position, part in enumerate(parts[:-1]):
            if part.lower() == "context":
                name = unquote(parts[position + 1])
                if _CONTEXT_NAME.fullmatch(name):
                    return name
    return None


class ClientApps:
    """The client-application labels of one run; `applications` is the stack's path prefix -> application."""

    def __init__(self, applications: Mapping[str, str]) -> None:
        self._apps = ApplicationMap(applications)
        self.of_referrer = short_key_cache(65536)(self._of_referrer)

    def _of_referrer(self, referrer: str) -> str | None:
        match = _URL.match(referrer)
        if match is None:
            return None
        host = match[1].lower()
        if not host or len(host) > MAX_HOST_CHARS:
            return None
        segments = [segment for segment in match[2].split("/") if segment]
        app = self._apps.app_for([segment.lower() for segment in segments])
        if app is None:
            return clean(f"web: {host}", MAX_CLIENT_APP_CHARS)
        if app == MAPSTORE:
            context = _mapstore_context(segments, match[3])
            if context is not None:
                return clean(f"MapStore: {context}", MAX_CLIENT_APP_CHARS)
            return "MapStore"
        return clean(app, MAX_CLIENT_APP_CHARS)

    def label(self, user_agent: str | None, agent_family: str | None, referrer: str | None, robot: bool) -> str:
        if robot:
            return ROBOT
        if user_agent:
            tool = tool_of(user_agent)
            if tool is not None:
                return tool
        if referrer:
            site = self.of_referrer(referrer)
            if site is not None:
                return site
        if agent_family:
            return clean(agent_family, MAX_CLIENT_APP_CHARS)
        return UNKNOWN
