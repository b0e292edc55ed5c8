"""Records carry the organisation's key and display name, and the download format's canonical name beside the
value requested, from both sources, with and without the stack's alias map."""

from __future__ import annotations

from tests.support.accesslogs import gateway_row, proxy_line, record_of_line, record_of_row

from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.settings import ParserSettings

ALIASES = {"orleans": ("Ville d'Orléans",), "sdee": ("Syndicat départemental d'énergie de l'Étang",)}
MAPPED = Pipeline(ParserSettings(organisation_aliases=ALIASES))
UNMAPPED = Pipeline(ParserSettings())
WMS = "/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=a:b"


def test_both_sources_give_one_key_with_the_alias_map() -> None:
    gateway = record_of_row(MAPPED, gateway_row(WMS, user="lea", org="orleans"))
    proxy = record_of_line(MAPPED, proxy_line(WMS, user="lea", org="Ville d\u2019Orléans", roles=["ROLE_USER"]))
    assert (gateway["org"], gateway["org_name"]) == ("orleans", "Ville d'Orléans")  # the map's name
    assert (proxy["org"], proxy["org_name"]) == ("orleans", "Ville d\u2019Orléans")  # the name as logged


def test_without_the_map_the_display_name_is_its_own_key() -> None:
    proxy = record_of_line(UNMAPPED, proxy_line(WMS, user="lea", org="Ville d'Orléans", roles=["ROLE_USER"]))
    assert (proxy["org"], proxy["org_name"]) == ("Ville d'Orléans", "Ville d'Orléans")
    gateway = record_of_row(UNMAPPED, gateway_row(WMS, user="lea", org="orleans"))
    assert (gateway["org"], gateway["org_name"]) == ("orleans", None)


def test_anonymous_requests_have_no_organisation() -> None:
    record = record_of_line(MAPPED, proxy_line(WMS, user=None))
    assert (record["org"], record["org_name"]) == (None, None)


def test_the_requested_format_is_kept_beside_its_canonical_name() -> None:
    for requested, canonical in (("SHAPE-ZIP", "shapefile"), ("application%2Fjson", "geojson"), ("kml", "kml")):
        url = f"/geoserver/wfs?service=WFS&request=GetFeature&typeName=a:b&outputFormat={requested}"
        for record in (record_of_row(UNMAPPED, gateway_row(url)), record_of_line(UNMAPPED, proxy_line(url))):
            assert record["download_format"] == canonical
            assert record["download_format_requested"] == requested.replace("%2F", "/")
    coverage = "/geoserver/wcs?service=WCS&request=GetCoverage&coverageId=a__b&format=image%2Ftiff"
    record = record_of_row(UNMAPPED, gateway_row(coverage))
    assert (record["download_format"], record["download_format_requested"]) == ("geotiff", "image/tiff")
    record = record_of_row(UNMAPPED, gateway_row(WMS))
    assert (record["download_format"], record["download_format_requested"]) == (None, None)
