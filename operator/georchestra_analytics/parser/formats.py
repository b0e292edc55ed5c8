"""One canonical name per download format: WFS `outputFormat`, WCS `format` and OGC API `f` name the same format
by a short name (`json`, `SHAPE-ZIP`), a MIME type (`application/json`, `application/zip`) or a vendor spelling.
Records keep the canonical name in `download_format` and the value as requested in `download_format_requested`;
docs/classification.md lists the table."""

from __future__ import annotations

from georchestra_analytics.parser.bounds import OTHER
from georchestra_analytics.parser.memo import short_key_cache

# Canonical name -> the spellings that name it, compared after `normalise`. A MIME type's parameters are
# dropped first (`text/xml; subtype=gml/3.1.1` is GML), and a `+` that URL decoding turned into a space is put
# back (`application/vnd.google-earth.kml xml`).
FORMATS: dict[str, tuple[str, ...]] = {
    "gml": (
        "gml",
        "gml2",
        "gml3",
        "gml32",
        "gml3.2",
        "text/xml",
        "application/xml",
        "application/gml+xml",
        "application/vnd.ogc.gml",
        "text/gml",
        "xml",
    ),
    "geojson": (
        "json",
        "geojson",
        "application/json",
        "application/geo+json",
        "application/vnd.geo+json",
        "text/json",
    ),
    "shapefile": (
        "shape-zip",
        "shapezip",
        "shp",
        "shape",
        "shapefile",
        "esri shapefile",
        "application/zip",
        "application/x-zip-compressed",
        "application/x-shapefile",
        "ogr-shp",
    ),
    "csv": ("csv", "text/csv", "ogr-csv", "application/csv"),
    "excel": (
        "excel",
        "excel2007",
        "xls",
        "xlsx",
        "application/msexcel",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "ods": ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    "kml": ("kml", "application/vnd.google-earth.kml+xml", "application/vnd.google-earth.kml", "ogr-kml"),
    "kmz": ("kmz", "application/vnd.google-earth.kmz"),
    "geopackage": (
        "geopackage",
        "gpkg",
        "ogr-gpkg",
        "application/geopackage+sqlite3",
        "application/geopackage+vnd.sqlite3",
        "application/x-gpkg",
    ),
    "spatialite": ("spatialite", "ogr-sqlite", "application/x-sqlite3", "application/vnd.sqlite3"),
    "dxf": ("dxf", "dxf-zip", "application/dxf", "image/vnd.dxf", "application/x-dxf", "ogr-dxf"),
    "flatgeobuf": ("flatgeobuf", "fgb", "application/flatgeobuf", "application/x-flatgeobuf"),
    "geoparquet": ("geoparquet", "parquet", "application/vnd.apache.parquet", "application/x-parquet"),
    "mapinfo": ("ogr-tab", "ogr-mif", "mapinfo", "application/x-mapinfo"),
    "geotiff": ("geotiff", "tiff", "tif", "image/tiff", "image/geotiff", "image/tiff;application=geotiff"),
    "png": ("png", "image/png", "image/png8", "png8"),
    "jpeg": ("jpeg", "jpg", "image/jpeg"),
    "jpeg2000": ("jpeg2000", "jp2", "image/jp2"),
    "netcdf": ("netcdf", "application/x-netcdf", "application/netcdf", "application/x-netcdf4"),
    "arcgrid": ("arcgrid", "application/arcgrid", "text/x-arcgrid", "aaigrid"),
    "html": ("html", "text/html"),
}

# Spelling -> canonical name, built once.
_CANONICAL: dict[str, str] = {spelling: name for name, spellings in FORMATS.items() for spelling in spellings}
# Formats that keep a MIME parameter in their key: GeoTIFF is `image/tiff;application=geotiff`.
_KEPT_PARAMETERS = frozenset({"image/tiff;application=geotiff"})
# A requested value is a short name or a MIME type: anything longer is named `other` (and stored cut).
MAX_FORMAT_CHARS = 200


def normalise(value: str) -> str:
    """Lower case, no surrounding blanks, MIME parameters dropped, a decoded `+` restored."""
    text = value.strip().lower()
    if " " in text and "/" in text:
        head, _, params = text.partition(";")
        text = head.strip().replace(" ", "+") + (f";{params}" if params else "")
    if ";" in text:
        compact = text.replace(" ", "")
        if compact in _KEPT_PARAMETERS:
            return compact
        text = text.split(";", 1)[0].strip()
    return text


@short_key_cache(4096)
def canonical_format(requested: str | None) -> str | None:
    """The canonical name of a requested format; an unknown format is named by its normalised spelling (so two
    spellings of it differing in case or parameters still count as one); `other` for a value too long to be a
    format; None for none requested."""
    if requested is None:
        return None
    if len(requested) > MAX_FORMAT_CHARS:
        return OTHER
    text = normalise(requested)
    if not text:
        return None
    found = _CANONICAL.get(text)
    if found is not None:
        return found
    if "gml" in text and "/" in text:  # `application/gml+xml; version=3.2`, `text/xml; subtype=gml/3.1.1`
        return "gml"
    return text


# What a download without a requested format delivers: WFS GetFeature answers GML (2, 3 or 3.2 by version).
_DEFAULT_FORMATS = {"WFS": "gml"}


def download_formats(service: str | None, requested: str | None, is_download: bool) -> tuple[str | None, str | None]:
    """(canonical name, value as requested) of a request's format: the requested value stripped; none requested,
    the format a download of the service delivers by default."""
    text = requested.strip() if requested else ""
    if not text:
        return (_DEFAULT_FORMATS.get(service or "") if is_download else None), None
    return canonical_format(text), text
