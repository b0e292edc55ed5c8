"""Property tests of the attribute shapes a Gateway (or any OTel HTTP source) really sends: the client address in
Java's `/ip:port` form and behind proxies, response time and size under georchestra/analytics 2.x's keys and
under OpenTelemetry's HTTP conventions, the request under `url.full` / `server.address`."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.accesslogs import gateway_row, record_of_row

from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.privacy import truncate_ip
from georchestra_analytics.parser.record import AccessRecord, Reject
from georchestra_analytics.parser.settings import ClientIpPolicy, ParserSettings, PrivacySettings
from georchestra_analytics.parser.sources.addresses import client_address, forwarded_for, is_internal

TRUNCATING = Pipeline(ParserSettings())
KEEPING = Pipeline(ParserSettings(privacy=PrivacySettings(client_ip=ClientIpPolicy.KEEP)))
DROPPING = Pipeline(ParserSettings(privacy=PrivacySettings(client_ip=ClientIpPolicy.DROP)))

ports = st.integers(min_value=0, max_value=65535)
ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6).filter(lambda ip: ip.ipv4_mapped is None)
addresses = ipv4 | ipv6
public = addresses.filter(lambda ip: not is_internal(ip))
internal = st.sampled_from(["10.1.2.3", "172.20.0.9", "192.168.1.20", "127.0.0.1", "100.64.3.4", "fd00::7", "::1"])
host_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True)


def _record(pipeline: Pipeline, extra: dict[str, Any], **kwargs: Any) -> AccessRecord:
    return record_of_row(pipeline, gateway_row("/geoserver/wms?SERVICE=WMS&REQUEST=GetMap", extra=extra, **kwargs))


def _socket_text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, host: str | None) -> str:
    """Java's InetSocketAddress#toString: `host/ip:port`, with the host empty when unresolved, IPv6 in brackets."""
    shown = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{host or ''}/{shown}:{port}"


@settings(max_examples=150, deadline=None)
@given(ip=addresses, port=ports, host=st.none() | host_names)
def test_remote_addr_in_java_form_gives_the_ip_under_each_privacy_rule(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, host: str | None
) -> None:
    extra = {"http.request.remote-addr": _socket_text(ip, port, host)}
    assert _record(KEEPING, extra)["client_ip"] == str(ip)
    assert _record(TRUNCATING, extra)["client_ip"] == truncate_ip(str(ip))
    assert _record(DROPPING, extra)["client_ip"] is None


def test_remote_addr_examples_of_the_gateway() -> None:
    assert _record(TRUNCATING, {"http.request.remote-addr": "/192.0.2.44:51234"})["client_ip"] == "192.0.2.0"
    assert _record(TRUNCATING, {"http.request.remote-addr": "/[2001:db8::1]:443"})["client_ip"] == "2001:db8::"
    assert _record(KEEPING, {"http.request.remote-addr": "/[2001:db8::1]:443"})["client_ip"] == "2001:db8::1"


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(internal, max_size=3),
    client=public,
    after=st.lists(addresses.map(str) | internal, max_size=3),
    spaces=st.sampled_from([",", ", ", " , "]),
)
def test_x_forwarded_for_gives_the_first_public_hop_truncated(
    before: list[str], client: ipaddress.IPv4Address | ipaddress.IPv6Address, after: list[str], spaces: str
) -> None:
    """No address attribute, or an internal one (the ingress in front of the Gateway): the leftmost public
    address of the list, then the privacy rule."""
    header = spaces.join([*before, str(client), *after])
    for extra in ({}, {"http.request.remote-addr": "/10.42.0.17:8080"}):
        record = _record(TRUNCATING, extra, headers={"X-Forwarded-For": header})
        assert record["client_ip"] == truncate_ip(str(client))
        assert _record(KEEPING, extra, headers={"x-forwarded-for": header})["client_ip"] == str(client)
        assert _record(DROPPING, extra, headers={"X-Forwarded-For": header})["client_ip"] is None


@settings(max_examples=100, deadline=None)
@given(direct=public, forwarded=st.lists(addresses.map(str), min_size=1, max_size=4))
def test_a_public_address_attribute_wins_over_the_headers(
    direct: ipaddress.IPv4Address | ipaddress.IPv6Address, forwarded: list[str]
) -> None:
    """The Gateway honours proxy headers itself (its remote-addr is then the client): a public one is kept."""
    extra = {"http.request.remote-addr": _socket_text(direct, 443, None)}
    record = _record(KEEPING, extra, headers={"X-Forwarded-For": ", ".join(forwarded)})
    assert record["client_ip"] == str(direct)


@settings(max_examples=100, deadline=None)
@given(hops=st.lists(internal, min_size=1, max_size=4))
def test_only_internal_hops_give_the_first_one(hops: list[str]) -> None:
    record = _record(KEEPING, {}, headers={"X-Forwarded-For": ", ".join(hops)})
    assert record["client_ip"] == str(ipaddress.ip_address(hops[0]))


def test_forwarded_header_and_unusable_hops() -> None:
    header = 'for=unknown, for="_hidden";proto=https, for="[2001:db8:cafe::17]:4711";by=203.0.113.43'
    assert forwarded_for(header) == ["unknown", "_hidden", "[2001:db8:cafe::17]:4711"]
    record = _record(KEEPING, {}, headers={"Forwarded": header})
    assert record["client_ip"] == "2001:db8:cafe::17"
    assert _record(KEEPING, {}, headers={"X-Forwarded-For": "unknown, 198.51.100.7:3128"})["client_ip"] == (
        "198.51.100.7"
    )
    assert client_address(None, ["unknown"]) is None
    assert client_address("gateway.internal", []) == "gateway.internal"  # a host name: kept only under keep
    assert _record(TRUNCATING, {"client.address": "gateway.internal"})["client_ip"] is None


def test_a_forged_header_of_many_hops_is_bounded() -> None:
    header = ", ".join(["10.0.0.1"] * 100_000 + ["198.51.100.7"])
    assert len(forwarded_for(header)) == 32
    assert _record(KEEPING, {}, headers={"X-Forwarded-For": header})["client_ip"] == "10.0.0.1"


@settings(max_examples=100, deadline=None)
@given(ip=addresses, as_text=st.booleans())
def test_client_address_attribute(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, as_text: bool) -> None:
    record = _record(KEEPING, {"client.address": str(ip) if as_text else _socket_text(ip, 80, None)})
    assert record["client_ip"] == str(ip)


durations_ms = st.integers(min_value=0, max_value=2**31 - 1)
sizes = st.integers(min_value=0, max_value=2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(ms=durations_ms, size=sizes, as_text=st.booleans())
def test_2x_duration_and_size_keys(ms: int, size: int, as_text: bool) -> None:
    """The keys georchestra/analytics 2.x reads, as numbers or as the strings an MDC gives."""
    extra: dict[str, Any] = {
        "http.response.duration_ms": str(ms) if as_text else ms,
        "http.response.body.size_bytes": str(size) if as_text else size,
    }
    record = _record(TRUNCATING, extra)
    assert (record["response_time_ms"], record["response_size"]) == (ms, size)


@settings(max_examples=150, deadline=None)
@given(seconds=st.floats(min_value=0, max_value=2_000_000, allow_nan=False), size=sizes, status=st.integers(100, 599))
def test_opentelemetry_http_conventions(seconds: float, size: int, status: int) -> None:
    """`http.server.request.duration` is in seconds; `http.response.status_code` is an integer."""
    row = gateway_row("/x")
    attributes = row["attributes"]
    del attributes["http.status_code"]
    attributes.update({
        "http.server.request.duration": seconds,
        "http.response.body.size": size,
        "http.response.status_code": status,
    })  # fmt: skip
    record = record_of_row(TRUNCATING, row)
    assert record["response_time_ms"] == round(seconds * 1000)
    assert (record["response_size"], record["status"]) == (size, status)


@settings(max_examples=50, deadline=None)
@given(ms=st.integers(min_value=-(2**40), max_value=-1) | st.integers(min_value=2**31, max_value=2**40))
def test_durations_out_of_range_are_null_not_a_failure(ms: int) -> None:
    assert _record(TRUNCATING, {"http.response.duration_ms": ms})["response_time_ms"] is None


def test_2x_keys_come_after_the_conventions_and_a_bad_value_is_null() -> None:
    both = {"http.response.body.size": 10, "http.response.body.size_bytes": 20, "http.response.duration_ms": "n/a"}
    record = _record(TRUNCATING, both)
    assert (record["response_size"], record["response_time_ms"]) == (10, None)
    assert _record(TRUNCATING, {"http.server.request.duration": True})["response_time_ms"] is None


paths = st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), min_size=1, max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)
queries = st.none() | st.from_regex(r"[a-z]{1,8}=[A-Za-z0-9]{0,8}(&[a-z]{1,8}=[A-Za-z0-9]{0,8}){0,3}", fullmatch=True)
servers = st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,8}){1,2}", fullmatch=True)


def _otel_row(attributes: dict[str, Any]) -> dict[str, Any]:
    """A Gateway-scope row without the Gateway's own URL keys and without the body repeating the request."""
    row = gateway_row("/unused")
    row["message"] = ""
    row["attributes"] = {"http.request.method": "GET", "http.response.status_code": 200, **attributes}
    return row


@settings(max_examples=150, deadline=None)
@given(server=servers, path=paths, query=queries)
def test_url_full_and_server_address(server: str, path: str, query: str | None) -> None:
    url = f"https://{server}{path}" + (f"?{query}" if query else "")
    record = record_of_row(TRUNCATING, _otel_row({"url.full": url}))
    assert (record["server"], record["path"], record["query"]) == (server, path, query)
    # A path alone (url.path, url.query) takes its server from server.address.
    split = {"url.path": path, "server.address": server, **({"url.query": query} if query else {})}
    record = record_of_row(TRUNCATING, _otel_row(split))
    assert (record["server"], record["path"], record["query"]) == (server, path, query)


def test_no_url_at_all_is_a_reject_with_its_reason() -> None:
    result = TRUNCATING.parse_row(_otel_row({"server.address": "geo.example.org"}))
    assert isinstance(result, Reject) and result.reason == "gateway log without a request URL"


@pytest.mark.parametrize("policy", list(ClientIpPolicy))
def test_no_address_anywhere_gives_none(policy: ClientIpPolicy) -> None:
    pipeline = Pipeline(ParserSettings(privacy=PrivacySettings(client_ip=policy)))
    assert _record(pipeline, {})["client_ip"] is None


org_ids = st.from_regex(r"[a-z][a-z0-9_-]{0,30}", fullmatch=True)
display_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=60
).filter(lambda text: text.strip() == text and text)


@settings(max_examples=150, deadline=None)
@given(org_id=org_ids, fullname=display_names)
def test_enduser_org_fullname_is_the_display_name_beside_the_key(org_id: str, fullname: str) -> None:
    extra = {"enduser.org.fullname": fullname}
    record = _record(TRUNCATING, extra, user="camille", org=org_id)
    assert (record["org"], record["org_name"]) == (org_id, fullname)
    # Anonymous requests carry no organisation, whatever attributes remain.
    assert (_record(TRUNCATING, extra, org=org_id)["org"], _record(TRUNCATING, extra)["org_name"]) == (None, None)
