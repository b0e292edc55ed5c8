"""The two input formats: OTel buffer rows and text lines; anonymous users, headers, rejects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.support.accesslogs import (
    CHROME,
    FIREFOX,
    GATEWAY_SCOPE,
    combined_line,
    gateway_row,
    proxy_line,
    record_of_line,
    record_of_row,
)

from georchestra_analytics.parser.ids import line_id, stable_id
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import Reject


def test_anonymous_gateway_request_has_null_user_and_no_roles(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/wms?service=WMS&request=GetCapabilities"))
    assert (record["user"], record["org"], record["roles"]) == (None, None, [])


@pytest.mark.parametrize("identity_user", [None])
def test_anonymous_security_proxy_user_is_null(pipeline: Pipeline, identity_user: str | None) -> None:
    record = record_of_line(
        pipeline, proxy_line("http://geoserver:8080/geoserver/wms?request=GetMap&layers=a", user=identity_user)
    )
    assert "anonymousUser" in proxy_line("http://x/", user=None)
    assert (record["user"], record["org"], record["roles"]) == (None, None, [])


def test_headers_are_matched_whatever_their_case(pipeline: Pipeline) -> None:
    lower = record_of_row(
        pipeline,
        gateway_row("/geoserver/wms", headers={"user-agent": CHROME, "referer": "https://geo.example.org/mapstore/"}),
    )
    upper = record_of_row(
        pipeline,
        gateway_row("/geoserver/wms", headers={"User-Agent": CHROME, "Referer": "https://geo.example.org/mapstore/"}),
    )
    assert lower["user_agent"] == upper["user_agent"]
    assert lower["user_agent"]["family"] == "Chrome"
    assert lower["referrer"] == upper["referrer"] == "https://geo.example.org/mapstore/"


def test_gateway_optional_measurements_are_read_when_present(pipeline: Pipeline) -> None:
    row = gateway_row(
        "/geoserver/wms",
        extra={"http.response.body.size": 5120, "http.server.request.duration": 0.25, "client.address": "203.0.113.77"},
    )
    record = record_of_row(pipeline, row)
    assert (record["response_size"], record["response_time_ms"], record["client_ip"]) == (5120, 250, "203.0.113.0")


def test_gateway_emits_no_measurements_by_default(pipeline: Pipeline) -> None:
    record = record_of_row(pipeline, gateway_row("/geoserver/wms"))
    assert (record["response_size"], record["response_time_ms"], record["client_ip"]) == (None, None, None)


def test_gateway_status_is_a_string_and_an_absurd_one_becomes_null(pipeline: Pipeline) -> None:
    assert record_of_row(pipeline, gateway_row("/x", status="404"))["status"] == 404
    assert record_of_row(pipeline, gateway_row("/x", status="99999"))["status"] is None


def test_timestamps_are_utc(pipeline: Pipeline) -> None:
    record = record_of_line(pipeline, combined_line("/x").replace("+0000", "+0200"))
    assert record["ts"].utcoffset() is not None
    assert record["ts"].tzinfo == UTC
    assert record["ts"] == datetime(2026, 11, 27, 7, 30, 15, tzinfo=UTC)


def test_combined_line_fields(pipeline: Pipeline) -> None:
    line = combined_line("/geoserver/wms?request=GetMap&layers=a:b", referrer="https://x.org/page?secret=1", size=None)
    record = record_of_line(pipeline, line)
    assert (record["source"], record["status"], record["response_size"]) == ("combined", 200, None)
    assert record["referrer"] == "https://x.org/page?secret=1"


def test_nginx_escaped_quotes_in_the_user_agent(pipeline: Pipeline) -> None:
    line = combined_line("/x", agent=FIREFOX + ' \\"quoted\\"')
    assert record_of_line(pipeline, line)["user_agent"]["family"] == "Firefox"


def test_plain_common_log_format(pipeline: Pipeline) -> None:
    record = record_of_line(
        pipeline,
        '127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "GET /geoserver/wms?request=GetCapabilities HTTP/1.0" 200 2326',
    )
    assert (record["source"], record["user"], record["service"]) == ("clf", "frank", "WMS")


@pytest.mark.parametrize(("row", "reason_part"), [
    ({**gateway_row("/x"), "scope": {"name": "org.springframework.web"}}, "other scope"),
    ({**gateway_row("/x"), "attributes": {}}, "without attributes"),
    ({**gateway_row("/x"), "attributes": None}, "without attributes"),
    ({**gateway_row("/x"), "timestamp": "yesterday", "observed_timestamp": None}, "timestamp"),
    ({"scope": None, "message": None}, "no message"),
    ({"scope": {"name": GATEWAY_SCOPE}, "attributes": {"foo": "bar"}, "timestamp": "2026-01-01T00:00:00Z"}, "URL"),
])  # fmt: skip
def test_unusable_rows_are_rejected_with_a_reason(pipeline: Pipeline, row: dict[str, object], reason_part: str) -> None:
    result = pipeline.parse_row(row)
    assert isinstance(result, Reject)
    assert reason_part in result.reason
    assert result.raw  # the input is kept


@pytest.mark.parametrize(("line", "reason_part"), [
    (combined_line("/geoserver/wms?request=GetMap")[:60], "truncated"),
    ("\x00\x01\x02PK\x03\x04 binary", "binary"),
    ("", "empty"),
    ('1.2.3.4 - - [99/Foo/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"', "timestamp"),
    ("2026-11-27 10:00:00 INFO  o.g.console.Main - started", "malformed"),
])  # fmt: skip
def test_unusable_lines_are_rejected_with_a_reason(pipeline: Pipeline, line: str, reason_part: str) -> None:
    result = pipeline.parse_line(line, "access.log", 0)
    assert isinstance(result, Reject)
    assert reason_part in result.reason
    assert result.raw["message"] == line


def test_security_proxy_line_through_the_buffer(pipeline: Pipeline) -> None:
    line = proxy_line("http://geoserver:8080/geoserver/wms?request=GetMap&layers=a:b", user="u", org="O", roles=["R"])
    row = {
        "timestamp": "2026-11-27T10:00:00Z",
        "message": line,
        "scope": {"name": "org.georchestra.security.accesslog"},
        "attributes": {},
        "source_type": "opentelemetry",
    }
    assert record_of_row(pipeline, row) == {**record_of_line(pipeline, line), "id": record_of_row(pipeline, row)["id"]}


def test_row_from_the_database_and_from_json_give_the_same_record(pipeline: Pipeline) -> None:
    as_json = gateway_row("/geoserver/wms?request=GetMap&layers=a:b")
    from_db = {
        **as_json,
        "timestamp": datetime.fromisoformat(as_json["timestamp"]),
        "observed_timestamp": datetime.fromisoformat(as_json["observed_timestamp"]),
    }
    assert record_of_row(pipeline, as_json) == record_of_row(pipeline, from_db)


def test_ids_are_stable_and_distinguish_identical_lines_by_occurrence(pipeline: Pipeline) -> None:
    line = combined_line("/geoserver/wms?request=GetMap&layers=a:b")
    first, again, second = (pipeline.parse_line(line, "access.log", n) for n in (0, 0, 1))
    other_file = pipeline.parse_line(line, "other.log", 0)
    assert not isinstance(first, Reject) and not isinstance(again, Reject)
    assert not isinstance(second, Reject) and not isinstance(other_file, Reject)
    assert first["id"] == again["id"]
    assert len({first["id"], second["id"], other_file["id"]}) == 3


def _file_row(uid: str, path: str = "/x") -> dict[str, object]:
    return {
        "timestamp": "2026-11-27T10:00:00Z",
        "message": combined_line(path),
        "source_type": "file",
        "attributes": {"log.format": "combined", "log.file.name": "a.log", "log.record.uid": uid},
    }


def test_ingest_uid_attribute_is_the_record_id(pipeline: Pipeline) -> None:
    digest = line_id("a.log", combined_line("/x"), 0)  # what `ingest` writes
    assert record_of_row(pipeline, _file_row(digest))["id"] == digest


def test_any_other_uid_is_digested_into_a_bounded_id(pipeline: Pipeline) -> None:
    # The collector names a file line by file, offset and text; an application may send anything.
    named = "file\n/var/log/access/nginx/access.log\n231\n" + combined_line("/x")
    first, again = (record_of_row(pipeline, _file_row(uid))["id"] for uid in (named, named))
    assert first == again == stable_id("uid", named)
    assert len(first) == 32 and first != named
    huge = record_of_row(pipeline, _file_row("x" * 100_000))["id"]
    assert len(huge) == 32
    gateway = {
        "timestamp": "2026-11-27T10:00:00Z",
        "message": "GET 200 https://example.org/geoserver/ows",
        "scope": {"name": "org.georchestra.gateway.accesslog"},
        "attributes": {
            "http.request.method": "GET",
            "http.status_code": "200",
            "http.request.url": "https://example.org/geoserver/ows",
            "log.record.uid": "abc123",
        },
    }
    assert record_of_row(pipeline, gateway)["id"] == stable_id("uid", "abc123")
