"""The CRD's CEL rules accept and refuse the same specs as the Python model, with the same messages.

The rules are evaluated with cel-python, a CEL implementation, over the spec defaulted from the CRD schema as
the API server does. Kubernetes adds a strings extension library to CEL; of it the rules use only
`substring`, provided here with the library's documented meaning (code-point indexes). The k8s tier checks the
same rules on a real API server.
"""

from __future__ import annotations

import json
from typing import Any

import celpy
import pytest
from celpy import celtypes
from tests.support.kube_children import apply_structural_defaults

from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.stack import InvalidStackError, parse_stack
from georchestra_analytics.stack.collector import DISK_BUFFER_MIN_BYTES


def _substring(text: celtypes.StringType, start: celtypes.IntType, end: celtypes.IntType) -> celtypes.StringType:
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"substring({start}, {end}) out of range for {text!r}")
    return celtypes.StringType(str(text)[int(start) : int(end)])


_ENV = celpy.Environment()


def _holds(rule: str, value: Any) -> bool:
    program = _ENV.program(_ENV.compile(rule), functions={"substring": _substring})
    return bool(program.evaluate({"self": celpy.json_to_cel(value)}))


def _failures(schema: dict[str, Any], value: Any) -> list[str]:
    """Messages of the rules that fail, visiting the object as the API server does."""
    failed = [rule["message"] for rule in schema.get("x-kubernetes-validations", []) if not _holds(rule["rule"], value)]
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                failed += _failures(child, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            failed += _failures(schema["items"], item)
    return failed


def _cel_verdict(spec: dict[str, Any], name: str) -> list[str]:
    root = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    document = {"metadata": {"name": name}, "spec": json.loads(json.dumps(spec))}
    document["spec"] = apply_structural_defaults(root["properties"]["spec"], document["spec"])
    return _failures(root, document)


def _python_verdict(spec: dict[str, Any], name: str) -> str | None:
    try:
        parse_stack({"kind": "AnalyticsStack", "metadata": {"name": name}, "spec": spec})
    except InvalidStackError as error:
        return str(error)
    return None


MANAGED = {"database": {"managed": {}}}
PG = {"managed": {}, "flavor": "postgresql"}
EXTERNAL = {"external": {"host": "db", "credentialsSecret": {"name": "db"}}}
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("minimal", MANAGED, "analytics"),
    ("both databases", {"database": {"managed": {}, **EXTERNAL}}, "analytics"),
    ("no database", {"database": {}}, "analytics"),
    ("raw shorter than monthly window", {**MANAGED, "retention": {"raw": "60d"}}, "analytics"),
    ("raw just longer", {**MANAGED, "retention": {"raw": "101d"}}, "analytics"),
    ("raw equal to window", {**MANAGED, "retention": {"raw": "100d"}}, "analytics"),
    ("raw forever", {**MANAGED, "retention": {"raw": "forever"}}, "analytics"),
    ("raw in weeks", {**MANAGED, "retention": {"raw": "15w"}}, "analytics"),
    ("raw in hours", {**MANAGED, "retention": {"raw": "2400h"}}, "analytics"),
    ("hourly kept shorter than the daily window", {**MANAGED, "retention": {"hourly": "30d"}}, "analytics"),
    ("daily kept as long as the monthly window", {**MANAGED, "retention": {"daily": "100d"}}, "analytics"),
    ("daily kept just longer", {**MANAGED, "retention": {"daily": "101d"}}, "analytics"),
    ("hourly and daily forever", {**MANAGED, "retention": {"hourly": "forever", "daily": "forever"}}, "analytics"),
    (
        "short windows",
        {
            **MANAGED,
            "retention": {"raw": "10d"},
            "aggregates": {"refreshWindows": {"hourly": "1d", "daily": "2d", "monthly": "9w"}},
        },
        "analytics",
    ),
    ("monthly window too short", {**MANAGED, "aggregates": {"refreshWindows": {"monthly": "61d"}}}, "analytics"),
    ("hourly window one hour", {**MANAGED, "aggregates": {"refreshWindows": {"hourly": "1h"}}}, "analytics"),
    (
        "disk buffer too small",
        {**MANAGED, "collector": {"buffer": {"type": "disk", "maxSize": DISK_BUFFER_MIN_BYTES - 1}}},
        "analytics",
    ),
    (
        "disk buffer minimum",
        {**MANAGED, "collector": {"buffer": {"type": "disk", "maxSize": DISK_BUFFER_MIN_BYTES}}},
        "analytics",
    ),
    ("memory buffer small size", {**MANAGED, "collector": {"buffer": {"maxSize": 10}}}, "analytics"),
    ("syslog without a delivery choice", {**MANAGED, "collector": {"syslog": {"port": 5140}}}, "analytics"),
    ("syslog, empty", {**MANAGED, "collector": {"syslog": {}}}, "analytics"),
    ("syslog at most once", {**MANAGED, "collector": {"syslog": {"delivery": "atMostOnce"}}}, "analytics"),
    ("cron", {**MANAGED, "parser": {"schedule": "*/10 6-20 * * MON-FRI"}}, "analytics"),
    ("cron list and step", {**MANAGED, "parser": {"schedule": "0,30 */2 1,15 * ?"}}, "analytics"),
    ("cron shorthand", {**MANAGED, "parser": {"schedule": "@daily"}}, "analytics"),
    ("cron four fields", {**MANAGED, "parser": {"schedule": "* * * *"}}, "analytics"),
    ("cron words", {**MANAGED, "parser": {"schedule": "every minute"}}, "analytics"),
    ("cron bad shorthand", {**MANAGED, "parser": {"schedule": "@often"}}, "analytics"),
    ("postgresql daily partitions", {"database": {**PG, "partitionInterval": "1d"}}, "analytics"),
    ("postgresql hourly partitions", {"database": {**PG, "partitionInterval": "6h"}}, "analytics"),
    ("timescaledb hourly chunks", {"database": {"managed": {}, "partitionInterval": "6h"}}, "analytics"),
    ("label keys", {**MANAGED, "collector": {"podLabels": {"example.org/team": "a", "app": ""}}}, "analytics"),
    ("label key with a space", {**MANAGED, "collector": {"podLabels": {"bad key": "a"}}}, "analytics"),
    ("annotation key with a line break", {**MANAGED, "parser": {"podAnnotations": {"a\nb": "x"}}}, "analytics"),
    ("node selector key with two slashes", {**MANAGED, "jobs": {"nodeSelector": {"a/b/c": "x"}}}, "analytics"),
    (
        "file paths",
        {**MANAGED, "collector": {"files": {"claimName": "logs", "paths": ["nginx/*.log", "a..b"]}}},
        "analytics",
    ),
    (
        "file path leaving the volume",
        {**MANAGED, "collector": {"files": {"claimName": "logs", "paths": ["nginx/../../etc/*"]}}},
        "analytics",
    ),
    (
        "file path that is '..'",
        {**MANAGED, "collector": {"files": {"claimName": "logs", "paths": [".."]}}},
        "analytics",
    ),
    (
        "superset url",
        {**MANAGED, "superset": {"url": "https://bi.example.org/superset/", "credentialsSecret": {"name": "s"}}},
        "analytics",
    ),
    (
        "superset url with credentials",
        {**MANAGED, "superset": {"url": "https://admin:pw@bi.example.org", "credentialsSecret": {"name": "s"}}},
        "analytics",
    ),
    (
        "superset url with a user",
        {**MANAGED, "superset": {"url": "http://admin@superset:8088/", "credentialsSecret": {"name": "s"}}},
        "analytics",
    ),
    ("name too long", MANAGED, "a" * 37),
    ("longest name", MANAGED, "a" * 36),
]


@pytest.mark.parametrize(("spec", "name"), [(spec, name) for _, spec, name in CASES], ids=[c[0] for c in CASES])
def test_cel_rules_agree_with_the_model(spec: dict[str, Any], name: str) -> None:
    python = _python_verdict(spec, name)
    cel = _cel_verdict(spec, name)
    if python is None:
        assert cel == [], f"the model accepts it, the CRD refuses: {cel}"
    else:
        # Some refusals (the name's length) come from a schema bound in the model and a CEL rule in the CRD.
        assert cel, f"the model refuses it ({python}), the CRD's rules accept it"
        for message in cel:
            assert message.split(":")[0] in python or "metadata.name" in python, (message, python)
