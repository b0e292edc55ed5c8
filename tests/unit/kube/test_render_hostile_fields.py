"""Hostile text in every field a person types, through `georchestra-analytics render`: the command either refuses
in one line (exit 2) or renders objects the API server would take, whose labels and annotation keys are
Kubernetes' own and whose ANALYTICS_DSN holds exactly libpq's four keywords. Never a traceback."""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from georchestra_analytics.cli import cli
from georchestra_analytics.stack import environment as env
from georchestra_analytics.stack.k8s_names import LABEL_VALUE_PATTERN, QUALIFIED_NAME_PATTERN

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "apiVersion": "analytics.georchestra.org/v1alpha1",
    "kind": "AnalyticsStack",
    "metadata": {"name": "analytics", "namespace": "geor"},
    "spec": {
        "database": {"external": {"host": "db.example.org", "credentialsSecret": {"name": "db"}}},
        "collector": {"files": {"claimName": "logs", "paths": ["nginx/*.log"]}},
        "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}},
    },
}
KEY = "<key>"  # where the hostile text goes as a map key
# Paths of the fields, with the hostile text as a value or as a key.
FIELDS = [
    ("metadata", "name"),
    ("metadata", "namespace"),
    ("spec", "database", "schema"),
    ("spec", "database", "rolePrefix"),
    ("spec", "database", "external", "host"),
    ("spec", "database", "external", "databaseName"),
    ("spec", "database", "external", "credentialsSecret", "name"),
    ("spec", "database", "external", "credentialsSecret", "passwordKey"),
    ("spec", "collector", "podLabels", "team"),
    ("spec", "collector", "podLabels", KEY),
    ("spec", "parser", "podAnnotations", KEY),
    ("spec", "jobs", "nodeSelector", "zone"),
    ("spec", "jobs", "nodeSelector", KEY),
    ("spec", "collector", "network", "allowedPodLabels", KEY),
    ("spec", "collector", "files", "claimName"),
    ("spec", "collector", "files", "paths", 0),
    ("spec", "collector", "acceptedScopes", 0),
    ("spec", "collector", "image"),
    ("spec", "superset", "url"),
    ("spec", "superset", "databaseName"),
    ("spec", "superset", "databaseHost"),
    ("spec", "parser", "schedule"),
    ("spec", "timeZone"),
]
FRAGMENTS = [
    " host=evil.example.org sslmode=disable application_name=",
    "admin:pw@",
    "\n",
    "\x00",
    "../",
    "'",
    '"',
    "{{ 7*7 }}",
    "${HOME}",
    "$(id)",
    "*a",
    "&a",
    "#",
    ": ",
    "\u2028",
    "é",
    "/",
    "a" * 70,
]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), min_size=1, max_size=4).map("".join)


def _with(path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    """The base stack with `value` at `path` (as the key of a one-entry map where the path ends in KEY)."""
    document = copy.deepcopy(BASE)
    node: Any = document
    for part, following in itertools.pairwise(path):
        empty: Any = [""] if isinstance(following, int) else {}
        node = node[part] if isinstance(part, int) else node.setdefault(part, empty)
    last = path[-1]
    if last == KEY:
        node.clear()
        node[value] = "x"
    else:
        node[last] = value
    return document


def _labels_valid(labels: dict[str, str]) -> bool:
    return all(
        re.fullmatch(QUALIFIED_NAME_PATTERN, key) and re.fullmatch(LABEL_VALUE_PATTERN, value)
        for key, value in labels.items()
    )


def _check_rendered(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        metadata = obj["metadata"]
        assert _labels_valid(metadata.get("labels", {})), metadata
        template = (obj.get("spec") or {}).get("template") or ((obj.get("spec") or {}).get("jobTemplate") or {})
        pods = [template, (template.get("spec") or {}).get("template") or {}]
        for pod in pods:
            pod_metadata = pod.get("metadata") or {}
            assert _labels_valid(pod_metadata.get("labels", {}))
            assert all(re.fullmatch(QUALIFIED_NAME_PATTERN, key) for key in pod_metadata.get("annotations", {}))
            pod_spec = pod.get("spec") or {}
            assert _labels_valid(pod_spec.get("nodeSelector", {}))
            for container in pod_spec.get("containers", []):
                for variable in container.get("env", []):
                    if variable["name"] == env.DSN:
                        assert set(conninfo_to_dict(variable["value"])) == {"host", "port", "dbname", "sslmode"}
    stack_files = [
        obj["data"]["stack.yaml"] for obj in objects if obj["kind"] == "ConfigMap" and "stack.yaml" in obj["data"]
    ]
    for text in stack_files:
        url = (yaml.safe_load(text)["spec"].get("superset") or {}).get("url", "")
        assert "@" not in url.split("/")[2] if "//" in url else True


@pytest.mark.parametrize("path", FIELDS, ids=lambda path: ".".join(str(part) for part in path))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
def test_hostile_text_is_refused_in_one_line_or_rendered_safely(
    path: tuple[str | int, ...], value: str, tmp_path: Path
) -> None:
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(yaml.safe_dump(_with(path, value), allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(cli, ["render", "-f", str(stack_file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Usage:" not in result.stderr
        return
    _check_rendered(list(yaml.safe_load_all(result.stdout)))
