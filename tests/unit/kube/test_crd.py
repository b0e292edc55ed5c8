"""The committed CRD is the generator's output, and it is a structural schema the API server accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.kube_children import apply_structural_defaults

from georchestra_analytics.kube.crd import build_crd
from georchestra_analytics.kube.manifests import to_yaml
from georchestra_analytics.stack import AnalyticsStackSpec

REPO = Path(__file__).resolve().parents[3]
COMMITTED_CRD = REPO / "helm" / "georchestra-analytics" / "crds" / "analyticsstacks.yaml"
REGENERATE = "regenerate with: georchestra-analytics crd > helm/georchestra-analytics/crds/analyticsstacks.yaml"


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}{{}}")


def test_committed_crd_matches_the_generator() -> None:
    assert COMMITTED_CRD.read_text(encoding="utf-8") == to_yaml(build_crd()), (
        f"the committed CRD is stale; {REGENERATE}"
    )


def test_schema_is_structural() -> None:
    for path, node in _walk(_schema()):
        assert "$ref" not in node and "allOf" not in node and "oneOf" not in node, path
        assert "const" not in node and "title" not in node, path
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string") is True, f"{path}: anyOf outside int-or-string"
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], f"{path}: only bare types in anyOf"
        else:
            assert "type" in node, f"{path}: no type"
        if "properties" in node:
            assert "additionalProperties" not in node, f"{path}: properties and additionalProperties together"
        if node.get("type") == "null":
            raise AssertionError(f"{path}: null type")
        for exclusive in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(exclusive, True) is True, f"{path}: {exclusive} must be a flag in OpenAPI v3.0"
        assert "uniqueItems" not in node, f"{path}: the API server refuses uniqueItems"


def test_every_spec_and_status_field_has_a_description() -> None:
    root = _schema()
    for section in ("spec", "status"):
        for path, node in _walk(root["properties"][section], section):
            if (
                path.endswith("{}")
                or path.endswith("[]")
                or ".resources.requests." in path
                or ".resources.limits." in path
            ):
                continue  # map values and list items are described by their parent field
            assert node.get("description", "").strip(), f"{path} has no description"


def test_strings_and_lists_are_bounded() -> None:
    for path, node in _walk(_schema()["properties"]["spec"], "spec"):
        if node.get("type") == "string" and "enum" not in node:
            assert "maxLength" in node, f"{path}: unbounded string"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path}: unbounded list"
        if node.get("type") == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{path}: unbounded map"


def _rules(node: dict[str, Any]) -> list[str]:
    return [rule["message"] for rule in node.get("x-kubernetes-validations", [])]


def test_cel_rules_carry_their_messages() -> None:
    spec = _schema()["properties"]["spec"]
    assert any(
        "exactly one of database.managed and database.external" in m for m in _rules(spec["properties"]["database"])
    )
    assert any("retention.raw must be longer" in m for m in _rules(spec))
    schedule = spec["properties"]["parser"]["properties"]["schedule"]
    assert any("cron expression" in m for m in _rules(schedule))
    buffer = spec["properties"]["collector"]["properties"]["buffer"]
    assert any("268435488" in m for m in _rules(buffer))


def test_printer_columns_and_status_subresource() -> None:
    version = build_crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert [name for name, column in columns.items() if not column.get("priority")] == ["Ready", "Phase", "Age"]
    assert {name for name, column in columns.items() if column.get("priority") == 1} == {"Schema", "Last Parse"}


def test_crd_yaml_parses_back_to_the_object() -> None:
    assert yaml.safe_load(to_yaml(build_crd())) == build_crd()


@pytest.mark.parametrize(
    "spec",
    [
        {"database": {"managed": {}}},
        {
            "database": {"external": {"host": "db", "credentialsSecret": {"name": "db"}}},
            "superset": {"url": "http://superset:8088", "credentialsSecret": {"name": "s"}},
            "collector": {"syslog": {"delivery": "atMostOnce"}, "buffer": {"type": "disk"}},
            "parser": {"privacy": {"pseudonymizationKey": {"name": "k", "key": "key"}}},
        },
    ],
    ids=["managed", "external-everything"],
)
def test_api_server_defaults_equal_the_model_defaults(spec: dict[str, Any]) -> None:
    schema = _schema()["properties"]["spec"]
    defaulted = apply_structural_defaults(schema, json.loads(json.dumps(spec)))
    model = AnalyticsStackSpec.model_validate(spec).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert defaulted == model
