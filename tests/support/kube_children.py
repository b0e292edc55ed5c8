"""Helpers over built child objects: find pods in workloads, Jobs and CronJobs."""

from __future__ import annotations

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
