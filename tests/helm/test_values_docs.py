"""values.yaml's comments are the one source of the values' descriptions: the README table and the schema's
descriptions are generated from them (tests/support/helm_docs.py) and must not be stale."""

from __future__ import annotations

import json

from tests.support import helm_docs


def test_readme_and_schema_are_generated_from_values_yaml() -> None:
    assert helm_docs.stale_files() == [], f"stale generated files: run `{helm_docs.REGENERATE}`"


def test_every_value_is_documented() -> None:
    assert helm_docs.undocumented_leaves(helm_docs.VALUES.read_text(encoding="utf-8")) == []


def test_schema_and_values_yaml_name_the_same_keys() -> None:
    schema = json.loads(helm_docs.SCHEMA.read_text(encoding="utf-8"))
    in_values = helm_docs.value_paths(helm_docs.VALUES.read_text(encoding="utf-8"))
    schema_only = {".".join(path) for path in helm_docs.schema_paths(schema) if path not in in_values}
    assert schema_only == set(), "values.schema.json describes keys that values.yaml does not have"
    # The other way round, every documented key must be in the schema: the generator refuses otherwise.
    helm_docs.generate()


def test_every_schema_property_has_a_description() -> None:
    schema = json.loads(helm_docs.SCHEMA.read_text(encoding="utf-8"))
    missing = []
    for path in helm_docs.schema_paths(schema):
        node = helm_docs.schema_node(schema, path)
        assert node is not None
        if not node.get("description") and node.get("type") != "object":
            missing.append(".".join(path))
    assert missing == []


def test_stack_spec_schema_is_the_crds() -> None:
    schema = json.loads(helm_docs.SCHEMA.read_text(encoding="utf-8"))
    spec = helm_docs.schema_node(schema, helm_docs.STACK_SPEC_PATH)
    crd_spec = helm_docs.crd_spec_schema()
    assert crd_spec is not None
    assert spec is not None
    # The CRD's, closed to unknown keys (a CRD's structural schema cannot say so; the API server prunes them).
    closed_crd_spec = helm_docs.closed_objects(crd_spec, helm_docs.STACK_SPEC_PATH)
    assert {key: value for key, value in spec.items() if key != "description"} == {
        key: value for key, value in closed_crd_spec.items() if key != "description"
    }, f"the CRD changed: run `{helm_docs.REGENERATE}` to copy its spec schema into values.schema.json"


def test_comment_blocks_are_read_as_descriptions() -> None:
    text = (
        "# A section header, not a description.\n"
        "section:\n"
        "  # -- First line\n"
        "  # continued | with a pipe.\n"
        "  key: 1\n"
        "  plain: 2\n"
    )
    docs = {doc.key: doc for doc in helm_docs.read_values_docs(text)}
    assert set(docs) == {"section.key"}
    assert docs["section.key"].description == "First line continued | with a pipe."
    assert docs["section.key"].default == 1
    assert helm_docs.undocumented_leaves(text) == ["section.plain"]
    table = helm_docs.values_table(list(docs.values()), {})
    assert "continued \\| with a pipe." in table


def test_openapi_bounds_and_nullable_become_json_schema() -> None:
    openapi = {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
            "name": {"type": "string", "nullable": True},
            "items": {"type": "array", "items": {"type": "integer", "maximum": 9, "exclusiveMaximum": False}},
        },
    }
    assert helm_docs.json_schema_from_openapi(openapi) == {
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "name": {"type": ["string", "null"]},
            "items": {"type": "array", "items": {"type": "integer", "maximum": 9}},
        },
    }
