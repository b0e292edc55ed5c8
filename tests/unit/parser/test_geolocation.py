"""Countries and regions of client addresses: looked up from the whole address before the privacy rules, from
the packaged database or a MaxMind DB file (written here with mmdb-writer); private, malformed and hostile
addresses give nothing and never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from tests.support.accesslogs import combined_line, record_of_line

from georchestra_analytics.parser.geolocation import (
    GeolocationError,
    MaxMindLocator,
    PackagedLocator,
    plain_address,
)
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.settings import ClientIpPolicy, GeolocationSettings, ParserSettings, PrivacySettings

# Addresses whose registry country has been stable for decades (a root DNS server, a national network).
GOOGLE_DNS, RENATER = "8.8.8.8", "193.48.0.1"


@pytest.fixture(scope="module")
def city_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["81.250.1.0/24"]), {"country": {"iso_code": "FR"}, "subdivisions": [{"iso_code": "BRE"}]}
    )
    writer.insert_network(IPSet(["2a01:cb00:1::/48"]), {"country": {"iso_code": "de"}})
    writer.insert_network(IPSet(["62.4.0.0/24"]), {"registered_country": {"iso_code": "BE"}})
    writer.insert_network(IPSet(["45.67.89.0/24"]), {"country": {"iso_code": "<script>"}})
    path = tmp_path_factory.mktemp("mmdb") / "city.mmdb"
    writer.to_db_file(str(path))
    return path


@pytest.mark.parametrize(
    ("address", "plain"),
    [
        ("8.8.8.8", "8.8.8.8"),
        ("8.8.8.8:51234", "8.8.8.8"),
        ("[2001:4860:4860::8888]:443", "2001:4860:4860::8888"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("10.1.2.3", None),
        ("127.0.0.1", None),
        ("fe80::1", None),
        ("unknown", None),
        ("", None),
    ],
)
def test_plain_address(address: str, plain: str | None) -> None:
    assert plain_address(address) == plain


def test_packaged_database_countries() -> None:
    locator = PackagedLocator()
    assert locator.locate(GOOGLE_DNS) == ("US", None)
    assert locator.locate(RENATER) == ("FR", None)
    assert locator.locate("10.0.0.1") == (None, None)
    assert locator.locate(None) == (None, None)


def test_maxmind_file_countries_and_regions(city_file: Path) -> None:
    with_regions = MaxMindLocator(str(city_file), regions=True)
    assert with_regions.locate("81.250.1.9") == ("FR", "BRE")
    assert with_regions.locate("[2a01:cb00:1::5]:80") == ("DE", None)
    assert with_regions.locate("62.4.0.1") == ("BE", None)  # registered country when no country
    assert with_regions.locate("45.67.89.1") == (None, None)  # not an ISO code: nothing stored
    assert MaxMindLocator(str(city_file)).locate("81.250.1.9") == ("FR", None)  # regions off


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(GeolocationError, match=r"bad\.mmdb"):
        MaxMindLocator(str(bad))
    with pytest.raises(GeolocationError):
        MaxMindLocator(str(tmp_path / "missing.mmdb"))


def test_country_is_looked_up_before_truncation(city_file: Path) -> None:
    """81.250.1.9 is in the file's network; its /24 (what clientIp: truncate keeps) would be too, so the file
    below has a country for the whole address only."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True)
    writer.insert_network(IPSet(["81.250.1.9/32"]), {"country": {"iso_code": "FR"}})
    path = city_file.parent / "one.mmdb"
    writer.to_db_file(str(path))
    for policy in (ClientIpPolicy.TRUNCATE, ClientIpPolicy.DROP):
        pipeline = Pipeline(
            ParserSettings(
                geolocation=GeolocationSettings(country=True, database_file=str(path)),
                privacy=PrivacySettings(client_ip=policy),
            )
        )
        record = record_of_line(pipeline, combined_line("/geoserver/ows", ip="81.250.1.9"))
        assert record["country"] == "FR"
        assert record["client_ip"] in ("81.250.1.0", None)


def test_geolocation_off_stores_no_country(city_file: Path) -> None:
    pipeline = Pipeline(ParserSettings(geolocation=GeolocationSettings(country=False, database_file=str(city_file))))
    record = record_of_line(pipeline, combined_line("/geoserver/ows", ip="81.250.1.9"))
    assert record["country"] is None and record["region"] is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.ip_addresses().map(str))
def test_hostile_addresses_give_a_code_or_nothing(address: str) -> None:
    country, region = PackagedLocator().locate(address)
    assert country is None or (len(country) == 2 and country.isascii() and country.isupper())
    assert region is None
