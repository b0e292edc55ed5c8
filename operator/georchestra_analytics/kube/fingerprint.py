"""Digests of the template folders: what a Job applies changes exactly when these (or its inputs) change."""

from __future__ import annotations

import hashlib
from functools import cache

from georchestra_analytics.render.templates import template_dir


@cache
def templates_digest(folder: str) -> str:
    """sha256 over the relative paths and contents of every file of a template folder (`timescale`,
    `superset`, `vector`), in a stable order."""
    root = template_dir(folder)
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        sha.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()
