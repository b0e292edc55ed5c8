"""Every text a record stores is within its documented bound: unknown OGC values are `other`, layer lists are
capped with an overflow entry, implausible names are refused for the per-layer table, free texts are cut."""

from __future__ import annotations

import random
import string

import pytest
from tests.support.accesslogs import combined_line, gateway_row, proxy_line, record_of_line, record_of_row

from georchestra_analytics.db.aggregates import DIMENSIONS
from georchestra_analytics.parser.bounds import (
    KNOWN_REQUESTS,
    KNOWN_SERVICES,
    LAYER_REFUSED_TAG,
    MAX_CHARS,
    MAX_LAYER_CHARS,
    MAX_LAYERS,
    MAX_USER_AGENT_PART_CHARS,
    MAX_WORKSPACE_CHARS,
    OVERFLOW_LAYER,
)
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord

LONG = "".join(random.Random(1).choices(string.ascii_letters, k=3000))
GEOSERVER = "http://geoserver:8080/geoserver/ows"
BTREE_MAX_BYTES = 2704  # PostgreSQL's largest btree entry (8 kB pages)


def _proxy(pipeline: Pipeline, query: str, host: str = "http://geoserver:8080") -> AccessRecord:
    return record_of_line(pipeline, proxy_line(f"{host}/geoserver/ows?{query}"))


def assert_within_bounds(record: AccessRecord) -> None:
    for key, limit in MAX_CHARS.items():
        value = record[key]  # type: ignore[literal-required]
        assert value is None or len(value) <= limit, key
    assert record["service"] is None or record["service"] in KNOWN_SERVICES | {"other"}
    assert record["request"] is None or record["request"] in KNOWN_REQUESTS | {"other"}
    assert len(record["layers"]) <= MAX_LAYERS + 1
    assert all(len(layer) <= MAX_LAYER_CHARS for layer in record["layers"])
    assert all(len(workspace) <= MAX_WORKSPACE_CHARS for workspace in record["workspaces"])
    for part in record["user_agent"].values():
        assert part is None or len(part) <= MAX_USER_AGENT_PART_CHARS


def test_an_unknown_request_is_other_and_its_raw_value_stays_in_the_query(pipeline: Pipeline) -> None:
    record = _proxy(pipeline, f"SERVICE=WMS&REQUEST={LONG}")
    assert (record["service"], record["request"]) == ("WMS", "other")
    assert record["query"] is not None and LONG in record["query"]
    assert_within_bounds(record)


def test_an_unknown_service_is_other(pipeline: Pipeline) -> None:
    record = _proxy(pipeline, f"SERVICE={LONG}&REQUEST=frobnicate")
    assert (record["service"], record["request"]) == ("other", "other")
    # An operation that names its service still wins over an unknown SERVICE.
    assert _proxy(pipeline, f"SERVICE={LONG}&REQUEST=GetMap&LAYERS=a")["service"] == "WMS"


@pytest.mark.parametrize(("value", "expected"), [
    ("shape-zip", "shapefile"), ("application/json; subtype=geojson", "geojson"),
    ('text/xml; subtype="gml/3.2"', "gml"), ("application/x-vendor; v=2", "application/x-vendor"),
    (LONG.lower(), "other"), ("csv\u202e", "other"), ("<script>", "other"),
])  # fmt: skip
def test_an_implausible_output_format_is_other(pipeline: Pipeline, value: str, expected: str) -> None:
    row = gateway_row("/geoserver/ows?SERVICE=WFS&REQUEST=GetFeature&typeName=a:b", parameters={"outputFormat": value})
    assert record_of_row(pipeline, row)["download_format"] == expected


@pytest.mark.parametrize("layers", [f"ws:{LONG}", f"{LONG}:a", "ws:a<b", "ws:a%0Ab", f"w{'s' * MAX_WORKSPACE_CHARS}:a"])
def test_an_implausible_layer_is_refused_for_the_per_layer_table(pipeline: Pipeline, layers: str) -> None:
    record = _proxy(pipeline, f"SERVICE=WMS&REQUEST=GetMap&LAYERS=ok:fine,{layers}")
    assert record["layers"] == ["ok:fine"]
    assert record["workspaces"] == ["ok"]
    assert LAYER_REFUSED_TAG in record["tags"]


def test_unicode_layer_names_are_plausible(pipeline: Pipeline) -> None:
    record = _proxy(pipeline, "SERVICE=WMS&REQUEST=GetMap&LAYERS=r%C3%A9gion:for%C3%AAts_2024.v-1")
    assert record["layers"] == ["région:forêts_2024.v-1"]
    assert LAYER_REFUSED_TAG not in record["tags"]


def test_a_request_counts_for_at_most_max_layers_plus_one_overflow_entry(pipeline: Pipeline) -> None:
    names = ",".join(f"ws{n % 7}:layer{n}" for n in range(3000))
    record = record_of_row(pipeline, gateway_row(f"/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS={names}"))
    assert len(record["layers"]) == MAX_LAYERS + 1
    assert record["layers"][:2] == ["ws0:layer0", "ws1:layer1"]
    assert record["layers"][-1] == OVERFLOW_LAYER
    assert record["workspaces"] == [f"ws{n}" for n in range(7)]


def test_exactly_max_layers_has_no_overflow_entry(pipeline: Pipeline) -> None:
    names = ",".join(f"ws:l{n}" for n in range(MAX_LAYERS)) + ",ws:l0"
    record = _proxy(pipeline, f"SERVICE=WMS&REQUEST=GetMap&LAYERS={names}")
    assert len(record["layers"]) == MAX_LAYERS and OVERFLOW_LAYER not in record["layers"]


def test_long_free_texts_are_cut_and_implausible_hosts_dropped(pipeline: Pipeline) -> None:
    row = gateway_row(
        f"/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=a&pad={'x' * 20000}",
        user="u" * 500, org="o\x01" * 300, roles=["r" * 100] * 100,
        headers={"referer": f"https://{LONG}.example.org/x", "user-agent": f"{LONG}/1.0 QGIS/34000"},
        host=f"https://{LONG}.example.org",
    )  # fmt: skip
    record = record_of_row(pipeline, row)
    assert_within_bounds(record)
    assert record["server"] is None and record["referrer"] is None
    assert record["user"] == "u" * MAX_CHARS["user"]
    assert record["org"] is not None and "\x01" not in record["org"] and "\ufffd" in record["org"]
    assert len(record["roles"]) == 32 and all(len(role) == 64 for role in record["roles"])


def test_a_long_or_binary_id_is_replaced_by_its_digest(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wms?request=GetMap&layers=a", extra={"log.record.uid": "é" * 400})
    first, second = record_of_row(pipeline, row), record_of_row(pipeline, row)
    assert len(first["id"]) <= MAX_CHARS["id"] and first["id"].isascii()
    assert first["id"] == second["id"]  # still stable


def test_lone_surrogates_and_controls_never_reach_a_record(pipeline: Pipeline) -> None:
    row = gateway_row("/geoserver/wms?request=GetMap&layers=a", user="someone", org="x\x00y")
    row["attributes"]["enduser.id"] = "bad\ud800name"  # as a JSON "\ud800" escape decodes
    record = record_of_row(pipeline, row)
    assert record["user"] == "bad\ufffdname" and record["org"] == "x\ufffdy"
    record["user"].encode("utf-8")  # psycopg can send it


def test_combined_line_method_outside_the_charset_is_other(pipeline: Pipeline) -> None:
    assert record_of_line(pipeline, combined_line("/x", method="X" * 40))["method"] == "OTHER"


def test_every_group_key_fits_a_btree_entry() -> None:
    """The documented bounds, at 4 bytes a character, keep each aggregate's key under PostgreSQL's limit."""
    widths = {
        **{key: 4 * limit for key, limit in MAX_CHARS.items()},
        "layer": 4 * MAX_LAYER_CHARS, "workspace": 4 * MAX_WORKSPACE_CHARS, "referrer_host": 4 * 253,
        "user_agent_family": 4 * MAX_USER_AGENT_PART_CHARS, "status": 2, "tiled": 1, "is_download": 1,
        "names_layers": 1, "is_robot": 1, "cell_x": 4, "cell_y": 4,
    }  # fmt: skip
    for family, dimensions in DIMENSIONS.items():
        # 8 bytes of bucket, and up to 4 bytes of header and padding per column.
        total = 8 + sum(widths[dimension.name] + 4 for dimension in dimensions)
        assert total < BTREE_MAX_BYTES, family
