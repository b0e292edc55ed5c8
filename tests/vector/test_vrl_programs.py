"""The VRL programs of vector/vrl/ compiled and run by the real VRL compiler, on realistic and hostile events."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.vector import (
    BUFFER_COLUMNS,
    INT4_MAX,
    INT4_MIN,
    NGINX_COMBINED_LINE,
    SECURITY_PROXY_LINE,
    gateway_event,
    run_condition,
    run_remap,
    sink_json,
)
from vrl_python import VRLRuntime

from georchestra_analytics.render.vrl import (
    ACCEPTED_SCOPE_PROGRAM,
    BUFFER_ROW_PROGRAM,
    PROGRAMS,
    TEXT_LINE_PROGRAM,
    load_program,
    program_with_parameters,
)

GATEWAY_SCOPE = "org.georchestra.gateway.accesslog"
SECURITY_PROXY_SCOPE = "org.georchestra.security.accesslog"
REPLACEMENT_CHARACTER = "\ufffd"

# Each program with parameters of the kind the rendered configuration gives it.
EXAMPLE_PARAMETERS: dict[str, dict[str, Any]] = {
    ACCEPTED_SCOPE_PROGRAM: {"accepted_scopes": [GATEWAY_SCOPE, SECURITY_PROXY_SCOPE]},
    TEXT_LINE_PROGRAM: {"log_format": "combined"},
    BUFFER_ROW_PROGRAM: {},
}


def scope_filter(*scopes: str) -> str:
    return program_with_parameters(ACCEPTED_SCOPE_PROGRAM, {"accepted_scopes": list(scopes)})


def buffer_row(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    output = run_remap(load_program(BUFFER_ROW_PROGRAM), event)
    return output.event, output.kinds


def parse_displayed(value: str) -> dt.datetime:
    """A timestamp as vrl-python displays it, back to a datetime (microseconds kept)."""
    day, time, _utc = value.split(" ")
    whole, _, fraction = time.partition(".")
    base = dt.datetime.fromisoformat(f"{day}T{whole}+00:00")
    return base + dt.timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def strings_in(value: Any) -> list[str]:
    """Every string of a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *strings_in(item)]]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


# --- every program -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_compiles_with_its_parameters(name: str) -> None:
    assert VRLRuntime.check_syntax(program_with_parameters(name, EXAMPLE_PARAMETERS[name])) is None
    assert VRLRuntime(None).compile(program_with_parameters(name, EXAMPLE_PARAMETERS[name])) is True


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_cannot_fail_at_run_time(name: str) -> None:
    # VRL only fails at run time where a program asserts with `!`; the compiler makes every other error handled.
    # A failing remap would pass its event on unshaped, and a failing condition would drop an access log.
    source = load_program(name)
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert re.findall(r"\b\w+!\s*\(", code) == []


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_text_is_safe_in_a_vector_config(name: str) -> None:
    # Printable ASCII only (a YAML block scalar needs no escape), and no `$`, which Vector's loader would take
    # for an environment variable.
    source = load_program(name)
    assert source.isascii()
    assert all(character == "\n" or " " <= character <= "~" for character in source)
    assert "$" not in source


# --- accepted_scope: the filter condition ------------------------------------------------------------------


@pytest.mark.parametrize("scope", [GATEWAY_SCOPE, SECURITY_PROXY_SCOPE])
def test_access_log_scopes_are_accepted(scope: str) -> None:
    program = scope_filter(GATEWAY_SCOPE, SECURITY_PROXY_SCOPE)
    assert run_condition(program, gateway_event(scope={"name": scope, "version": "", "attributes": {}}))


@pytest.mark.parametrize(
    "scope",
    [
        {"name": "org.springframework.cloud.gateway.filter.GatewayMetricsFilter"},
        {"name": "org.georchestra.gateway"},  # a prefix of an accepted scope
        {"name": "org.georchestra.gateway.accesslog.Extra"},
        {"name": "ORG.GEORCHESTRA.GATEWAY.ACCESSLOG"},
        {"name": ""},
        {"name": None},
        {"name": 42},
        {"name": [GATEWAY_SCOPE]},
        {},
        "org.georchestra.gateway.accesslog",  # a scope that is not an object
        None,
    ],
)
def test_other_or_malformed_scopes_are_refused_without_error(scope: Any) -> None:
    program = scope_filter(GATEWAY_SCOPE, SECURITY_PROXY_SCOPE)
    assert run_condition(program, gateway_event(scope=scope)) is False


def test_event_without_scope_is_refused() -> None:
    event = gateway_event()
    del event["scope"]
    assert run_condition(scope_filter(GATEWAY_SCOPE), event) is False


@settings(max_examples=150, deadline=None)
@given(scope=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=5))
def test_any_configured_scope_name_is_matched_exactly(scope: str, other: str) -> None:
    # Scope names come from the AnalyticsStack: quotes, braces, `$`, backslashes, NUL or non-ASCII must neither
    # break the program nor change what it matches.
    program = scope_filter(scope, GATEWAY_SCOPE)
    assert run_condition(program, {"scope": {"name": scope}})
    assert run_condition(program, {"scope": {"name": GATEWAY_SCOPE}})
    assert not run_condition(program, {"scope": {"name": scope + other}})


# --- text_line: CLF-like lines from a file or syslog source -----------------------------------------------


def text_line(event: dict[str, Any], log_format: str = "combined") -> tuple[dict[str, Any], dict[str, str]]:
    output = run_remap(program_with_parameters(TEXT_LINE_PROGRAM, {"log_format": log_format}), event)
    return output.event, output.kinds


READ_AT = dt.datetime(2026, 11, 27, 10, 0, 0, tzinfo=dt.UTC)


def test_security_proxy_line_from_a_file() -> None:
    event = {
        "message": SECURITY_PROXY_LINE,
        "file": "/var/log/access/security-proxy/access.log",
        "offset": 18233,
        "host": "analytics-collector-0",
        "timestamp": READ_AT,
        "source_type": "file",
    }
    shaped, kinds = text_line(event, "security-proxy")

    bracketed = re.search(r"\[([^\]]+)\]", SECURITY_PROXY_LINE)
    assert bracketed is not None
    request_time = dt.datetime.strptime(bracketed.group(1), "%d/%b/%Y:%H:%M:%S %z")
    assert kinds["timestamp"] == "timestamp"
    assert parse_displayed(shaped["timestamp"]) == request_time
    assert parse_displayed(shaped["observed_timestamp"]) == READ_AT
    assert shaped["message"] == SECURITY_PROXY_LINE
    assert shaped["attributes"] == {
        "log.format": "security-proxy",
        "log.file.path": event["file"],
        "log.file.name": "access.log",
        "log.record.uid": f"file\n{event['file']}\n{event['offset']}\n{SECURITY_PROXY_LINE}",
    }
    assert shaped["resources"] == {"host.name": "analytics-collector-0"}
    assert shaped["source_type"] == "file"


def test_nginx_line_from_syslog() -> None:
    event = {
        "message": NGINX_COMBINED_LINE,
        "appname": "nginx",
        "facility": "local7",
        "hostname": "web-1",
        "host": "10.0.0.5",
        "severity": "info",
        "timestamp": READ_AT,
        "source_type": "syslog",
    }
    shaped, _kinds = text_line(event)
    assert shaped["message"] == NGINX_COMBINED_LINE
    uid = shaped["attributes"].pop("log.record.uid")
    assert uuid.UUID(uid).version == 4
    assert shaped["attributes"] == {
        "log.format": "combined",
        "syslog.appname": "nginx",
        "syslog.facility": "local7",
    }
    assert shaped["resources"] == {"host.name": "web-1"}
    assert shaped["source_type"] == "syslog"
    assert parse_displayed(shaped["timestamp"]) == dt.datetime(2026, 11, 27, 9, 15, 44, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "line",
    [
        "GET /geoserver/ows 200",  # no time at all
        '192.0.2.1 - - [32/Nov/2026:25:61:00 +0000] "GET / HTTP/1.1" 200 1',  # a time that does not exist
        '192.0.2.1 - - [27/Nov/2026:10:00:00] "GET / HTTP/1.1" 200 1',  # no zone
        "",
    ],
)
def test_line_without_a_readable_time_is_placed_at_read_time(line: str) -> None:
    shaped, kinds = text_line({"message": line, "timestamp": READ_AT, "source_type": "file"})
    assert shaped["message"] == line
    assert kinds["timestamp"] == "timestamp"
    assert parse_displayed(shaped["timestamp"]) == READ_AT


def test_identical_lines_are_distinct_records_and_a_reread_line_is_the_same() -> None:
    # Two identical lines are two requests; a line read again after a restart (same file, same offset) is one.
    def uid(**event: Any) -> str:
        shaped, _ = text_line({"message": NGINX_COMBINED_LINE, "timestamp": READ_AT, **event})
        return str(shaped["attributes"]["log.record.uid"])

    path = "/var/log/access/nginx/access.log"
    assert uid(file=path, offset=0) != uid(file=path, offset=231)
    assert uid(file=path, offset=231) == uid(file=path, offset=231)
    # A rotated file's successor writes at the same offsets: its different line is another record.
    other_line = NGINX_COMBINED_LINE.replace("GetTile", "GetCapabilities")
    assert other_line != NGINX_COMBINED_LINE
    shaped, _ = text_line({"message": other_line, "timestamp": READ_AT, "file": path, "offset": 231})
    assert shaped["attributes"]["log.record.uid"] != uid(file=path, offset=231)
    assert uid(source_type="syslog") != uid(source_type="syslog")


def test_text_event_missing_every_field_still_gives_a_row() -> None:
    shaped, _ = text_line({})
    row, kinds = buffer_row(shaped)
    assert set(row) == BUFFER_COLUMNS
    assert row["message"] is None
    assert row["attributes"]["log.format"] == "combined"
    assert kinds["timestamp"] == "timestamp"


# --- buffer_row: the shape the postgres sink inserts -------------------------------------------------------


def test_gateway_event_keeps_every_buffer_column_unchanged() -> None:
    event = gateway_event()
    row, kinds = buffer_row(event)
    assert set(row) == BUFFER_COLUMNS
    for column in BUFFER_COLUMNS - {"timestamp", "observed_timestamp"}:
        assert row[column] == event[column], column
    assert kinds["timestamp"] == kinds["observed_timestamp"] == "timestamp"
    assert parse_displayed(row["timestamp"]) == event["timestamp"]
    assert parse_displayed(row["observed_timestamp"]) == event["observed_timestamp"]


def test_fields_outside_the_buffer_are_dropped() -> None:
    row, _ = buffer_row(gateway_event(host="10.1.2.3", extra={"a": 1}, **{"source": "x"}))
    assert set(row) == BUFFER_COLUMNS


def test_missing_event_time_falls_back_to_observed_time() -> None:
    event = gateway_event()
    del event["timestamp"]
    row, kinds = buffer_row(event)
    assert kinds["timestamp"] == "timestamp"
    assert parse_displayed(row["timestamp"]) == event["observed_timestamp"]


def test_event_without_any_time_is_placed_now() -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    row, kinds = buffer_row({"message": "GET 200 https://example.org/wms"})
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert kinds["timestamp"] == "timestamp"
    assert before <= parse_displayed(row["timestamp"]) <= after
    assert row["observed_timestamp"] is None


@pytest.mark.parametrize(
    ("given_time", "usable"),
    [
        ("2026-11-27T09:30:12.345678Z", True),
        ("2026-11-27T10:30:12+01:00", True),
        ("+10000-01-01T00:00:00Z", False),  # PostgreSQL would refuse the row, and its whole batch
        ("yesterday", False),
        (1764235812, False),
        ({"seconds": 1}, False),
    ],
)
def test_event_time_given_as_something_else(given_time: Any, usable: bool) -> None:
    event = gateway_event(timestamp=given_time)
    row, kinds = buffer_row(event)
    assert kinds["timestamp"] == "timestamp"
    expected = dt.datetime.fromisoformat(given_time.replace("Z", "+00:00")) if usable else event["observed_timestamp"]
    assert parse_displayed(row["timestamp"]) == expected


def test_nul_characters_are_replaced_everywhere() -> None:
    # jsonb refuses \u0000; the Gateway decodes request parameters, so `?LAYERS=%00` puts one in an attribute.
    event = gateway_event(
        message="GET 200 https://example.org/ows?LAYERS=\x00",
        attributes={"http.request.parameter.LAYERS": "a\x00b", "bad\x00key": ["x\x00", {"y\x00": "\x00"}]},
        severity_text="IN\x00FO",
    )
    row, _ = buffer_row(event)
    assert row["message"] == "GET 200 https://example.org/ows?LAYERS=" + REPLACEMENT_CHARACTER
    assert row["attributes"] == {
        "http.request.parameter.LAYERS": f"a{REPLACEMENT_CHARACTER}b",
        f"bad{REPLACEMENT_CHARACTER}key": [
            f"x{REPLACEMENT_CHARACTER}",
            {f"y{REPLACEMENT_CHARACTER}": REPLACEMENT_CHARACTER},
        ],
    }
    assert row["severity_text"] == f"IN{REPLACEMENT_CHARACTER}FO"


def test_unsigned_flags_keep_their_bits_in_a_signed_int() -> None:
    for flags in (0, 1, INT4_MAX, INT4_MAX + 1, 2**32 - 1):
        row, _ = buffer_row(gateway_event(flags=flags))
        assert INT4_MIN <= row["flags"] <= INT4_MAX
        assert row["flags"] % 2**32 == flags


@pytest.mark.parametrize(
    ("column", "given", "stored"),
    [
        ("flags", 2**32, None),
        ("flags", "1", None),
        ("severity_number", 2**40, None),
        ("severity_number", 9.5, None),
        ("dropped_attributes_count", 2**40, INT4_MAX),
        ("dropped_attributes_count", -1, None),
    ],
)
def test_integers_the_int_columns_cannot_hold(column: str, given: Any, stored: Any) -> None:
    row, _ = buffer_row(gateway_event(**{column: given}))
    assert row[column] == stored


def test_structured_body_is_stored_as_its_json() -> None:
    body = {"method": "GET", "status": 200, "nested": [1, "two"]}
    row, _ = buffer_row(gateway_event(message=body))
    assert json.loads(row["message"]) == body


@pytest.mark.parametrize("column", ["attributes", "resources", "scope"])
def test_json_columns_always_hold_an_object(column: str) -> None:
    row, _ = buffer_row(gateway_event(**{column: ["not", "an", "object"]}))
    assert row[column] == {"value": ["not", "an", "object"]}
    row, _ = buffer_row(gateway_event(**{column: None}))
    assert row[column] is None


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
EVENTS = st.builds(
    lambda columns, others: {**others, **columns},
    st.dictionaries(
        st.sampled_from(sorted(BUFFER_COLUMNS)), JSON_VALUES | st.datetimes(timezones=st.just(dt.UTC)), max_size=13
    ),
    st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(event=EVENTS)
def test_any_event_becomes_exactly_one_row_postgres_accepts(event: dict[str, Any]) -> None:
    output = run_remap(load_program(BUFFER_ROW_PROGRAM), event)
    row = output.event
    assert set(row) == BUFFER_COLUMNS
    assert output.kinds["timestamp"] == "timestamp"
    assert output.kinds["observed_timestamp"] in ("timestamp", "null")
    for column in ("message", "trace_id", "span_id", "severity_text", "source_type"):
        assert output.kinds[column] in ("string", "null")
    for column in ("attributes", "resources", "scope"):
        assert output.kinds[column] in ("object", "null")
    for column in ("severity_number", "flags", "dropped_attributes_count"):
        assert row[column] is None or INT4_MIN <= row[column] <= INT4_MAX
    assert not any("\x00" in text for text in strings_in(row))
    json.dumps(sink_json(output))  # serialisable as the sink serialises it
