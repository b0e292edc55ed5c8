"""spec.parser.geolocation reaches the parse job: the administrator's MaxMind DB claim is mounted read-only
where the parser settings built from the same stack look for the file; without it, nothing is mounted."""

from __future__ import annotations

from typing import Any

import pytest

from georchestra_analytics.kube.parse_cronjob import parse_cronjob
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.stack import parse_stack

pytestmark = pytest.mark.unit


def _stack(parser: dict[str, Any]) -> Any:
    return parse_stack(
        {
            "kind": "AnalyticsStack",
            "metadata": {"name": "analytics", "namespace": "geor", "uid": "0f6c1e0a-1111-2222-3333-444455556666"},
            "spec": {
                "database": {"external": {"host": "pg.example.org", "credentialsSecret": {"name": "db"}}},
                "parser": parser,
                "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}},
            },
        }
    )


def test_the_claim_is_mounted_where_the_settings_read_the_file() -> None:
    stack = _stack({"geolocation": {"region": True, "maxmindDatabase": {"claimName": "geoip", "file": "City.mmdb"}}})
    pod = parse_cronjob(stack)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "geolocation"]
    assert volume["persistentVolumeClaim"] == {"claimName": "geoip", "readOnly": True}
    [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "geolocation"]
    assert mount["readOnly"] is True
    settings = ParserSettings.from_stack(stack).geolocation
    assert settings.database_file == f"{mount['mountPath']}/City.mmdb"
    assert settings.country and settings.region


def test_without_a_file_nothing_is_mounted_and_the_country_follows_the_privacy_setting() -> None:
    for client_ip, country in (("truncate", True), ("keep", True), ("drop", False)):
        stack = _stack({"privacy": {"clientIp": client_ip}})
        pod = parse_cronjob(stack)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert all(v["name"] != "geolocation" for v in pod["volumes"])
        settings = ParserSettings.from_stack(stack).geolocation
        assert settings.country is country and settings.database_file is None
    explicit = _stack({"privacy": {"clientIp": "drop"}, "geolocation": {"country": True}})
    assert ParserSettings.from_stack(explicit).geolocation.country is True


def test_robot_patterns_reach_the_settings() -> None:
    stack = _stack({"robots": {"extraPatterns": [{"family": "probe", "userAgentContains": "SDI-Check/"}]}})
    assert ParserSettings.from_stack(stack).robot_patterns == (("probe", "SDI-Check/"),)


@pytest.mark.parametrize(
    "geolocation",
    [
        {"maxmindDatabase": {"claimName": "geoip", "file": "../etc/passwd"}},
        {"maxmindDatabase": {"claimName": "Bad_Name", "file": "a.mmdb"}},
        {"maxmindDatabase": {"claimName": "geoip", "file": "a/b.mmdb"}},
    ],
)
def test_hostile_database_references_are_refused(geolocation: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="geolocation"):
        _stack({"geolocation": geolocation})
