"""Kubernetes objects as YAML: one document, or a stream for `kubectl apply -f -`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Safe YAML, no anchors/aliases (a reader of a manifest should not have to resolve them)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _multiline_as_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Embedded files (vector.yaml, stack.yaml) read best as literal blocks; PyYAML falls back to quoting
    # by itself when a literal block cannot represent the text exactly.
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _multiline_as_block)


def to_yaml(document: Mapping[str, Any]) -> str:
    """One object as YAML, keys in the order built."""
    return yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def to_yaml_stream(documents: Iterable[Mapping[str, Any]]) -> str:
    """Several objects as one YAML stream (`---` between documents)."""
    return "".join(f"---\n{to_yaml(document)}" for document in documents)
