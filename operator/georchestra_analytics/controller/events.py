"""Kubernetes Events for condition transitions. Their text comes from condition messages, which are built from
names only (Secrets, keys, Jobs), never from Secret data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from georchestra_analytics.controller.conditions import Transition, timestamp
from georchestra_analytics.kube.naming import MANAGED_BY
from georchestra_analytics.stack.resource import API_VERSION, KIND
from georchestra_analytics.stack.status import ConditionType

NORMAL = "Normal"
WARNING = "Warning"
MESSAGE_LIMIT = 1024


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
                message=f"{state.type.value} is {state.status}{was}: {state.message}"[:MESSAGE_LIMIT],
            )
        )
    return events


def event_object(stack: Mapping[str, Any], event: StackEvent, now: datetime) -> dict[str, Any]:
    """A core v1 Event about the stack, as `kubectl describe analyticsstack` lists it. Posted by the controller
    itself rather than through kopf.event, which only works inside kopf's own handlers (the resync loop is not)."""
    meta = stack["metadata"]
    moment = timestamp(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": meta["namespace"], "generateName": f"{meta['name']}."},
        "involvedObject": {
            "apiVersion": stack.get("apiVersion") or API_VERSION,
            "kind": KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:MESSAGE_LIMIT],
        "source": {"component": MANAGED_BY},
        "reportingComponent": MANAGED_BY,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
    }
