"""Kubernetes Events for condition transitions. Their text comes from condition messages, which are built from
names only (Secrets, keys, Jobs), never from Secret data."""

from __future__ import annotations

from dataclasses import dataclass

from georchestra_analytics.controller.conditions import Transition
from georchestra_analytics.stack.status import ConditionType

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class StackEvent:
    type: str
    reason: str
    message: str


def _is_good(transition: Transition) -> bool:
    state = transition.current
    if state.type == ConditionType.SUSPENDED:
        return True  # suspending is a request, not a fault
    return state.status != "False"


def transition_events(transitions: list[Transition]) -> list[StackEvent]:
    """One Event per condition whose status or reason changed; a first observation that is good (True, or
    Unknown while starting) is not worth an Event, a first problem is."""
    events = []
    for transition in transitions:
        state = transition.current
        if transition.previous_status is None and _is_good(transition):
            continue
        was = "" if transition.previous_status is None else f" (was {transition.previous_status})"
        events.append(
            StackEvent(
                type=NORMAL if _is_good(transition) else WARNING,
                reason=state.reason.value,
                message=f"{state.type.value} is {state.status}{was}: {state.message}"[:1024],
            )
        )
    return events
