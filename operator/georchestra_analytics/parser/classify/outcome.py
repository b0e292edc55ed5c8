"""What the classifiers find out about one request."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Classification:
    service: str | None = None
    request: str | None = None
    # Layer names as requested (`ws:name` or `name`); the workspace resolution happens afterwards.
    layer_names: list[str] = field(default_factory=list)
    tiled: bool = False
    is_download: bool = False
    download_format: str | None = None
    tags: list[str] = field(default_factory=list)
