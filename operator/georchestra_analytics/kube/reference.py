"""The AnalyticsStack spec reference (docs/analyticsstack.md), generated from the CRD schema, so the
documentation says exactly what the API server enforces."""

from __future__ import annotations

import json
from typing import Any

from georchestra_analytics.kube.crd import PRINTER_COLUMNS, build_crd

HEADER = """\
# AnalyticsStack reference

`analytics.georchestra.org/v1alpha1`, kind `AnalyticsStack`, namespaced (short name `astack`).
Generated from the CRD by `georchestra-analytics crd --reference`: do not edit by hand.
The same text is available in the cluster with `kubectl explain analyticsstack.spec --recursive`.

Durations are a whole number and a unit, `h` (hours), `d` (days), `w` (weeks) or `y` (365 days), for example
`90d`; retention also accepts `forever`. Secrets are only ever referenced by name and key, never inlined.
Examples: `examples/minimal.yaml`, `examples/production.yaml`, `examples/postgresql.yaml`.
"""


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "int or string"
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (free form)"
    kind = str(node.get("type", ""))
    if kind == "array":
        return f"list of {_type(node['items'])}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type(node['additionalProperties'])}"
    if "enum" in node:
        return " | ".join(f"`{value}`" for value in node["enum"])
    return kind


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("maxProperties", "entries ≤"),
    ):
        if key in node:
            parts.append(f"{label} {node[key]}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(node: dict[str, Any]) -> str:
    if "default" not in node or (node["default"] in ({}, []) and node.get("type") == "object"):
        return ""
    value = node["default"]
    if isinstance(value, list) and len(json.dumps(value)) > 60:
        return "see description"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _sections(path: str, node: dict[str, Any], out: list[str]) -> None:
    properties: dict[str, Any] = node.get("properties", {})
    if not properties:
        return
    out.append(f"\n## `{path}`\n")
    if node.get("description"):
        out.append(f"{node['description']}\n")
    required = set(node.get("required", []))
    out.append("| Field | Type | Default | Description |")
    out.append("|---|---|---|---|")
    nested: list[tuple[str, dict[str, Any]]] = []
    for name, child in properties.items():
        description = child.get("description", "")
        if name in required:
            description = f"**Required.** {description}"
        constraints = _constraints(child)
        if constraints:
            description = f"{description} ({constraints})"
        if not child.get("properties"):
            description += "".join(f" Rule: {rule['message']}." for rule in child.get("x-kubernetes-validations", []))
        out.append(f"| `{name}` | {_cell(_type(child))} | {_cell(_default(child))} | {_cell(description)} |")
        target = child["items"] if child.get("type") == "array" else child
        if target.get("properties"):
            nested.append((f"{path}.{name}" + ("[]" if child.get("type") == "array" else ""), target))
    rules = node.get("x-kubernetes-validations", [])
    if rules:
        out.append("\nRules checked by the API server:\n")
        out.extend(f"- {rule['message']}" for rule in rules)
    for child_path, child in nested:
        _sections(child_path, child, out)


def spec_reference() -> str:
    """The Markdown reference of spec and status."""
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    out = [HEADER]
    out.append("## `kubectl get` columns\n")
    out.append("| Column | Shown | Meaning |")
    out.append("|---|---|---|")
    for column in PRINTER_COLUMNS:
        shown = "with `-o wide`" if column.get("priority") else "always"
        meaning = column.get("description", "Time since the stack was created.")
        out.append(f"| {column['name']} | {shown} | {meaning} |")
    if schema.get("x-kubernetes-validations"):
        out.append("\nRules on the object:\n")
        out.extend(f"- {rule['message']}" for rule in schema["x-kubernetes-validations"])
    _sections("spec", schema["properties"]["spec"], out)
    _sections("status", schema["properties"]["status"], out)
    return "\n".join(out) + "\n"
