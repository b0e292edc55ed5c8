"""Occurrence numbers of identical lines within one source: the n-th copy of a line gets n, so two identical
requests in one file stay two records while a re-ingest of the file gives the same ids again."""

from __future__ import annotations

import hashlib

# Identical lines carry the same timestamp, and logs are written in time order, so copies of a line sit close
# together. Two generations of this many distinct lines bound the memory on any file size (tens of MB) while
# still seeing every copy that is fewer than this many lines away.
GENERATION_SIZE = 250_000


class OccurrenceCounter:
    def __init__(self, generation_size: int = GENERATION_SIZE) -> None:
        # Keyed by an 8-byte digest of the line, not the line: memory stays small.
        self._current: dict[bytes, int] = {}
        self._previous: dict[bytes, int] = {}
        self._generation_size = generation_size

    def next(self, line: str) -> int:
        key = hashlib.blake2b(line.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        count = self._current.get(key)
        if count is None:
            count = self._previous.get(key, 0)
            if len(self._current) >= self._generation_size:
                self._previous, self._current = self._current, {}
        self._current[key] = count + 1
        return count
