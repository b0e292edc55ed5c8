"""`rendered_file`: one file of `georchestra-analytics render`'s output, byte for byte.

The operator ships its configuration files (vector.yaml, stack.yaml) as ConfigMap data; the role takes the same
text out of the same rendered objects, so a VM runs exactly what a cluster would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class RenderedFileError(ValueError):
    """The rendered objects do not hold exactly one file of that name."""


def rendered_file(objects: Iterable[Mapping[str, Any]], name: str) -> str:
    found = [
        obj["data"][name]
        for obj in objects
        if isinstance(obj, Mapping) and obj.get("kind") == "ConfigMap" and name in (obj.get("data") or {})
    ]
    if len(found) != 1:
        raise RenderedFileError(f"the rendered stack holds {len(found)} ConfigMaps with {name!r}, expected one")
    text = found[0]
    if not isinstance(text, str):
        raise RenderedFileError(f"{name!r} in the rendered ConfigMap is not text")
    return text


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"rendered_file": rendered_file}
