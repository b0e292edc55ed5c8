"""Property-based: whatever text or JSON reaches either parser, the answer is a record or a reject, never an
exception, and a record always has exactly the contract's keys with the contract's types."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.accesslogs import GATEWAY_SCOPE, combined_line, gateway_row, proxy_line

from georchestra_analytics.parser.dryrun import dry_run
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import RECORD_KEYS, AccessRecord, Reject
from georchestra_analytics.parser.settings import ParserSettings

PIPELINE = Pipeline(ParserSettings())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=30), children, max_size=6),
    max_leaves=20,
)
url_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
attribute_names = st.sampled_from([
    "http.request.method", "http.status_code", "http.request.url", "enduser.id", "enduser.org.id", "enduser.roles",
    "http.request.header.User-Agent", "http.request.header.referer", "http.request.parameter.LAYERS",
    "http.response.body.size", "http.server.request.duration", "client.address", "log.record.uid",
]) | st.text(max_size=40)  # fmt: skip


def _check(result: AccessRecord | Reject, source: object = "") -> None:
    """`source`: the input; when it holds no NUL (as anything read from PostgreSQL), neither may the record,
    whatever `%00` it decodes."""
    if isinstance(result, Reject):
        assert isinstance(result.reason, str) and result.reason
        json.dumps(result.raw, default=str)  # storable
        return
    assert tuple(result) == RECORD_KEYS
    assert isinstance(result["ts"], datetime) and result["ts"].utcoffset() is not None
    assert isinstance(result["id"], str) and result["id"]
    for key in ("roles", "layers", "workspaces", "tags"):
        assert all(isinstance(item, str) for item in result[key])  # type: ignore[literal-required]
    assert result["status"] is None or 0 <= result["status"] < 1000
    assert result["user"] not in ("", "anonymousUser")
    assert set(result["user_agent"]) == {"family", "version", "os", "device"}
    if "\\u0000" not in json.dumps(source) and "\x00" not in str(source):
        for value in result.values():  # storable: PostgreSQL text holds no NUL
            for item in value if isinstance(value, list) else [value]:
                assert not isinstance(item, str) or "\x00" not in item


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_line_gives_a_record_or_a_reject(line: str) -> None:
    _check(PIPELINE.parse_line(line, "fuzz.log", 0), line)


@settings(max_examples=200, deadline=None)
@given(url_text, st.sampled_from(["GET", "POST", "get"]), st.sampled_from([None, "u|Org d'Été|R1,R2", "anonymousUser"]))
def test_text_lines_with_arbitrary_urls(url: str, method: str, identity: str | None) -> None:
    url = url.replace(" ", "%20").replace('"', "%22") or "/"
    line = (
        combined_line(url, method=method)
        if identity is None
        else proxy_line(f"http://g{url}").replace("anonymousUser", identity)
    )
    _check(PIPELINE.parse_line(line, "fuzz.log", 0), line)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            ["timestamp", "message", "attributes", "scope", "source_type", "observed_timestamp", "trace_id"]
        ),
        json_values,
        max_size=7,
    )
)
def test_any_json_object_gives_a_record_or_a_reject(row: dict[str, Any]) -> None:
    _check(PIPELINE.parse_row(row), row)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url_text, st.dictionaries(attribute_names, json_values, max_size=8))
def test_gateway_rows_with_arbitrary_urls_and_attributes(url: str, attributes: dict[str, Any]) -> None:
    row = gateway_row("/geoserver/ows")
    row["attributes"] = {**row["attributes"], "http.request.url": url, **attributes}
    row["scope"] = {"name": GATEWAY_SCOPE}
    _check(PIPELINE.parse_row(row), row)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=200) | st.builds(json.dumps, json_values), max_size=10))
def test_dry_run_prints_one_json_line_per_input_line(lines: list[str]) -> None:
    import io

    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    for input_format in ("otel", "clf"):
        out = io.StringIO()
        dry_run(PIPELINE, lines, input_format, "fuzz", out)
        printed = out.getvalue().splitlines()
        assert len(printed) == len(lines)
        for text in printed:
            assert isinstance(json.loads(text), dict)
