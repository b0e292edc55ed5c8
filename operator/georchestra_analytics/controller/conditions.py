"""Conditions as Kubernetes' metav1.Condition: computed fresh on every reconcile, merged into the previous
ones so that lastTransitionTime moves only when a condition's status flips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from georchestra_analytics.stack.status import ConditionType, Reason

Status = Literal["True", "False", "Unknown"]

# The order conditions are listed in the status (and read in `kubectl describe`).
ORDER = [
    ConditionType.READY,
    ConditionType.DATABASE_READY,
    ConditionType.SCHEMA_READY,
    ConditionType.COLLECTOR_READY,
    ConditionType.PARSER_READY,
    ConditionType.DASHBOARDS_SYNCED,
    ConditionType.SUSPENDED,
]


@dataclass(frozen=True)
class ConditionState:
    """What the controller observed for one condition type."""

    type: ConditionType
    status: Status
    reason: Reason
    message: str

    @property
    def is_true(self) -> bool:
        return self.status == "True"


@dataclass(frozen=True)
class Transition:
    """A condition whose status or reason changed in this reconcile (an Event is posted for it)."""

    previous_status: str | None
    previous_reason: str | None
    current: ConditionState


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, second precision, as the API server writes metav1.Time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Sequence[Mapping[str, Any]],
    observed: Sequence[ConditionState],
    generation: int | None,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[Transition]]:
    """The new status.conditions and the transitions. A condition not observed this time keeps its previous
    entry (a partial reconcile, such as a suspended stack's, does not erase what it did not look at)."""
    before = {str(item.get("type")): item for item in previous}
    merged: dict[str, dict[str, Any]] = {key: dict(value) for key, value in before.items()}
    transitions: list[Transition] = []
    for state in observed:
        old = before.get(state.type.value)
        flipped = old is None or old.get("status") != state.status
        entry: dict[str, Any] = {
            "type": state.type.value,
            "status": state.status,
            "reason": state.reason.value,
            "message": state.message,
            "lastTransitionTime": (old or {}).get("lastTransitionTime") if not flipped else None,
        }
        entry["lastTransitionTime"] = entry["lastTransitionTime"] or timestamp(now)
        if generation is not None:
            entry["observedGeneration"] = generation
        merged[state.type.value] = entry
        if old is None or flipped or old.get("reason") != state.reason.value:
            transitions.append(
                Transition(
                    previous_status=None if old is None else str(old.get("status")),
                    previous_reason=None if old is None else str(old.get("reason")),
                    current=state,
                )
            )
    rank = {kind.value: index for index, kind in enumerate(ORDER)}
    ordered = sorted(merged.values(), key=lambda item: (rank.get(str(item["type"]), len(rank)), str(item["type"])))
    return ordered, transitions


def find(conditions: Sequence[Mapping[str, Any]], kind: ConditionType) -> Mapping[str, Any] | None:
    for item in conditions:
        if item.get("type") == kind.value:
            return item
    return None
