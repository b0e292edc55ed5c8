"""REST-style requests: WMTS RESTful, TMS, XYZ, OGC API Features/Tiles/Maps/Records, data-api, POST bodies,
application usage that is not OGC."""

from __future__ import annotations

import pytest
from tests.support.accesslogs import combined_line, gateway_row, proxy_line, record_of_line, record_of_row

from georchestra_analytics.parser.pipeline import Pipeline


def test_wmts_restful_tile(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline,
        gateway_row(
            "/geoserver/gwc/rest/wmts/ortho:ortho2023/default/EPSG:3857/EPSG:3857:14/5600/8300?format=image/jpeg"
        ),
    )
    assert (record["service"], record["request"], record["layers"], record["tiled"]) == (
        "WMTS",
        "gettile",
        ["ortho:ortho2023"],
        True,
    )
    assert record["workspaces"] == ["ortho"]


def test_wmts_restful_capabilities(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/gwc/rest/wmts/WMTSCapabilities.xml"))
    assert (record["service"], record["request"], record["layers"]) == ("WMTS", "getcapabilities", [])


def test_tms_tile_with_encoded_workspace(pipeline: Pipeline) -> None:
    record = record_of_line(
        pipeline,
        combined_line("/geoserver/gwc/service/tms/1.0.0/ortho%3Aortho2023@EPSG%3A900913@jpeg/12/2070/2695.jpeg"),
    )
    assert (record["service"], record["request"], record["layers"], record["tiled"]) == (
        "TMS",
        "gettile",
        ["ortho:ortho2023"],
        True,
    )


def test_tms_capabilities(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/gwc/service/tms/1.0.0"))
    assert (record["service"], record["request"]) == ("TMS", "getcapabilities")


def test_xyz_tiles_from_mapproxy(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/mapproxy/tiles/osm_EPSG3857/12/2070/1400.png"))
    assert (record["service"], record["request"], record["layers"], record["tiled"]) == (
        "TMS",
        "gettile",
        ["osm"],
        True,
    )
    assert "xyz" in record["tags"]
    assert record["app"] == "mapproxy"


def test_ogc_api_features_items_is_a_download(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline,
        gateway_row("/geoserver/ogc/features/v1/collections/topp:states/items?f=application%2Fgeo%2Bjson&limit=50"),
    )
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Features", "items", ["topp:states"])
    assert (record["is_download"], record["download_format"]) == (True, "geojson")
    assert record["download_format_requested"] == "application/geo+json"
    assert record["workspaces"] == ["topp"]


def test_ogc_api_features_single_item(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/ogc/features/v1/collections/topp%3Astates/items/states.12")
    )
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Features", "item", ["topp:states"])


@pytest.mark.parametrize(("path", "request_name", "layers"), [
    ("/geoserver/ogc/features/v1/collections", "collections", []),
    ("/geoserver/ogc/features/v1/collections/ws:roads", "collection", ["ws:roads"]),
    ("/geoserver/ogc/features/v1/collections/ws:roads/queryables", "queryables", ["ws:roads"]),
])  # fmt: skip
def test_ogc_api_collection_listings(pipeline: Pipeline, path: str, request_name: str, layers: list[str]) -> None:
    record = record_of_row(pipeline, gateway_row(path))
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Features", request_name, layers)
    assert record["is_download"] is False


def test_ogc_api_tiles(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline,
        gateway_row("/geoserver/ogc/tiles/v1/collections/ws:ortho/tiles/WebMercatorQuad/12/1400/2070?f=image/png"),
    )
    assert (record["service"], record["request"], record["layers"], record["tiled"]) == (
        "OGC API Tiles",
        "gettile",
        ["ws:ortho"],
        True,
    )


def test_ogc_api_maps(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/ogc/maps/v1/collections/ws:roads/map?bbox=0,0,1,1&width=800&height=600")
    )
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Maps", "map", ["ws:roads"])


def test_ogc_api_records_collections_are_catalogues_not_layers(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geonetwork/ogcapi-records/collections/main/items?q=eau"))
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Records", "items", [])
    assert record["is_download"] is False


def test_ogc_api_landing_page(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/ogc/features/v1/conformance"))
    assert (record["service"], record["request"]) == ("OGC API Features", "conformance")


def test_data_api_items(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/data/ogcapi/collections/psc:communes/items?f=geojson&limit=-1"))
    assert record["app"] == "data-api"
    assert (record["service"], record["request"], record["layers"]) == ("OGC API Features", "items", ["psc:communes"])
    assert (record["is_download"], record["download_format"]) == (True, "geojson")


@pytest.mark.parametrize(
    ("path", "service"), [("/geoserver/wfs", "WFS"), ("/geoserver/wms", "WMS"), ("/geoserver/ows", None)]
)
def test_post_xml_body_not_logged_service_from_endpoint(pipeline: Pipeline, path: str, service: str | None) -> None:
    line = proxy_line(f"http://geoserver:8080{path}", method="POST", user="jdoe", org="PSC", roles=["ROLE_USER"])
    record = record_of_line(pipeline, line)
    assert (record["method"], record["service"], record["request"]) == ("POST", service, None)


def test_application_usage_is_kept_without_a_service(pipeline: Pipeline) -> None:
    mapstore = record_of_row(pipeline, gateway_row("/mapstore/rest/geostore/extjs/search/category/MAP/***/thumbnail"))
    geonetwork = record_of_row(pipeline, gateway_row("/geonetwork/srv/api/records/8f3c-11/formatters/xsl-view"))
    assert (mapstore["app"], mapstore["service"], mapstore["request"]) == ("mapstore", None, None)
    assert (geonetwork["app"], geonetwork["service"]) == ("geonetwork", None)


def test_unknown_application_is_kept_with_no_app(pipeline: Pipeline) -> None:
    record = record_of_line(pipeline, combined_line("/favicon.ico"))
    assert (record["app"], record["service"]) == (None, None)


def test_application_mapping_is_configurable() -> None:
    from georchestra_analytics.parser.settings import ParserSettings

    custom = Pipeline(ParserSettings(applications={"/carto/viewer": "viewer", "/carto": "carto"}))
    deep = record_of_row(custom, gateway_row("/carto/viewer/index.html"))
    shallow = record_of_row(custom, gateway_row("/carto/other"))
    prefix_is_not_a_segment = record_of_row(custom, gateway_row("/cartography/x"))
    assert (deep["app"], shallow["app"], prefix_is_not_a_segment["app"]) == ("viewer", "carto", None)


@pytest.mark.parametrize(("tail", "request_name"), [
    ("ortho:ortho2023/default/EPSG:3857/EPSG:3857:14/5600/8300?format=image/jpeg", "gettile"),
    ("ortho:ortho2023/default/EPSG:3857/EPSG:3857:14/5600/8300/12/40?format=application/json", "getfeatureinfo"),
])  # fmt: skip
def test_geoserver_gwc_wmts_rest_path_is_classified_like_its_kvp_form(
    pipeline: Pipeline, tail: str, request_name: str
) -> None:
    rest = record_of_row(pipeline, gateway_row(f"/geoserver/gwc/service/wmts/rest/{tail}"))
    kvp = record_of_row(pipeline, gateway_row(
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=ortho:ortho2023&TILEMATRIXSET=EPSG:3857"
        "&TILEMATRIX=EPSG:3857:14&TILEROW=5600&TILECOL=8300&FORMAT=image/jpeg"
    ))  # fmt: skip
    assert (rest["service"], rest["request"], rest["layers"], rest["workspaces"], rest["tiled"]) == (
        "WMTS", request_name, ["ortho:ortho2023"], ["ortho"], True
    )  # fmt: skip
    assert (kvp["service"], kvp["layers"], kvp["workspaces"], kvp["tiled"]) == (
        rest["service"], rest["layers"], rest["workspaces"], rest["tiled"]
    )  # fmt: skip


def test_geoserver_gwc_wmts_rest_capabilities(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/gwc/service/wmts/rest/WMTSCapabilities.xml"))
    assert (record["service"], record["request"], record["tiled"]) == ("WMTS", "getcapabilities", True)
