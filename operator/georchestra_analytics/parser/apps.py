"""Which application a request went to: the longest configured path prefix matching whole segments
(`/geoserver` matches `/geoserver/ows`, not `/geoserver2`), case-insensitively."""

from __future__ import annotations

from collections.abc import Mapping

GEOSERVER = "geoserver"


class ApplicationMap:
    def __init__(self, mapping: Mapping[str, str]) -> None:
        # Prefixes as tuples of lower-case segments, grouped by first segment: one dict access per record in
        # the common case of single-segment prefixes.
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for prefix, app in mapping.items():
            segments = tuple(s for s in prefix.lower().split("/") if s)
            if segments:
                self._by_first.setdefault(segments[0], []).append((segments, app))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))

    def app_for(self, lower_segments: list[str]) -> str | None:
        if not lower_segments:
            return None
        candidates = self._by_first.get(lower_segments[0])
        if not candidates:
            return None
        for prefix, app in candidates:
            if len(prefix) == 1 or tuple(lower_segments[: len(prefix)]) == prefix:
                return app
        return None
