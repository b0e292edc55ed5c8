"""A misspelt key is refused wherever it is: every object of values.schema.json whose keys are known refuses
others, checked by the real `helm template` and `helm lint` with one typo under each of those objects (the
stack spec's, from the CRD, and the chart's own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support import helm_docs
from tests.support.helm_chart import CHART, HelmError, run_helm, template

SCHEMA: dict[str, Any] = json.loads(helm_docs.SCHEMA.read_text(encoding="utf-8"))
CLOSED = list(helm_docs.closed_object_paths(SCHEMA))
# Otherwise valid values: the stack enabled with a managed database, so the chart renders without the typo.
BASE: dict[str, Any] = {"stack": {"enabled": True, "spec": {"database": {"managed": {}}}}}


def _node(path: helm_docs.Path_) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMA
    for part in path:
        node = node["items"] if part == helm_docs.ITEMS else node["properties"][part]
    return node


def _typo(path: helm_docs.Path_) -> str:
    """A known key of the object with two letters swapped, as a hand slips (`schedule` -> `schdeule`)."""
    known = sorted(_node(path)["properties"])
    name = known[0]
    typo = name[:2] + name[3] + name[2] + name[4:] if len(name) > 3 else name + name[-1]
    assert typo not in known
    return typo


def _with_typo(path: helm_docs.Path_, typo: str) -> dict[str, Any]:
    """BASE with `typo: x` added under `path` (an array's item is a one-item list)."""
    values = json.loads(json.dumps(BASE))
    holder: Any = values
    for index, part in enumerate(path):
        if part == helm_docs.ITEMS:
            continue
        fresh: Any = [{}] if path[index + 1 : index + 2] == (helm_docs.ITEMS,) else {}
        holder = holder.setdefault(part, fresh)
        if isinstance(holder, list):
            holder = holder[0]
    holder[typo] = "x"
    return values


def _pointer(path: helm_docs.Path_) -> str:
    return "".join(f"/{'0' if part == helm_docs.ITEMS else part}" for part in path)


def _is_open(path: helm_docs.Path_) -> bool:
    return any(part in helm_docs.OPEN_KEYS for part in path) or any(
        path[: len(open_path)] == open_path for open_path in helm_docs.OPEN_PATHS
    )


def _objects_with_properties(node: Any, path: helm_docs.Path_ = ()) -> list[helm_docs.Path_]:
    if not isinstance(node, dict):
        return []
    found = [path] if isinstance(node.get("properties"), dict) else []
    for name, child in (node.get("properties") or {}).items():
        found += _objects_with_properties(child, (*path, name))
    return found + _objects_with_properties(node.get("items"), (*path, helm_docs.ITEMS))


def test_every_object_with_known_keys_is_closed() -> None:
    """The generated schema closes every object listing its properties, at every depth of the stack spec."""
    expected = [path for path in _objects_with_properties(SCHEMA) if not _is_open(path)]
    assert expected == CLOSED
    assert ("stack", "spec", "parser") in CLOSED
    assert ("stack", "spec", "database", "managed", "storage") in CLOSED
    assert ("stack", "spec", "collector", "tolerations", helm_docs.ITEMS) in CLOSED


def test_the_values_without_a_typo_are_accepted(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    assert "kind: AnalyticsStack" in template(helm, [values])


@pytest.mark.parametrize("path", CLOSED, ids=lambda path: ".".join(path) or "(top level)")
def test_a_typo_is_refused_at_every_level(helm: Path, tmp_path: Path, path: helm_docs.Path_) -> None:
    typo = _typo(path)
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(_with_typo(path, typo)), encoding="utf-8")
    expected = f"at '{_pointer(path)}': additional properties '{typo}' not allowed"

    with pytest.raises(HelmError) as refused_by_template:
        template(helm, [values])
    assert expected in str(refused_by_template.value)

    with pytest.raises(HelmError) as refused_by_lint:
        run_helm(helm, "lint", str(CHART), "--values", str(values))
    assert "1 chart(s) failed" in str(refused_by_lint.value)
