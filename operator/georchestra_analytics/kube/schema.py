"""Pydantic JSON Schema -> Kubernetes structural OpenAPI v3 schema.

The API server accepts only "structural" schemas: no $ref, no anyOf/oneOf at the top of a property (except
int-or-string), no `additionalProperties: false` next to `properties`, no `null` types, no `const`. The
model's descriptions, defaults and CEL rules (`x-kubernetes-validations`) are carried over.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import PydanticUndefined, core_schema

from georchestra_analytics.stack.k8s_names import MSG_QUALIFIED_NAME, QUALIFIED_NAME_PATTERN

JsonSchema = dict[str, Any]

# Keywords a structural schema may carry (others, such as `title`, are dropped).
_KEPT = {
    "type",
    "description",
    "default",
    "enum",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "anyOf",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}


class _DefaultsFromFactories(GenerateJsonSchema):
    """Evaluates default factories, so `default:` reaches the CRD and the API server fills in what the user
    omits. A nested section defaults to `{}`: the API server then applies the section's own defaults."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            value = factory()  # type: ignore[call-arg]
            if isinstance(value, BaseModel):
                return {}
            return value
        default = schema.get("default", NoDefault)
        return NoDefault if default is PydanticUndefined else default


def model_schema(model: type[BaseModel]) -> JsonSchema:
    """The structural schema of a pydantic model (camelCase names)."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_DefaultsFromFactories)
    definitions = raw.pop("$defs", {})
    # A JSON round trip unshares inlined definitions (YAML would otherwise print anchors and aliases).
    unshared: JsonSchema = json.loads(json.dumps(_structural(raw, definitions)))
    return unshared


def _resolve(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    """Inline a `$ref` (or pydantic's `allOf: [{$ref}]`), keeping the referring node's own keywords."""
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**_resolve(target, definitions), **siblings}
    return node


def _drop_null(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    """`X | None` becomes X: an optional field is one that may be omitted, not one that may be null."""
    branches = node.get("anyOf")
    if not branches:
        return node
    kept = [branch for branch in branches if branch.get("type") != "null"]
    if len(kept) == len(branches):
        return node
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    if outer.get("default", 0) is None:
        del outer["default"]
    if len(kept) == 1:
        inner = _resolve(kept[0], definitions)
        return {**inner, **outer}
    return {**outer, "anyOf": kept}


def _structural(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    node = _drop_null(_resolve(node, definitions), definitions)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    if node.get("default", 0) is None:
        node = {k: v for k, v in node.items() if k != "default"}

    result: JsonSchema = {}
    for key, value in node.items():
        if key not in _KEPT:
            continue
        if key == "properties":
            result[key] = {name: _structural(child, definitions) for name, child in value.items()}
        elif key == "items":
            result[key] = _structural(value, definitions)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                result[key] = _structural(value, definitions)
        elif key == "anyOf":
            result[key] = [_structural(branch, definitions) for branch in value]
        elif key == "description":
            result[key] = " ".join(value.split())  # docstrings wrap lines; `kubectl explain` re-wraps
        else:
            result[key] = value

    # A map whose keys follow a pattern (labels, annotations): the values' schema for every key, and the keys
    # checked by a CEL rule (a structural schema has neither patternProperties nor propertyNames).
    patterns = node.get("patternProperties", {})
    if len(patterns) == 1:
        ((key_pattern, value_schema),) = patterns.items()
        result["additionalProperties"] = _structural(value_schema, definitions)
        message = MSG_QUALIFIED_NAME if key_pattern == QUALIFIED_NAME_PATTERN else f"keys must match {key_pattern}"
        key_rule = {"rule": f"self.all(k, k.matches(r'{key_pattern}'))", "message": message}
        result["x-kubernetes-validations"] = [*result.get("x-kubernetes-validations", []), key_rule]

    # A map with a closed set of keys (resources: cpu, memory, ...) becomes an object with those properties.
    names = node.get("propertyNames", {})
    if "enum" in names and isinstance(result.get("additionalProperties"), dict):
        value_schema = result.pop("additionalProperties")
        result["properties"] = dict.fromkeys(names["enum"], value_schema)

    # JSON Schema 2020 gives exclusive bounds as numbers; OpenAPI v3.0 (Kubernetes) as flags on the bound.
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(result.get(exclusive), int | float) and not isinstance(result[exclusive], bool):
            result[bound] = result[exclusive]
            result[exclusive] = True

    if "properties" in result:
        result.setdefault("type", "object")
        result.pop("additionalProperties", None)
    if "enum" in result and "type" not in result:
        result["type"] = _enum_type(result["enum"])
    if result.get("x-kubernetes-int-or-string"):
        # A structural int-or-string carries no type of its own at the top.
        result.pop("type", None)
    return result


def _enum_type(values: list[Any]) -> str:
    if all(isinstance(value, bool) for value in values):
        return "boolean"
    if all(isinstance(value, int) for value in values):
        return "integer"
    return "string"
