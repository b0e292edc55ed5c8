"""REST-style requests: WMTS RESTful, TMS, XYZ (GeoWebCache, MapProxy), OGC API Features/Tiles/Maps/Records,
geOrchestra's data-api. `segments` are the non-empty path segments, still URL-encoded."""

from __future__ import annotations

from urllib.parse import unquote

from georchestra_analytics.parser.classify.outcome import Classification

_OGC_API_HINTS = (
    ("records", "OGC API Records"),
    ("tiles", "OGC API Tiles"),
    ("maps", "OGC API Maps"),
    ("features", "OGC API Features"),
)
_LANDING_ROOTS = frozenset({"ogc", "ogcapi"})
_API_DOCUMENTS = frozenset({"conformance", "api", "openapi", "tilematrixsets"})


def _name(segment: str) -> str:
    """A decoded path segment, without NUL characters (`%00`): PostgreSQL text cannot hold them."""
    if "%" not in segment:
        return segment
    decoded = unquote(segment)
    return decoded.replace("\x00", "") if "\x00" in decoded else decoded


def _tile_coordinates(parts: list[str]) -> bool:
    """z/x/y (or z/y/x), the last one possibly with an extension."""
    if len(parts) < 3:
        return False
    return parts[-3].isdigit() and parts[-2].isdigit() and parts[-1].split(".", 1)[0].isdigit()


def _gwc(lower: list[str], segments: list[str], at: int) -> Classification | None:
    rest = lower[at + 1 :]
    original = segments[at + 1 :]
    # WMTS RESTful: GeoWebCache's own `/gwc/rest/wmts/...` and GeoServer's `/gwc/service/wmts/rest/...`.
    restful = 2 if rest[:2] == ["rest", "wmts"] else 3 if rest[:3] == ["service", "wmts", "rest"] else 0
    if restful:
        tail = original[restful:]
        if not tail or tail[0].lower() == "wmtscapabilities.xml":
            return Classification(service="WMTS", request="getcapabilities", tiled=True)
        # {layer}/{style}/{matrixset}/{z}/{y}/{x}[/{j}/{i}]
        request = "gettile" if len(tail) in (6, 7) else "getfeatureinfo" if len(tail) >= 8 else None
        return Classification(service="WMTS", request=request, layer_names=[_name(tail[0])], tiled=True)
    if rest[:2] == ["service", "tms"]:
        tail = original[3:]  # after the version
        if not tail:
            return Classification(service="TMS", request="getcapabilities", tiled=True)
        layer = _name(tail[0]).partition("@")[0]  # {layer}@{grid}@{format}
        result = Classification(service="TMS", layer_names=[layer], tiled=True)
        result.request = "gettile" if len(tail) >= 4 else "gettilemap"
        return result
    if rest[:2] == ["service", "gmaps"] or rest[:2] == ["service", "ve"]:
        return Classification(service="TMS", request="gettile", tiled=True, tags=["xyz"])
    return None


def _mapproxy_tiles(lower: list[str], segments: list[str]) -> Classification | None:
    if "tiles" in lower:
        at = lower.index("tiles")
        tail = segments[at + 1 :]
        if tail and tail[0] == "1.0.0":  # TMS: /tiles/1.0.0/{layer}/{grid}/z/x/y.ext
            tail = tail[1:]
            if not tail:
                return Classification(service="TMS", request="getcapabilities", tiled=True)
            request = "gettile" if _tile_coordinates(tail) else "gettilemap"
            return Classification(service="TMS", request=request, layer_names=[_name(tail[0])], tiled=True)
        if len(tail) >= 4 and _tile_coordinates(tail):  # XYZ: /tiles/{layer}_{grid}/z/x/y.ext
            layer = _name(tail[0]).rsplit("_", 1)[0] if "_" in tail[0] else _name(tail[0])
            return Classification(service="TMS", request="gettile", layer_names=[layer], tiled=True, tags=["xyz"])
    if "wmts" in lower:
        at = lower.index("wmts")
        tail = segments[at + 1 :]
        if len(tail) >= 5 and _tile_coordinates(tail):  # /wmts/{layer}/{grid}/z/x/y.ext
            return Classification(service="WMTS", request="gettile", layer_names=[_name(tail[0])], tiled=True)
    return None


def _ogc_api_service(prefix: list[str]) -> str:
    """The API named by the nearest hint before `collections` (`/ogc/features/v1`, `/ogcapi-records`...)."""
    for segment in reversed(prefix):
        for token, service in _OGC_API_HINTS:
            if segment == token or segment.endswith(f"-{token}"):
                return service
    return "OGC API Features"


def _ogc_api(lower: list[str], segments: list[str], download_format: str | None) -> Classification | None:
    if "collections" not in lower:
        roots = [i for i, segment in enumerate(lower) if segment in _LANDING_ROOTS or segment.startswith("ogcapi")]
        if not roots:
            return None
        last = lower[-1]
        request = last if last in _API_DOCUMENTS else "landingpage"
        return Classification(service=_ogc_api_service(lower[roots[0] :]), request=request)
    at = lower.index("collections")
    service = _ogc_api_service(lower[:at])
    tail = lower[at + 1 :]
    if not tail:
        return Classification(service=service, request="collections")
    collection = _name(segments[at + 1])
    records = service == "OGC API Records"
    result = Classification(service=service, layer_names=[] if records else [collection])
    if records:
        result.tags.append(f"catalog:{collection}")
    if len(tail) == 1:
        result.request = "collection"
    elif tail[1] == "items":
        result.request = "items" if len(tail) == 2 else "item"
        if not records:
            result.service = "OGC API Features"
            result.is_download = True
            result.download_format = download_format
    elif tail[1] == "tiles" or "tiles" in tail[1:]:
        if "map" in tail[1:]:
            result.service = "OGC API Maps"
        else:
            result.service = "OGC API Tiles"
        result.tiled = True
        result.request = "gettile" if _tile_coordinates(tail) else "tilesets"
    elif tail[1] == "map":
        result.service = "OGC API Maps"
        result.request = "map"
    else:
        result.request = tail[1]  # schema, queryables, sortables, styles...
    return result


def classify_rest(segments: list[str], lower: list[str], download_format: str | None) -> Classification | None:
    """Classification of a REST-style path (`lower`: the same segments in lower case), or None when the path
    is not one of these APIs."""
    if "gwc" in lower:
        found = _gwc(lower, segments, lower.index("gwc"))
        if found is not None:
            return found
    if lower and lower[0] == "mapproxy":
        found = _mapproxy_tiles(lower, segments)
        if found is not None:
            return found
    return _ogc_api(lower, segments, download_format)
