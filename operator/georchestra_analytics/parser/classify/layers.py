"""Layer names and GeoServer workspaces: `ws:name` prefixes, WCS `ws__name` ids, virtual-service paths."""

from __future__ import annotations

from georchestra_analytics.parser.bounds import MAX_LAYERS, OVERFLOW_LAYER, plausible_layer, plausible_workspace

# Path segments after `/geoserver/{ws}/` that make `{ws}` a virtual-service workspace.
_VIRTUAL_SERVICE_ENDPOINTS = frozenset({"ows", "wms", "wfs", "wcs", "wmts", "wps", "gwc", "ogc"})
# Segments that follow /geoserver/ directly and are never workspaces.
_NOT_WORKSPACES = frozenset(
    {
        "geoserver",
        "gwc",
        "ows",
        "wms",
        "wfs",
        "wcs",
        "wmts",
        "wps",
        "csw",
        "ogc",
        "web",
        "rest",
        "www",
        "openlayers",
        "j_spring_security_check",
        "styles",
        "index.html",
        "schemas",
        "pdf",
        "tms",
        "kml",
    }
)


def split_layer_list(value: str) -> list[str]:
    """`a,b` and WFS 2.0's `(a)(b)` lists; blanks dropped."""
    if "(" in value:
        value = value.replace(")(", ",").replace("(", "").replace(")", "")
    return [name.strip() for name in value.split(",") if name.strip()]


def wcs_coverage_name(coverage_id: str) -> str:
    """GeoServer's WCS 2.0 ids replace the workspace colon by a double underscore."""
    if ":" not in coverage_id and "__" in coverage_id:
        workspace, name = coverage_id.split("__", 1)
        if workspace and name:
            return f"{workspace}:{name}"
    return coverage_id


def virtual_workspace(segments: list[str], geoserver_index: int) -> tuple[str | None, str | None]:
    """(workspace, layer) of `/geoserver/{ws}/{endpoint}` or `/geoserver/{ws}/{layer}/{endpoint}`."""
    rest = segments[geoserver_index + 1 :]
    if len(rest) < 2:
        return None, None
    workspace = rest[0]
    if workspace.lower() in _NOT_WORKSPACES:
        return None, None
    if rest[1].lower() in _VIRTUAL_SERVICE_ENDPOINTS:
        return workspace, None
    if len(rest) >= 3 and rest[2].lower() in _VIRTUAL_SERVICE_ENDPOINTS:
        return workspace, rest[1]
    return None, None


def resolve_layers(names: list[str], default_workspace: str | None) -> tuple[list[str], list[str], bool]:
    """(layers as `ws:name` or `name`, workspaces in order of first appearance, deduplicated; whether a name
    was refused as implausible). Linear in the number of names; at most MAX_LAYERS layers are kept, the rest
    counted as one OVERFLOW_LAYER entry."""
    layers: dict[str, None] = {}  # an ordered set: a membership test per name, not a scan
    workspaces: dict[str, None] = {}
    refused = overflow = False
    if default_workspace is not None and not plausible_workspace(default_workspace):
        default_workspace, refused = None, True
    for raw in names:
        workspace, sep, name = raw.partition(":")
        if not sep:
            workspace, name = "", raw
        if not name:
            continue
        if not workspace:
            workspace = default_workspace or ""
        prefixed = bool(workspace) and workspace.lower() != "geoserver"
        layer = f"{workspace}:{name}" if prefixed else name
        if layer in layers:
            continue
        if not plausible_layer(layer):
            refused = True
            continue
        if len(layers) == MAX_LAYERS:
            overflow = True
            break
        layers[layer] = None
        if prefixed:
            workspaces[workspace] = None
    if overflow:
        layers[OVERFLOW_LAYER] = None
    if default_workspace and not workspaces:
        workspaces[default_workspace] = None
    return list(layers), list(workspaces), refused
