"""The generated sample: reproducible, a week long, and as varied as the demo promises (checked by the real
parser, not by the generator's own bookkeeping)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from georchestra_analytics.demo.run import parser_settings
from georchestra_analytics.demo.sample import DAYS, default_end, generate, platform
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.record import AccessRecord, Reject
from georchestra_analytics.parser.settings import ParserSettings

END = datetime(2026, 3, 30, tzinfo=UTC)  # the week of a daylight-saving change in Paris (proxy lines' local time)


@pytest.fixture(scope="module")
def parsed() -> tuple[list[AccessRecord], Counter[str]]:
    sample = generate(seed=5, records=6000, end=END)
    pipeline = Pipeline(parser_settings())
    records: list[AccessRecord] = []
    rejects: Counter[str] = Counter()
    for row in sample.buffer_rows():
        result = pipeline.parse_row(row)
        if isinstance(result, Reject):
            rejects[result.reason] += 1
        else:
            records.append(result)
    return records, rejects


def test_same_seed_same_logs_other_seed_other_logs() -> None:
    first, again, other = (generate(seed=seed, records=800, end=END) for seed in (1, 1, 2))
    assert first.gateway_rows == again.gateway_rows and first.proxy_lines == again.proxy_lines
    assert first.proxy_lines != other.proxy_lines


def test_count_and_split_between_gateway_and_security_proxy() -> None:
    sample = generate(seed=3, records=5000, end=END)
    assert len(sample) == 5000
    share = len(sample.proxy_lines) / len(sample)
    assert abs(share - platform()["proxy_share"]) < 0.05


def test_every_request_lies_in_the_week_before_the_end(parsed: tuple[list[AccessRecord], Counter[str]]) -> None:
    records, _ = parsed
    stamps = [datetime.fromisoformat(str(record["ts"]).replace("Z", "+00:00")) for record in records]
    assert min(stamps) >= END - timedelta(days=DAYS)
    assert max(stamps) < END
    # Weekdays busier than the weekend, as the platform description says.
    per_day = Counter(stamp.weekday() for stamp in stamps)
    assert per_day[0] > 2 * per_day[6]


def test_default_end_is_the_last_midnight_utc() -> None:
    assert default_end(datetime(2026, 11, 27, 21, 5, tzinfo=UTC)) == datetime(2026, 11, 27, tzinfo=UTC)


def test_the_sample_has_what_the_demo_promises(parsed: tuple[list[AccessRecord], Counter[str]]) -> None:
    records, rejects = parsed
    apps = Counter(record["app"] for record in records)
    assert {"geoserver", "geonetwork", "mapstore", "datahub"} <= set(apps)
    services = {record["service"] for record in records}
    assert {"WMS", "WMTS", "TMS", "WFS", "WCS", "CSW", "OGC API Features"} <= services
    workspaces = {workspace for record in records for workspace in record["workspaces"]}
    assert len(workspaces) >= 6
    formats = {record["download_format"] for record in records if record["is_download"]}
    assert {"shapefile", "csv", "geotiff", "geojson", "geopackage"} <= formats
    assert any(record["tiled"] for record in records)
    statuses = Counter(record["status"] for record in records)
    assert statuses[404] and statuses[403] and statuses[500]
    orgs = {record["org"] for record in records}
    assert "Ville d'Orléans" not in orgs and {"orleans", "sdee"} <= orgs
    assert len({record["user"] for record in records if record["user"]}) >= 20
    # Response times come from the security-proxy lines only: the Gateway does not log them.
    timed = [record for record in records if record["response_time_ms"] is not None]
    assert timed and all(record["source"] != "gateway" for record in timed)
    # A few lines cut by a log rotation: rejected with their reason, as real logs have.
    assert sum(rejects.values()) > 0
    assert sum(rejects.values()) < 0.01 * len(records)


def test_a_sample_needs_records() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        generate(records=0)


def test_one_organisation_one_key_whichever_source_logged_it(parsed: tuple[list[AccessRecord], Counter[str]]) -> None:
    """The Gateway logs short ids, the security-proxy display names: with the platform's alias map both count
    under the id, and each key keeps the one display name of the platform description."""
    records, _ = parsed
    organisations = {org["id"]: org["name"] for org in platform()["organisations"]}
    signed_in = [record for record in records if record["user"] is not None]
    assert {record["org"] for record in signed_in} == set(organisations)  # 7, not 14
    for source in ("gateway", "security-proxy"):
        assert {record["org"] for record in signed_in if record["source"] == source} == set(organisations), source
    assert all(record["org_name"] == organisations[str(record["org"])] for record in signed_in)


def test_without_the_alias_map_the_sources_would_split_each_organisation_in_two() -> None:
    """What the alias map is for: the same sample under default settings counts 14 organisations."""
    sample = generate(seed=5, records=3000, end=END)
    pipeline = Pipeline(ParserSettings())
    orgs = {
        result["org"]
        for result in map(pipeline.parse_row, sample.buffer_rows())
        if not isinstance(result, Reject) and result["org"] is not None
    }
    assert len(orgs) == 2 * len(platform()["organisations"])


def test_the_platform_alias_map_names_every_organisation() -> None:
    aliases = parser_settings().organisation_aliases
    assert aliases == {org["id"]: (org["name"],) for org in platform()["organisations"]}


def test_download_formats_keep_the_requested_value(parsed: tuple[list[AccessRecord], Counter[str]]) -> None:
    records, _ = parsed
    pairs = {(r["download_format"], r["download_format_requested"]) for r in records if r["is_download"]}
    assert ("geojson", "application/json") in pairs and ("shapefile", "shape-zip") in pairs
    assert ("geotiff", "image/tiff") in pairs
