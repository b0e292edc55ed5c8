"""OGC key-value-pair requests: WMS, WFS, WCS, WMTS (KVP), WPS, CSW. Parameter names are lower-case here."""

from __future__ import annotations

from georchestra_analytics.parser.bounds import OTHER
from georchestra_analytics.parser.classify.layers import split_layer_list, wcs_coverage_name
from georchestra_analytics.parser.classify.outcome import Classification

KNOWN_SERVICES = frozenset({"WMS", "WFS", "WCS", "WMTS", "WPS", "CSW"})

# Endpoint (last path segment) -> service, for KVP without SERVICE and for POST bodies that are not logged.
ENDPOINT_SERVICES = {"wms": "WMS", "wfs": "WFS", "wcs": "WCS", "wmts": "WMTS", "wps": "WPS", "csw": "CSW"}

# Operation -> service when neither SERVICE nor the endpoint tells (GetFeatureInfo is WMS unless WMTS says so).
REQUEST_SERVICES = {
    "getmap": "WMS", "getfeatureinfo": "WMS", "getlegendgraphic": "WMS", "describelayer": "WMS",
    "getstyles": "WMS", "getfeature": "WFS", "describefeaturetype": "WFS", "getpropertyvalue": "WFS",
    "transaction": "WFS", "lockfeature": "WFS", "getfeaturewithlock": "WFS", "liststoredqueries": "WFS",
    "describestoredqueries": "WFS", "getcoverage": "WCS", "describecoverage": "WCS", "gettile": "WMTS",
    "execute": "WPS", "describeprocess": "WPS", "getstatus": "WPS", "getresult": "WPS", "getrecords": "CSW",
    "getrecordbyid": "CSW", "getdomain": "CSW", "harvest": "CSW",
}  # fmt: skip

_TYPENAMES = ("typenames", "typename")
# (service, operation) -> parameters naming its layers, first present wins. CSW type names are not layers.
LAYER_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("WMS", "getmap"): ("layers",),
    ("WMS", "getfeatureinfo"): ("query_layers", "layers"),
    ("WMS", "getlegendgraphic"): ("layer",),
    ("WMS", "describelayer"): ("layers",),
    ("WMS", "getstyles"): ("layers",),
    ("WFS", "getfeature"): _TYPENAMES,
    ("WFS", "getfeaturewithlock"): _TYPENAMES,
    ("WFS", "lockfeature"): _TYPENAMES,
    ("WFS", "describefeaturetype"): _TYPENAMES,
    ("WFS", "getpropertyvalue"): _TYPENAMES,
    ("WCS", "getcoverage"): ("coverageid", "identifier", "coverage"),
    ("WCS", "describecoverage"): ("coverageid", "identifiers", "identifier", "coverage"),
    ("WMTS", "gettile"): ("layer",),
    ("WMTS", "getfeatureinfo"): ("layer",),
}

# Tokens of a WFS output format that make GetFeature a data download (formats are matched lower-case).
_DOWNLOAD_FORMAT_TOKENS = (
    "gml",
    "json",
    "csv",
    "zip",
    "shape",
    "excel",
    "xls",
    "kml",
    "gpkg",
    "geopackage",
    "dxf",
    "xml",
    "spatialite",
    "ods",
    "flatgeobuf",
)
_TILE_SIZES = frozenset({("256", "256"), ("512", "512")})

# Every parameter name this module reads (is_kvp, classify_kvp, _wfs_download): the classifier keeps its result
# per request shape, made of these parameters' values, so a name read here must be listed here (a test checks).
KVP_PARAMETERS = frozenset(
    {"service", "request", "tiled", "width", "height", "resulttype", "outputformat", "format", "identifier", "id"}
    | {name for names in LAYER_PARAMETERS.values() for name in names}
)


def service_of_endpoint(segments: list[str]) -> str | None:
    if not segments:
        return None
    return ENDPOINT_SERVICES.get(segments[-1].lower())


def is_kvp(params: dict[str, str]) -> bool:
    return "request" in params or ("service" in params and params["service"].upper() in KNOWN_SERVICES)


def _wfs_download(params: dict[str, str]) -> tuple[bool, str | None]:
    if params.get("resulttype", "").lower() == "hits":
        return False, None
    output_format = params.get("outputformat", "").strip() or None
    if output_format is None:
        return True, None  # GML, the default output, is the data itself
    lower = output_format.lower()
    return any(token in lower for token in _DOWNLOAD_FORMAT_TOKENS), output_format


def classify_kvp(params: dict[str, str], segments: list[str]) -> Classification:
    result = Classification()
    named = params.get("service", "").strip().upper() or None
    request = params.get("request", "").strip().lower() or None
    service = named if named in KNOWN_SERVICES else None
    if service is None:
        service = service_of_endpoint(segments)
        if service is None and len(segments) >= 2 and segments[-2].lower() == "service":
            service = ENDPOINT_SERVICES.get(segments[-1].lower())  # /gwc/service/wmts
    if service is None and request is not None:
        service = REQUEST_SERVICES.get(request)
    if service is None and named is not None:
        service = OTHER  # a SERVICE nothing else confirms: recorded as such, the raw value stays in the query
    result.service = service
    result.request = request
    if service is None or request is None:
        return result

    for name in LAYER_PARAMETERS.get((service, request), ()):
        value = params.get(name)
        if value:
            names = split_layer_list(value)
            if service == "WCS":
                names = [wcs_coverage_name(n) for n in names]
            result.layer_names = names
            break

    if service == "WMTS":
        result.tiled = True
    elif service == "WMS" and request == "getmap":
        tiled = params.get("tiled", "").lower() == "true"
        result.tiled = tiled or (params.get("width", ""), params.get("height", "")) in _TILE_SIZES
    elif service == "WFS" and request in ("getfeature", "getfeaturewithlock"):
        result.is_download, result.download_format = _wfs_download(params)
    elif service == "WCS" and request == "getcoverage":
        result.is_download = True
        result.download_format = params.get("format", "").strip() or None
    elif service == "WPS" and request in ("execute", "describeprocess"):
        process = params.get("identifier") or params.get("id")
        if process:
            result.tags.append(f"process:{process}")
    return result
