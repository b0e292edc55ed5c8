"""The parse run's report: what the parse job writes as its termination message (and prints with --json), and
what the controller reads back from the pod for status.lastParse and ParserReady (docs/architecture.md,
Contracts). One type on both sides, so a key renamed on one side cannot silently read as missing on the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Older parse jobs named the backlog age this way; still read so a mixed-version rollout keeps its status.
_LEGACY_OLDEST_AGE = "oldest_age_s"


def _count(value: Any) -> int | None:
    """A non-negative count, or None when the value is not a number (booleans are not counts)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, int(value))
    return None


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(frozen=True)
class ParseReport:
    """A finished run: its counts, or the `error` that stopped it (then the counts are None)."""

    claimed: int | None = None
    written: int | None = None
    duplicates: int | None = None
    rejected: int | None = None
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)
    batches: int | None = None
    claimed_per_worker: tuple[int, ...] = ()
    seconds: float | None = None
    oldest_buffered_age_seconds: float | None = None
    """None: the buffer was empty after the run."""
    aggregates_refreshed: bool | None = None
    """None: nothing to refresh (or the postgresql flavor, whose rollups are written with the records)."""
    finished_at: str | None = None
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> ParseReport:
        return cls(error=error)

    @property
    def oldest_age(self) -> int | None:
        """The backlog age in whole seconds, never negative."""
        return None if self.oldest_buffered_age_seconds is None else max(0, int(self.oldest_buffered_age_seconds))

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {
            "claimed": self.claimed,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "batches": self.batches,
            "claimed_per_worker": list(self.claimed_per_worker),
            "seconds": self.seconds,
            "oldest_buffered_age_seconds": self.oldest_buffered_age_seconds,
            "aggregates_refreshed": self.aggregates_refreshed,
            "finished_at": self.finished_at,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ParseReport:
        """Read leniently: a value of the wrong type reads as absent, never as an error (the message comes from a
        pod, possibly of another version)."""
        error = document.get("error")
        reasons = document.get("rejected_by_reason")
        per_worker = document.get("claimed_per_worker")
        oldest = document.get("oldest_buffered_age_seconds", document.get(_LEGACY_OLDEST_AGE))
        refreshed = document.get("aggregates_refreshed")
        finished = document.get("finished_at")
        return cls(
            claimed=_count(document.get("claimed")),
            written=_count(document.get("written")),
            duplicates=_count(document.get("duplicates")),
            rejected=_count(document.get("rejected")),
            rejected_by_reason=(
                {str(key): count for key, value in reasons.items() if (count := _count(value)) is not None}
                if isinstance(reasons, dict)
                else {}
            ),
            batches=_count(document.get("batches")),
            claimed_per_worker=(
                tuple(count for value in per_worker if (count := _count(value)) is not None)
                if isinstance(per_worker, list)
                else ()
            ),
            seconds=_seconds(document.get("seconds")),
            oldest_buffered_age_seconds=_seconds(oldest),
            aggregates_refreshed=refreshed if isinstance(refreshed, bool) else None,
            finished_at=finished if isinstance(finished, str) else None,
            error=None if error is None else str(error),
        )

    @classmethod
    def from_message(cls, message: str | None) -> ParseReport:
        """A pod's termination message; an empty report when it is missing or not a JSON object."""
        if not message:
            return cls()
        try:
            document = json.loads(message)
        except ValueError:
            return cls()
        return cls.from_json(document) if isinstance(document, dict) else cls()
