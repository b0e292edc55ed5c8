"""Helpers over built child objects: find pods in workloads, Jobs and CronJobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def pod_template(child: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload, Job or CronJob; None for other kinds."""
    kind = child["kind"]
    if kind in ("Deployment", "StatefulSet", "Job"):
        template: dict[str, Any] = child["spec"]["template"]
        return template
    if kind == "CronJob":
        template = child["spec"]["jobTemplate"]["spec"]["template"]
        return template
    return None


def pod_templates(children: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for child in children:
        template = pod_template(child)
        if template is not None:
            yield f"{child['kind']}/{child['metadata']['name']}", template


def by_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [child for child in children if child["kind"] == kind]


def one(children: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    found = [child for child in by_kind(children, kind) if name_part in child["metadata"]["name"]]
    assert len(found) == 1, f"expected one {kind} named *{name_part}*, found {[c['metadata']['name'] for c in found]}"
    return found[0]


def apply_structural_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: missing properties with a default get it (defaults
    are then defaulted in turn), then every present value is visited."""
    if isinstance(value, dict) and "properties" in schema:
        for name, child in schema["properties"].items():
            if name not in value and "default" in child:
                value[name] = json.loads(json.dumps(child["default"]))
        for name, child in schema["properties"].items():
            if name in value:
                value[name] = apply_structural_defaults(child, value[name])
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return {key: apply_structural_defaults(schema["additionalProperties"], item) for key, item in value.items()}
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_structural_defaults(schema["items"], item) for item in value]
    return value
