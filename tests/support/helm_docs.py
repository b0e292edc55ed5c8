"""The chart's generated documentation: values.yaml's `# --` comments are the one source of every value's
description, copied into the README's values table and into values.schema.json; the schema of `stack.spec` is
the CRD's own spec schema, so `helm install` checks a stack's values as the API server would check its types.

    python -m tests.support.helm_docs          # rewrite helm/georchestra-analytics/README.md and values.schema.json
    python -m tests.support.helm_docs --check  # exit 1, naming what is stale (what the unit test runs)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "georchestra-analytics"
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"
README = CHART / "README.md"
CRD = CHART / "crds" / "analyticsstacks.yaml"

DOC_MARK = "# --"
TABLE_START = "<!-- values-table:start (generated from values.yaml by tests/support/helm_docs.py) -->"
TABLE_END = "<!-- values-table:end -->"
STACK_SPEC_PATH = ("stack", "spec")
REGENERATE = "python -m tests.support.helm_docs"

Path_ = tuple[str, ...]


@dataclass(frozen=True)
class ValueDoc:
    """One documented key of values.yaml."""

    path: Path_
    description: str
    default: Any

    @property
    def key(self) -> str:
        return ".".join(self.path)


class ChartDocsError(ValueError):
    """values.yaml, the schema or the README cannot be reconciled; the message says where."""


def _description_above(lines: list[str], key_line: int) -> str | None:
    """The `# --` comment block directly above a key (continuation lines are the `#` lines after it)."""
    block: list[str] = []
    index = key_line - 1
    while index >= 0 and lines[index].lstrip().startswith("#"):
        block.insert(0, lines[index].strip())
        index -= 1
    starts = [position for position, line in enumerate(block) if line.startswith(DOC_MARK)]
    if not starts:
        return None
    start = starts[-1]
    words = [block[start][len(DOC_MARK) :].strip()]
    words += [line.lstrip("#").strip() for line in block[start + 1 :]]
    return " ".join(word for word in words if word)


def _compose(text: str) -> yaml.Node:
    root = yaml.compose(text)
    if root is None:
        raise ChartDocsError("values.yaml is empty")
    return root


def _walk(node: yaml.Node, path: Path_) -> Iterator[tuple[Path_, yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            yield child, key_node, value_node
            yield from _walk(value_node, child)


def _value_at(values: Any, path: Path_) -> Any:
    for part in path:
        values = values[part]
    return values


def read_values_docs(text: str) -> list[ValueDoc]:
    """Every documented key of a values.yaml text, in file order."""
    lines = text.splitlines()
    root = _compose(text)
    values = yaml.safe_load(text)
    docs = []
    for path, key_node, _ in _walk(root, ()):
        description = _description_above(lines, key_node.start_mark.line)
        if description is not None:
            docs.append(ValueDoc(path, description, _value_at(values, path)))
    return docs


def value_paths(text: str) -> set[Path_]:
    """Every key path of a values.yaml text."""
    return {path for path, _, _ in _walk(_compose(text), ())}


def undocumented_leaves(text: str) -> list[str]:
    """Keys holding a value (scalar, list or empty map) with no description on themselves or an ancestor."""
    documented = {doc.path for doc in read_values_docs(text)}
    missing = []
    for path, _, value_node in _walk(_compose(text), ()):
        is_leaf = not isinstance(value_node, yaml.MappingNode) or not value_node.value
        covered = any(path[:length] in documented for length in range(1, len(path) + 1))
        if is_leaf and not covered:
            missing.append(".".join(path))
    return missing


def schema_node(schema: dict[str, Any], path: Path_) -> dict[str, Any] | None:
    """The subschema of a values path, following `properties`; None when the schema does not describe it."""
    node: dict[str, Any] = schema
    for part in path:
        properties = node.get("properties")
        if not isinstance(properties, dict) or part not in properties:
            return None
        node = properties[part]
    return node


def schema_paths(schema: dict[str, Any], path: Path_ = ()) -> Iterator[Path_]:
    """Every values path the schema names, except inside `stack.spec` (the CRD's schema)."""
    for name, child in (schema.get("properties") or {}).items():
        child_path = (*path, name)
        yield child_path
        if child_path != STACK_SPEC_PATH:
            yield from schema_paths(child, child_path)


def json_schema_from_openapi(node: Any) -> Any:
    """An OpenAPI v3.0 schema (a CRD's) as JSON Schema draft 7 (helm's): boolean exclusive bounds become numeric,
    `nullable` becomes a "null" type. Kubernetes' x- keywords stay: JSON Schema validators ignore them."""
    if isinstance(node, list):
        return [json_schema_from_openapi(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: json_schema_from_openapi(value) for key, value in node.items()}
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if result.get(exclusive) is True and bound in result:
            result[exclusive] = result.pop(bound)
        elif result.get(exclusive) is False:
            del result[exclusive]
    if result.pop("nullable", False) is True and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    return result


def _without_kubernetes_requirements(spec_schema: dict[str, Any]) -> dict[str, Any]:
    # With the stack disabled, `stack.spec` is `{}`: the template, not the schema, requires `database`.
    spec_schema = copy.deepcopy(spec_schema)
    spec_schema.pop("required", None)
    return spec_schema


def crd_spec_schema(crd_path: Path = CRD) -> dict[str, Any] | None:
    """The openAPIV3Schema of the served version's `spec`, or None while the CRD has not been generated."""
    if not crd_path.exists():
        return None
    crd = yaml.safe_load(crd_path.read_text(encoding="utf-8"))
    versions = [version for version in crd["spec"]["versions"] if version.get("served", True)]
    storage = next((version for version in versions if version.get("storage")), versions[0])
    spec_schema: dict[str, Any] = storage["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return _without_kubernetes_requirements(json_schema_from_openapi(spec_schema))


# Objects whose keys are not all known here stay open, with everything under them: `global` holds an umbrella
# chart's values for all its subcharts, `resources` is Kubernetes' (claims, extended resources), an EnvVar item
# of extraEnv is described by its `name` only. Maps (labels, annotations, nodeSelector...) have no `properties`:
# their `additionalProperties` is the schema of a value, left as it is.
OPEN_KEYS = frozenset({"global", "resources"})
OPEN_PATHS = frozenset({("operator", "extraEnv", "[]")})
ITEMS = "[]"


def closed_objects(node: Any, path: Path_ = ()) -> Any:
    """Every object schema listing its `properties` refuses other keys (`additionalProperties: false`), so a
    typo at any depth fails `helm install` instead of being ignored; OPEN_KEYS and OPEN_PATHS stay open."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if (path and path[-1] in OPEN_KEYS) or path in OPEN_PATHS:
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        return node
    properties = node.get("properties")
    if isinstance(properties, dict):
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        node["properties"] = {name: closed_objects(child, (*path, name)) for name, child in properties.items()}
    if isinstance(node.get("items"), dict):
        node["items"] = closed_objects(node["items"], (*path, ITEMS))
    return node


def closed_object_paths(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    """The values paths (ITEMS for an array's item) of every object schema refusing unknown keys."""
    if not isinstance(node, dict):
        return
    if node.get("additionalProperties") is False:
        yield path
    for name, child in (node.get("properties") or {}).items():
        yield from closed_object_paths(child, (*path, name))
    yield from closed_object_paths(node.get("items"), (*path, ITEMS))


def synced_schema(schema: dict[str, Any], docs: list[ValueDoc], spec_schema: dict[str, Any] | None) -> dict[str, Any]:
    """The schema with values.yaml's descriptions, `stack.spec` taken from the CRD when there is one, and every
    object closed to unknown keys."""
    schema = copy.deepcopy(schema)
    if spec_schema is not None:
        stack = schema_node(schema, STACK_SPEC_PATH[:1])
        if stack is None:
            raise ChartDocsError("values.schema.json has no `stack` object to hold the CRD's spec schema")
        stack["properties"]["spec"] = copy.deepcopy(spec_schema)
    schema = closed_objects(schema)
    for doc in docs:
        node = schema_node(schema, doc.path)
        if node is None:
            raise ChartDocsError(f"values.yaml documents `{doc.key}` but values.schema.json does not describe it")
        node["description"] = doc.description
    return schema


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_of(schema: dict[str, Any], path: Path_) -> str:
    node = schema_node(schema, path) or {}
    kind = node.get("type", "")
    return kind if isinstance(kind, str) else " or ".join(kind)


def values_table(docs: list[ValueDoc], schema: dict[str, Any]) -> str:
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for doc in docs:
        default = json.dumps(doc.default, separators=(", ", ": "))
        rows.append(
            f"| `{_cell(doc.key)}` | {_type_of(schema, doc.path)} | `{_cell(default)}` | {_cell(doc.description)} |"
        )
    return "\n".join(rows)


def readme_with_table(readme: str, table: str) -> str:
    if TABLE_START not in readme or TABLE_END not in readme:
        raise ChartDocsError(f"README.md lacks the markers {TABLE_START!r} and {TABLE_END!r}")
    before, rest = readme.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    return f"{before}{TABLE_START}\n{table}\n{TABLE_END}{after}"


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Generated:
    readme: str
    schema: str


def generate(chart: Path = CHART) -> Generated:
    """What README.md and values.schema.json must contain, from values.yaml, the schema and the CRD."""
    docs = read_values_docs((chart / "values.yaml").read_text(encoding="utf-8"))
    current = json.loads((chart / "values.schema.json").read_text(encoding="utf-8"))
    schema = synced_schema(current, docs, crd_spec_schema(chart / "crds" / "analyticsstacks.yaml"))
    readme = readme_with_table((chart / "README.md").read_text(encoding="utf-8"), values_table(docs, schema))
    return Generated(readme=readme, schema=schema_text(schema))


def stale_files(chart: Path = CHART) -> list[str]:
    generated = generate(chart)
    stale = []
    if (chart / "README.md").read_text(encoding="utf-8") != generated.readme:
        stale.append("README.md")
    if (chart / "values.schema.json").read_text(encoding="utf-8") != generated.schema:
        stale.append("values.schema.json")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is stale")
    arguments = parser.parse_args(argv)
    if arguments.check:
        stale = stale_files()
        for name in stale:
            print(f"helm/georchestra-analytics/{name} is stale: run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    generated = generate()
    README.write_text(generated.readme, encoding="utf-8")
    SCHEMA.write_text(generated.schema, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
