"""One canonical name per download format (docs/classification.md lists the table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from georchestra_analytics.parser.formats import FORMATS, canonical_format, download_formats, normalise

DOC = Path(__file__).resolve().parents[3] / "docs" / "classification.md"


@pytest.mark.parametrize(
    ("requested", "canonical"),
    [
        ("application/json", "geojson"),
        ("json", "geojson"),
        ("SHAPE-ZIP", "shapefile"),
        ("shape-zip", "shapefile"),
        ("application/zip", "shapefile"),
        ("application/vnd.google-earth.kml+xml", "kml"),
        ("application/vnd.google-earth.kml xml", "kml"),  # `+` decoded as a space from an unencoded URL
        ("KML", "kml"),
        ("application/geopackage+sqlite3", "geopackage"),
        ("gpkg", "geopackage"),
        ("text/xml; subtype=gml/3.1.1", "gml"),
        ("application/gml+xml; version=3.2", "gml"),
        ("GML2", "gml"),
        ("excel2007", "excel"),
        ("image/tiff", "geotiff"),
        ("image/tiff;application=geotiff", "geotiff"),
        ("image/png", "png"),
        ("csv", "csv"),
        (" text/csv ", "csv"),
        ("application/x-netcdf", "netcdf"),
        ("application/x-custom-thing", "application/x-custom-thing"),  # unknown: its normalised spelling
        ("Application/X-Custom-Thing; q=1", "application/x-custom-thing"),
        ("", None),
        (None, None),
    ],
)
def test_canonical_names(requested: str | None, canonical: str | None) -> None:
    assert canonical_format(requested) == canonical


def test_every_spelling_is_normalised_and_named_once() -> None:
    seen: dict[str, str] = {}
    for name, spellings in FORMATS.items():
        assert canonical_format(name) == name  # a canonical name names itself
        for spelling in spellings:
            assert normalise(spelling) == spelling, spelling
            assert seen.setdefault(spelling, name) == name, spelling


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(FORMATS)),
    pick=st.integers(min_value=0),
    upper=st.booleans(),
    blanks=st.sampled_from(["", " ", "\t"]),
    parameter=st.sampled_from(["", "; charset=UTF-8", ";version=2"]),
)
def test_any_spelling_in_any_case_with_parameters_gives_its_canonical_name(
    name: str, pick: int, upper: bool, blanks: str, parameter: str
) -> None:
    spellings = FORMATS[name]
    spelling = spellings[pick % len(spellings)]
    if ";" in spelling:
        parameter = ""
    if "/" not in spelling:
        parameter = ""  # a short name takes no MIME parameter
    requested = blanks + (spelling.upper() if upper else spelling) + parameter + blanks
    assert canonical_format(requested) == name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_name_or_none_never_an_error(text: str) -> None:
    result = canonical_format(text)
    assert result is None or (result == result.strip().lower() and result)


def test_the_documented_table_is_the_code_table() -> None:
    """docs/classification.md lists each canonical name with its spellings."""
    page = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", page, re.MULTILINE))
    for name, spellings in FORMATS.items():
        assert name in rows, name
        documented = re.findall(r"`([^`]+)`", rows[name])
        assert documented == list(spellings), name


def test_download_formats_keep_the_requested_value_beside_the_canonical_name() -> None:
    assert download_formats("WFS", " SHAPE-ZIP ", True) == ("shapefile", "SHAPE-ZIP")
    assert download_formats("WFS", None, True) == ("gml", None)  # GetFeature's default output is GML
    assert download_formats("WFS", None, False) == (None, None)  # resultType=hits: no data
    assert download_formats("WCS", None, True) == (None, None)  # WCS's default is the coverage's own format
    assert download_formats("WFS", "text/html", False) == ("html", "text/html")
    assert download_formats("WFS", "x" * 201, True) == ("other", "x" * 201)  # the record's bounds cut it
