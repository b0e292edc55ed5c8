"""OGC KVP requests from both formats: WMS, WFS, WCS, WMTS, WPS, CSW."""

from __future__ import annotations

import pytest
from tests.support.accesslogs import gateway_row, proxy_line, record_of_line, record_of_row

from georchestra_analytics.parser.pipeline import Pipeline


def test_wms_getmap_with_mixed_case_keys_and_encoded_multi_workspace_layers(pipeline: Pipeline) -> None:
    row = gateway_row(
        "/geoserver/ows?SeRvIcE=WMS&version=1.3.0&ReQuEsT=GetMap&Layers=topp%3Astates%2Csf%3Aroads%2Ctopp%3Atasmania"
        "&styles=&crs=EPSG%3A3857&bbox=0,0,1,1&width=1024&height=768&format=image%2Fpng",
        user="jdoe",
        org="psc",
        roles=["ROLE_USER", "ROLE_GN_EDITOR"],
    )
    record = record_of_row(pipeline, row)
    assert (record["service"], record["request"]) == ("WMS", "getmap")
    assert record["layers"] == ["topp:states", "sf:roads", "topp:tasmania"]
    assert record["workspaces"] == ["topp", "sf"]  # in order, deduplicated
    assert record["tiled"] is False
    assert record["is_download"] is False
    assert (record["user"], record["org"], record["roles"]) == ("jdoe", "psc", ["ROLE_USER", "ROLE_GN_EDITOR"])
    assert record["app"] == "geoserver"
    assert record["path"] == "/geoserver/ows"
    assert record["server"] == "geo.example.org"


@pytest.mark.parametrize(("size", "extra", "tiled"), [
    ("256", "", True), ("512", "", True), ("800", "&TILED=true", True), ("800", "", False),
    ("256", "&TILED=false", True),
])  # fmt: skip
def test_getmap_tiled_by_size_or_flag(pipeline: Pipeline, size: str, extra: str, tiled: bool) -> None:
    row = gateway_row(f"/geoserver/wms?SERVICE=WMS&REQUEST=GetMap&LAYERS=ws:a&WIDTH={size}&HEIGHT={size}{extra}")
    assert record_of_row(pipeline, row)["tiled"] is tiled


def test_wms_getfeatureinfo_counts_query_layers(pipeline: Pipeline) -> None:
    row = gateway_row(
        "/geoserver/wms?SERVICE=WMS&REQUEST=GetFeatureInfo&LAYERS=ws:base,ws:parcels&QUERY_LAYERS=ws:parcels"
        "&INFO_FORMAT=application/json&I=50&J=50&WIDTH=101&HEIGHT=101"
    )
    record = record_of_row(pipeline, row)
    assert (record["service"], record["request"], record["layers"]) == ("WMS", "getfeatureinfo", ["ws:parcels"])


def test_wms_getlegendgraphic_uses_layer(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/wms?request=GetLegendGraphic&layer=ws%3Aroads&format=image/png")
    )
    assert (record["service"], record["request"], record["layers"]) == ("WMS", "getlegendgraphic", ["ws:roads"])


def test_getcapabilities_on_a_virtual_service_records_the_workspace(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/cadastre/wms?SERVICE=WMS&REQUEST=GetCapabilities"))
    assert (record["service"], record["request"]) == ("WMS", "getcapabilities")
    assert record["layers"] == []
    assert record["workspaces"] == ["cadastre"]


def test_unprefixed_layer_on_a_virtual_service_gets_its_workspace(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/cadastre/ows?service=WMS&request=GetMap&layers=parcels,sections")
    )
    assert record["layers"] == ["cadastre:parcels", "cadastre:sections"]
    assert record["workspaces"] == ["cadastre"]


def test_unprefixed_layer_on_global_ows_has_no_workspace_never_geoserver(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/ows?service=WMS&request=GetMap&layers=basemap"))
    assert record["layers"] == ["basemap"]
    assert record["workspaces"] == []


def test_layer_names_with_several_colons_do_not_crash(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/wms?service=WMS&request=GetMap&layers=ws:odd:name,:x,ws:"))
    assert record["layers"] == ["ws:odd:name", "x"]
    assert record["workspaces"] == ["ws"]


@pytest.mark.parametrize(("output_format", "is_download", "expected_format"), [
    ("shape-zip", True, "shapefile"), ("CSV", True, "csv"), ("excel2007", True, "excel"),
    ("application%2Fjson", True, "geojson"), ("GML3", True, "gml"), (None, True, "gml"),
])  # fmt: skip
def test_wfs_getfeature_downloads(
    pipeline: Pipeline, output_format: str | None, is_download: bool, expected_format: str | None
) -> None:
    query = "/geoserver/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=ws%3Acommunes"
    if output_format:
        query += f"&outputFormat={output_format}"
    record = record_of_row(pipeline, gateway_row(query))
    assert (record["service"], record["request"], record["layers"]) == ("WFS", "getfeature", ["ws:communes"])
    assert (record["is_download"], record["download_format"]) == (is_download, expected_format)


def test_wfs_hits_is_not_a_download(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/wfs?service=WFS&request=GetFeature&typeName=ws:a&resultType=hits")
    )
    assert record["is_download"] is False


def test_wfs_typename_singular_and_join_lists(pipeline: Pipeline) -> None:
    singular = record_of_row(
        pipeline, gateway_row("/geoserver/wfs?SERVICE=WFS&REQUEST=DescribeFeatureType&TYPENAME=ws:a")
    )
    joined = record_of_row(
        pipeline,
        gateway_row("/geoserver/wfs?SERVICE=WFS&REQUEST=GetPropertyValue&TYPENAMES=(ws:a)(ws:b)&valueReference=x"),
    )
    assert (singular["request"], singular["layers"]) == ("describefeaturetype", ["ws:a"])
    assert (joined["request"], joined["layers"]) == ("getpropertyvalue", ["ws:a", "ws:b"])


@pytest.mark.parametrize(("query", "layer"), [
    ("service=WCS&version=2.0.1&request=GetCoverage&coverageId=dem__srtm_30m&format=image/tiff", "dem:srtm_30m"),
    ("service=WCS&version=1.1.1&request=GetCoverage&identifier=dem:srtm_30m&format=image/tiff", "dem:srtm_30m"),
    ("service=WCS&version=1.0.0&request=GetCoverage&coverage=dem:srtm_30m&format=GeoTIFF", "dem:srtm_30m"),
])  # fmt: skip
def test_wcs_getcoverage_maps_every_id_form_to_a_layer(pipeline: Pipeline, query: str, layer: str) -> None:
    record = record_of_row(pipeline, gateway_row(f"/geoserver/wcs?{query}"))
    assert (record["service"], record["request"], record["layers"]) == ("WCS", "getcoverage", [layer])
    assert record["workspaces"] == ["dem"]
    assert record["is_download"] is True
    assert record["download_format"] in ("image/tiff", "geotiff")


def test_wmts_kvp_gettile(pipeline: Pipeline) -> None:
    row = gateway_row(
        "/geoserver/gwc/service/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ortho%3Aortho2023&STYLE="
        "&TILEMATRIXSET=EPSG:3857&TILEMATRIX=EPSG:3857:12&TILEROW=1400&TILECOL=2070&FORMAT=image/jpeg"
    )
    record = record_of_row(pipeline, row)
    assert (record["service"], record["request"], record["layers"], record["tiled"]) == (
        "WMTS",
        "gettile",
        ["ortho:ortho2023"],
        True,
    )


def test_wps_execute_records_the_process(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/ows?service=WPS&version=1.0.0&request=Execute&identifier=gs:Buffer")
    )
    assert (record["service"], record["request"]) == ("WPS", "execute")
    assert "process:gs:Buffer" in record["tags"]
    assert record["layers"] == []


def test_wps_describeprocess_records_the_process(pipeline: Pipeline) -> None:
    record = record_of_row(
        pipeline, gateway_row("/geoserver/wps?service=WPS&request=DescribeProcess&identifier=JTS:area")
    )
    assert (record["service"], record["request"], record["tags"]) == ("WPS", "describeprocess", ["process:JTS:area"])


@pytest.mark.parametrize("request_name", ["GetRecords", "GetRecordById"])
def test_csw_type_names_are_not_layers(pipeline: Pipeline, request_name: str) -> None:
    row = gateway_row(
        f"/geonetwork/srv/eng/csw?service=CSW&version=2.0.2&request={request_name}&typeNames=csw:Record"
        "&id=8f3c&elementSetName=full"
    )
    record = record_of_row(pipeline, row)
    assert (record["service"], record["request"].lower()) == ("CSW", request_name.lower())
    assert record["layers"] == [] and record["workspaces"] == []
    assert record["app"] == "geonetwork"


def test_request_without_service_takes_it_from_the_endpoint(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/wfs?request=GetFeature&typeName=ws:a"))
    assert record["service"] == "WFS"


def test_gateway_parameter_attributes_complete_the_url(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/ows?service=WMS", parameters={"REQUEST": "GetMap", "LAYERS": "ws:a,ws:b"})
    record = record_of_row(pipeline, row)
    assert (record["request"], record["layers"]) == ("getmap", ["ws:a", "ws:b"])


def test_security_proxy_line_is_classified_the_same_way(pipeline: Pipeline) -> None:
    line = proxy_line(
        "http://geoserver:8080/geoserver/ows?SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=psc%3Aparcelles&OUTPUTFORMAT=csv",
        user="mlefort",
        org="Communauté d'agglomération de l'Étang",
        roles=["ROLE_USER", "ROLE_EXTRACTORAPP"],
    )
    record = record_of_line(pipeline, line)
    assert record["source"] == "security-proxy"
    assert (record["service"], record["request"], record["layers"]) == ("WFS", "getfeature", ["psc:parcelles"])
    assert (record["is_download"], record["download_format"]) == (True, "csv")
    assert record["org"] == "Communauté d'agglomération de l'Étang"
    assert record["roles"] == ["ROLE_USER", "ROLE_EXTRACTORAPP"]
    assert record["response_time_ms"] == 87


def test_wfs_transaction_kvp_is_recorded_without_layers_or_download(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wfs?SERVICE=WFS&VERSION=1.1.0&REQUEST=Transaction", method="POST", user="editor")
    record = record_of_row(pipeline, row)
    assert (record["service"], record["request"], record["layers"], record["is_download"]) == (
        "WFS", "transaction", [], False
    )  # fmt: skip


def test_percent_encoded_nul_never_reaches_a_stored_value(pipeline: Pipeline) -> None:
    kvp = record_of_row(pipeline, gateway_row("/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=topp%3Astates%00"))
    rest = record_of_row(pipeline, gateway_row("/geoserver/ogc/features/v1/collections/topp%3Astates%00/items"))
    assert kvp["layers"] == rest["layers"] == ["topp:states"]
