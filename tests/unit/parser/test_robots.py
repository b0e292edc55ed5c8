"""Robot detection: the shipped crawler list (each entry's own sample agents), ua-parser's spiders, the platform's
probes and the stack's extra patterns; scripts are not robots; hostile agents never raise."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.accesslogs import CHROME, combined_line, record_of_line

from georchestra_analytics.parser.bounds import MAX_USER_AGENT_PART_CHARS
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.robots import PLATFORM_PROBES, RobotDetector, crawler_list
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.parser.useragent import parse_user_agent

DETECTOR = RobotDetector([("uptime probe", "Blackbox Exporter/")])


def _detect(agent: str) -> str | None:
    parsed = parse_user_agent(agent)
    return DETECTOR.detect(agent, parsed["device"], parsed["family"])


def _shipped() -> list[dict[str, object]]:
    text = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text("utf-8")
    return list(json.loads(text))


def test_every_sample_agent_of_the_shipped_list_is_a_robot() -> None:
    kept = {pattern.pattern for pattern in crawler_list()}
    samples = [
        (entry["pattern"], instance)
        for entry in _shipped()
        if entry["pattern"] in kept
        for instance in entry.get("instances") or []  # type: ignore[attr-defined]
    ]
    assert len(samples) > 1000
    missed = [(pattern, agent) for pattern, agent in samples if _detect(agent) is None]
    assert missed == []


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot"),
        ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "SemrushBot"),
        ("Scrapy/2.11 (+https://scrapy.org)", "Scrapy"),
        ("kube-probe/1.29", "kube-probe"),
        ("GeoHealthCheck (https://geohealthcheck.org)", "GeoHealthCheck"),
        ("Blackbox Exporter/0.24.0", "uptime probe"),  # the stack's extra pattern, before the list's own entry
    ],
)
def test_known_robots_and_their_family(agent: str, family: str) -> None:
    assert _detect(agent) == family


@pytest.mark.parametrize(
    "agent",
    [
        CHROME,
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "QGIS/34000/Windows 10",
        "python-requests/2.31.0",  # a script: client application, not a robot
        "curl/8.5.0",
        "Wget/1.21.4",
        "GDAL WMS driver (https://gdal.org/drivers/raster/wms.html)",
    ],
)
def test_people_and_their_scripts_are_not_robots(agent: str) -> None:
    assert _detect(agent) is None


def test_extra_patterns_match_whatever_the_case() -> None:
    detector = RobotDetector([("probe", "My-Monitor")])
    assert detector.detect("my-monitor/1.0 (checks)", None, None) == "probe"
    assert RobotDetector().detect("my-monitor/1.0 (checks)", None, None) is None


def test_platform_probes_are_lower_case_substrings() -> None:
    assert all(text == text.casefold() for _, text in PLATFORM_PROBES)


def test_the_record_says_robot_and_family(pipeline: Pipeline) -> None:
    ahrefs = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
    bot = record_of_line(pipeline, combined_line("/geoserver/wms?request=GetCapabilities&service=WMS", agent=ahrefs))
    assert bot["is_robot"] is True and bot["robot_family"] == "AhrefsBot" and bot["client_app"] == "robot"
    assert "robot" in bot["tags"]
    person = record_of_line(pipeline, combined_line("/geoserver/wms?request=GetCapabilities&service=WMS"))
    assert person["is_robot"] is False and person["robot_family"] is None and "robot" not in person["tags"]


def test_extra_patterns_come_from_the_settings() -> None:
    pipeline = Pipeline(ParserSettings(robot_patterns=(("own probe", "sdi-check"),)))
    record = record_of_line(pipeline, combined_line("/geoserver/ows", agent="SDI-Check/2"))
    assert record["is_robot"] is True and record["robot_family"] == "own probe"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000), st.sampled_from([None, "Spider", "Other"]), st.none() | st.text(max_size=300))
def test_hostile_agents_give_a_bounded_family_or_none(agent: str, device: str | None, family: str | None) -> None:
    found = DETECTOR.detect(agent, device, family)
    assert found is None or 0 < len(found) <= MAX_USER_AGENT_PART_CHARS
    assert found is None or not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in found)
