"""What the operator remembers between reconciles, in memory only (docs/architecture.md, control plane): the
digest of each child as it last saw or applied it (so its own writes do not trigger another reconcile) and the
set of children each stack wanted when superseded ones were last removed (so the LISTs that find them run only
when that set changes). A restarted operator starts empty: its first reconcile of each stack prunes again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from georchestra_analytics.controller.triggers import Digest, digest

StackKey = tuple[str, str]
"""(namespace, name) of an AnalyticsStack."""


@dataclass
class _StackMemory:
    uid: str | None = None
    children: dict[str, Digest] = field(default_factory=dict)
    """Child uid -> digest."""
    pruned: frozenset[str] | None = None
    """Children (kind/name) wanted when superseded ones were last removed."""


class ReconcileMemory:
    """Thread-safe: kopf's handler threads, the resync loop and reconciles share it."""

    def __init__(self) -> None:
        self._stacks: dict[StackKey, _StackMemory] = {}
        self._guard = threading.Lock()

    def _entry(self, key: StackKey, uid: str | None) -> _StackMemory:
        entry = self._stacks.get(key)
        if entry is None or (uid is not None and entry.uid is not None and entry.uid != uid):
            entry = self._stacks[key] = _StackMemory(uid=uid)  # a new stack under an old name starts afresh
        entry.uid = entry.uid or uid
        return entry

    def remember_children(self, key: StackKey, uid: str | None, objects: Iterable[Mapping[str, Any]]) -> None:
        with self._guard:
            entry = self._entry(key, uid)
            for obj in objects:
                child_uid = (obj.get("metadata") or {}).get("uid")
                if child_uid:
                    entry.children[str(child_uid)] = digest(str(obj["kind"]), obj)

    def remember_child(self, key: StackKey, kind: str, body: Mapping[str, Any], *, deleted: bool = False) -> None:
        with self._guard:
            entry = self._stacks.get(key)
            child_uid = (body.get("metadata") or {}).get("uid")
            if entry is None or not child_uid:
                return
            if deleted:
                entry.children.pop(str(child_uid), None)
            else:
                entry.children[str(child_uid)] = digest(kind, body)

    def child(self, key: StackKey, child_uid: str | None) -> Digest | None:
        with self._guard:
            entry = self._stacks.get(key)
            return None if entry is None or not child_uid else entry.children.get(str(child_uid))

    def pruned(self, key: StackKey, uid: str | None) -> frozenset[str] | None:
        with self._guard:
            entry = self._stacks.get(key)
            return None if entry is None or entry.uid != uid else entry.pruned

    def remember_pruned(self, key: StackKey, uid: str | None, wanted: frozenset[str]) -> None:
        with self._guard:
            self._entry(key, uid).pruned = wanted

    def retain(self, live: Iterable[StackKey]) -> list[StackKey]:
        """Forget every stack not in `live` (deleted ones); the stacks forgotten."""
        keep = set(live)
        with self._guard:
            gone = [key for key in self._stacks if key not in keep]
            for key in gone:
                del self._stacks[key]
        return gone

    def __len__(self) -> int:
        with self._guard:
            return len(self._stacks)
