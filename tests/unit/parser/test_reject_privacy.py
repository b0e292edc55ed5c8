"""A reject's stored input gets the client-address rule of the records: IPv4 /24, IPv6 /48 by default,
removed or kept as configured; what is not an address is left alone."""

from __future__ import annotations

import time

import pytest

from georchestra_analytics.parser.privacy import Privacy
from georchestra_analytics.parser.reject_privacy import RejectPrivacy
from georchestra_analytics.parser.settings import ClientIpPolicy, PrivacySettings


def _rule(policy: ClientIpPolicy = ClientIpPolicy.TRUNCATE) -> RejectPrivacy:
    return RejectPrivacy(Privacy(PrivacySettings(client_ip=policy)))


RAW = {
    "message": '203.0.113.77 - bob [27/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 garbage',
    "attributes": {
        "http.request.remote-addr": "/192.0.2.44:51234",
        "http.request.header.X-Forwarded-For": "198.51.100.23, 2001:db8:85a3:1:2:8a2e:370:7334",
        "http.request.header.Via": "[2001:db8::1]:443",
        "ports": [8080, "10.1.2.3"],
    },
    "timestamp": "2026-11-27T10:00:00+00:00",
}


def test_addresses_are_truncated_as_client_ip_is() -> None:
    stored = _rule().apply(RAW)
    assert stored["message"].startswith("203.0.113.0 - bob [27/Nov/2026:10:00:00 +0000]")
    attributes = stored["attributes"]
    assert attributes["http.request.remote-addr"] == "/192.0.2.0:51234"
    assert attributes["http.request.header.X-Forwarded-For"] == "198.51.100.0, 2001:db8:85a3::"
    assert attributes["http.request.header.Via"] == "[2001:db8::]:443"
    assert attributes["ports"] == [8080, "10.1.2.0"]
    assert stored["timestamp"] == RAW["timestamp"]  # 10:00:00 is no address
    assert RAW["attributes"]["http.request.remote-addr"] == "/192.0.2.44:51234"  # a copy, not in place


@pytest.mark.parametrize(
    "text", ["12:34:56", "999.1.2.3", "1.2.3.4.5", "version 10.4", "deadbeef", "a:b", "fe80::zz", ""]
)
def test_what_is_not_an_address_is_left_alone(text: str) -> None:
    assert _rule().apply({"message": text}) == {"message": text}


def test_dropped_addresses_leave_a_dash_and_kept_ones_stay() -> None:
    assert _rule(ClientIpPolicy.DROP).apply({"message": "192.0.2.44 - -"}) == {"message": "- - -"}
    kept = _rule(ClientIpPolicy.KEEP)
    assert kept.apply(RAW) is RAW


def test_a_long_hostile_string_stays_fast() -> None:
    text = ("1:" * 40_000) + "1.2.3." * 10_000 + "f" * 30_000
    started = time.perf_counter()
    assert _rule().apply({"message": text}) == {"message": text}
    assert time.perf_counter() - started < 1
