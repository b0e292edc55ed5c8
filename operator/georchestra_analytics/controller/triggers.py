"""Which watch events of a stack's children are worth a reconcile (docs/architecture.md, control plane).

A reconcile costs about twenty API calls, so an event only triggers one when it changes something the status
depends on (a Job finishing, a workload's ready replicas), when someone else edited the child (its generation,
or its resourceVersion for kinds without one, is not the one the operator's own apply returned), or when the
child is gone. The operator's own writes, a Job's pod starting, a CronJob's schedule bookkeeping: nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Digest = tuple[Any, ...]
"""What of a child a reconcile depends on; equal digests mean nothing worth a reconcile changed."""

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def job_state(body: Mapping[str, Any]) -> str | None:
    """Complete, Failed, or None while the Job runs."""
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def is_parse_run(body: Mapping[str, Any]) -> bool:
    """A Job the parse CronJob created (not one of the stack's own children)."""
    owners = _meta(body).get("ownerReferences") or []
    return any(owner.get("kind") == "CronJob" for owner in owners)


def digest(kind: str, body: Mapping[str, Any]) -> Digest:
    meta = _meta(body)
    if kind == "Job":
        # A Job's template is immutable: only its outcome matters (running, active counts: nothing).
        return (job_state(body),)
    status = body.get("status") or {}
    version = meta.get("generation", meta.get("resourceVersion"))
    if kind in WORKLOAD_KINDS:
        return (version, int(status.get("readyReplicas") or 0), int(status.get("availableReplicas") or 0))
    return (version,)


def matters(event_type: str | None, kind: str, body: Mapping[str, Any], remembered: Digest | None) -> bool:
    """Whether this event calls for a reconcile of the child's stack. `event_type` is the watch event's type
    (None for the objects kopf lists when a watch starts); `remembered` the child's digest last seen or applied
    by the operator (None: never seen)."""
    if event_type == "DELETED":
        # A child gone is put back; a parse run removed by the CronJob's history limit is not a child.
        return not (kind == "Job" and is_parse_run(body))
    if event_type is None:
        return False  # the initial listing: every stack gets its resume reconcile anyway
    if remembered is None:
        # Not written by this operator process: a parse run, a child from before a restart, a Secret a person
        # wrote (a complete roles Secret is never applied again, so its rotation arrives here). A finished Job
        # and any Secret say something new.
        return kind == "Secret" or (kind == "Job" and job_state(body) is not None)
    return digest(kind, body) != remembered
