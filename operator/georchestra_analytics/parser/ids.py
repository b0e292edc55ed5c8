"""Stable record ids: a digest of the content and the source, never of a position in a batch or a file,
so a replay or a re-ingest produces the same id and `UNIQUE (ts, id)` absorbs it."""

from __future__ import annotations

import hashlib

# 128 bits: collisions among billions of records stay negligible, and the text stays short for the index.
_DIGEST_BYTES = 16
_SEPARATOR = b"\x1f"  # unit separator: cannot occur in the text parts, so part boundaries stay unambiguous


def stable_id(*parts: str) -> str:
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(_SEPARATOR)
    return digest.hexdigest()


def line_id(source: str, line: str, occurrence: int) -> str:
    """Id of a text log line: its source (file name), its content, and how many identical lines came before
    it in that source (two identical lines in one file are two requests)."""
    return stable_id("line", source, line, str(occurrence))
