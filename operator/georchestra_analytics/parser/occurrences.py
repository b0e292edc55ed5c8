"""Occurrence numbers of identical lines within one source: the n-th copy of a line gets n, so two identical
requests in one file stay two records while a re-ingest of the file gives the same ids again."""

from __future__ import annotations

import hashlib


class OccurrenceCounter:
    def __init__(self) -> None:
        # Keyed by an 8-byte digest of the line, not the line: memory stays small on large files.
        self._seen: dict[bytes, int] = {}

    def next(self, line: str) -> int:
        key = hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        count = self._seen.get(key, 0)
        self._seen[key] = count + 1
        return count
