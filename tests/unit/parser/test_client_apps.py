"""Client applications from user agent and referrer: desktop GIS, scripts, MapStore contexts, platform
applications, other web sites; hostile values never raise and stay bounded."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.accesslogs import CHROME, combined_line, record_of_line

from georchestra_analytics.parser.client_apps import MAX_CLIENT_APP_CHARS, ClientApps
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.settings import DEFAULT_APPLICATIONS

APPS = ClientApps(DEFAULT_APPLICATIONS)


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        ("Mozilla/5.0 QGIS/34000/Windows 10", "QGIS"),
        ("QGIS/32803/Ubuntu 22.04.3 LTS", "QGIS"),
        ("ArcGIS Pro 3.2.0 (00000000000) - ArcGISPro", "ArcGIS"),
        ("Esri ArcMap 10.8", "ArcGIS"),
        ("GDAL WMS driver (https://gdal.org/drivers/raster/wms.html)", "GDAL"),
        ("FME/2023.1 libcurl/8.0", "FME"),
        ("OWSLib 0.29.3 (https://owslib.readthedocs.io)", "OWSLib"),
        ("python-requests/2.31.0", "python-requests"),
        ("Python-urllib/3.11", "Python urllib"),
        ("curl/8.5.0", "curl"),
        ("Wget/1.21.4", "Wget"),
        ("Java/17.0.2", "Java"),
        ("Go-http-client/2.0", "Go"),
        ("PostmanRuntime/7.36.0", "Postman"),
    ],
)
def test_tools_by_user_agent(agent: str, label: str) -> None:
    assert APPS.label(agent, "Other", "https://sdi.example.org/mapstore/", False) == label


@pytest.mark.parametrize(
    ("referrer", "label"),
    [
        ("https://sdi.example.org/mapstore/context/urbanisme", "MapStore: urbanisme"),
        ("https://sdi.example.org/mapstore/#/context/eau/123", "MapStore: eau"),
        ("https://sdi.example.org/mapstore/", "MapStore"),
        ("https://sdi.example.org/datahub/dataset/abc?x=1", "datahub"),
        ("https://sdi.example.org/mviewer/?config=apps/a.xml", "mviewer"),
        ("https://WWW.Commune-Exemple.fr:8443/carte.html?x=1", "web: www.commune-exemple.fr"),
        ("https://user:secret@portal.example.net/", "web: portal.example.net"),
    ],
)
def test_web_applications_by_referrer(referrer: str, label: str) -> None:
    assert APPS.label(CHROME, "Chrome", referrer, False) == label


def test_browser_without_referrer_robot_and_nothing() -> None:
    assert APPS.label(CHROME, "Chrome", None, False) == "Chrome"
    assert APPS.label(CHROME, "Chrome", "not a url", False) == "Chrome"
    assert APPS.label("Googlebot/2.1", "Googlebot", None, True) == "robot"
    assert APPS.label(None, None, None, False) == "unknown"


def test_the_record_names_the_client_application(pipeline: Pipeline) -> None:
    record = record_of_line(
        pipeline,
        combined_line("/geoserver/wms?service=WMS&request=GetMap&layers=a:b",
                      referrer="https://sdi.example.org/mapstore/context/urbanisme"),
    )  # fmt: skip
    assert record["client_app"] == "MapStore: urbanisme"
    assert record_of_line(pipeline, combined_line("/geoserver/ows", agent="QGIS/34000"))["client_app"] == "QGIS"


@settings(max_examples=300, deadline=None)
@given(st.none() | st.text(max_size=1000), st.none() | st.text(max_size=100), st.none() | st.text(max_size=3000))
def test_hostile_values_give_a_bounded_label(agent: str | None, family: str | None, referrer: str | None) -> None:
    label = APPS.label(agent, family, referrer, False)
    assert 0 < len(label) <= MAX_CLIENT_APP_CHARS
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in label)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_hostile_mapstore_context_names_are_refused_or_kept_plain(name: str) -> None:
    label = APPS.label(CHROME, "Chrome", f"https://h.example/mapstore/context/{name}", False)
    assert label == "MapStore" or re.fullmatch(r"MapStore: [\w.\-]{1,64}", label), label
