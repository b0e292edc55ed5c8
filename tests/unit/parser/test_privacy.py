"""Privacy rules, applied on every path (OTel rows and text lines)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from tests.support.accesslogs import combined_line, gateway_row, proxy_line, record_of_line, record_of_row

from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.privacy import truncate_ip
from georchestra_analytics.parser.settings import ClientIpPolicy, ParserSettings, PrivacySettings, SettingsError


@pytest.mark.parametrize(("address", "truncated"), [
    ("192.0.2.200", "192.0.2.0"), ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
    ("::ffff:198.51.100.9", "198.51.100.0"),
    ("198.51.100.9:43122", "198.51.100.0"), ("[2001:db8::1]:443", "2001:db8::"), ("proxy.internal", None), ("", None),
])  # fmt: skip
def test_truncate_ip(address: str, truncated: str | None) -> None:
    assert truncate_ip(address) == truncated


def test_truncation_is_the_default_on_both_paths(pipeline: Pipeline) -> None:
    line = record_of_line(pipeline, proxy_line("http://g/geoserver/wms", ip="203.0.113.99"))
    row = record_of_row(pipeline, gateway_row("/geoserver/wms", extra={"client.address": "203.0.113.99"}))
    assert line["client_ip"] == row["client_ip"] == "203.0.113.0"


@pytest.mark.parametrize(("policy", "expected"), [(ClientIpPolicy.DROP, None), (ClientIpPolicy.KEEP, "203.0.113.99")])
def test_ip_policy(policy: ClientIpPolicy, expected: str | None) -> None:
    custom = Pipeline(ParserSettings(privacy=PrivacySettings(client_ip=policy)))
    assert record_of_line(custom, combined_line("/x", ip="203.0.113.99"))["client_ip"] == expected


def test_pseudonymisation_uses_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PSEUDONYM_KEY", "s3cr3t")
    custom = Pipeline(
        ParserSettings(privacy=PrivacySettings(pseudonymize_users=True, pseudonym_key_env="TEST_PSEUDONYM_KEY"))
    )
    row = record_of_row(custom, gateway_row("/x", user="jdoe", org="psc"))
    line = record_of_line(custom, proxy_line("http://g/x", user="jdoe", org="PSC"))
    expected = hmac.new(b"s3cr3t", b"jdoe", hashlib.sha256).hexdigest()[:24]
    assert row["user"] == line["user"] == expected
    assert row["org"] == "psc"  # organisations are not personal data
    anonymous = record_of_row(custom, gateway_row("/x"))
    assert anonymous["user"] is None


def test_pseudonymisation_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_PSEUDONYM_KEY", raising=False)
    with pytest.raises(SettingsError, match="TEST_PSEUDONYM_KEY"):
        Pipeline(
            ParserSettings(privacy=PrivacySettings(pseudonymize_users=True, pseudonym_key_env="TEST_PSEUDONYM_KEY"))
        )


def test_query_strings_can_be_dropped_after_classification() -> None:
    custom = Pipeline(ParserSettings(privacy=PrivacySettings(drop_query_strings=True)))
    record = record_of_line(
        custom, combined_line("/geoserver/wms?request=GetMap&layers=a:b&token=x", referrer="https://s/p?q=1")
    )
    assert record["query"] is None
    assert record["referrer"] == "https://s/p"
    assert (record["request"], record["layers"]) == ("getmap", ["a:b"])


def test_the_gateway_socket_address_form_gives_the_ip() -> None:
    from georchestra_analytics.parser.sources.otel import socket_address_ip

    assert socket_address_ip("/192.0.2.44:51234") == "192.0.2.44"
    assert socket_address_ip("client.example.org/192.0.2.44:51234") == "192.0.2.44"
    assert socket_address_ip("/[2001:db8::1]:443") == "2001:db8::1"
    assert socket_address_ip("/2001:db8::1") == "2001:db8::1"  # no port: IPv6 text kept whole
    assert truncate_ip(socket_address_ip("/[2001:db8:aa:bb::1]:443")) == "2001:db8:aa::"
