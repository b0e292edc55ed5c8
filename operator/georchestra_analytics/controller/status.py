"""The stack's readiness from its children: database and collector conditions, Ready, the phase, endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from georchestra_analytics.controller.conditions import ConditionState
from georchestra_analytics.kube.collector import otlp_endpoints, persistent_data
from georchestra_analytics.kube.database_access import database_access
from georchestra_analytics.stack.resource import AnalyticsStack
from georchestra_analytics.stack.status import ConditionType, Phase, Reason

# Conditions that must hold for Ready; ParserReady and DashboardsSynced count only when they are False for
# a reason other than "not configured" or "not run yet".
REQUIRED = (ConditionType.DATABASE_READY, ConditionType.SCHEMA_READY, ConditionType.COLLECTOR_READY)
FAILURE_REASONS = frozenset(
    {
        Reason.SECRET_NOT_FOUND,
        Reason.SECRET_KEY_MISSING,
        Reason.MIGRATION_FAILED,
        Reason.INVALID_SPEC,
        Reason.RECONCILE_ERROR,
        Reason.DATABASE_UNREACHABLE,
    }
)


def _ready_replicas(workload: Mapping[str, Any] | None) -> int:
    if workload is None:
        return 0
    status = workload.get("status") or {}
    return int(status.get("availableReplicas") or status.get("readyReplicas") or 0)


def database_condition(
    stack: AnalyticsStack, statefulset: Mapping[str, Any] | None, schema: ConditionState
) -> ConditionState:
    kind = ConditionType.DATABASE_READY
    access = database_access(stack)
    if stack.spec.database.managed is not None:
        if _ready_replicas(statefulset) >= 1:
            return ConditionState(kind, "True", Reason.DATABASE_AVAILABLE, f"TimescaleDB at {access.host} is ready")
        return ConditionState(
            kind, "False", Reason.DATABASE_STARTING, f"waiting for the TimescaleDB pod of {access.host} to be ready"
        )
    # External: the operator never connects; the db-migrate Job is what proves the server is reachable.
    where = f"{access.host}:{access.port}/{access.database}"
    if schema.reason == Reason.MIGRATION_SUCCEEDED:
        return ConditionState(kind, "True", Reason.DATABASE_AVAILABLE, f"{where} reached by the db-migrate Job")
    if schema.reason == Reason.MIGRATION_FAILED:
        return ConditionState(
            kind,
            "False",
            Reason.DATABASE_UNREACHABLE,
            f"the db-migrate Job could not complete against {where}: check host, port, sslMode and credentials",
        )
    return ConditionState(kind, "Unknown", Reason.DATABASE_STARTING, f"waiting for the db-migrate Job to reach {where}")


def collector_condition(stack: AnalyticsStack, workload: Mapping[str, Any] | None) -> ConditionState:
    kind = ConditionType.COLLECTOR_READY
    wanted = stack.spec.collector.replicas
    ready = _ready_replicas(workload)
    what = "Vector " + ("StatefulSet" if persistent_data(stack) else "Deployment")
    if workload is None:
        return ConditionState(kind, "False", Reason.COLLECTOR_UNAVAILABLE, f"{what} not created yet")
    if ready >= wanted:
        return ConditionState(kind, "True", Reason.COLLECTOR_AVAILABLE, f"{ready}/{wanted} collector replicas ready")
    if ready == 0:
        return ConditionState(
            kind,
            "False",
            Reason.COLLECTOR_UNAVAILABLE,
            f"0/{wanted} collector replicas ready: logs sent now are refused; see `kubectl describe` of the pods",
        )
    return ConditionState(kind, "False", Reason.COLLECTOR_PROGRESSING, f"{ready}/{wanted} collector replicas ready")


def _counts_for_ready(state: ConditionState) -> bool:
    if state.type in REQUIRED:
        return True
    if state.type in (ConditionType.READY, ConditionType.SUSPENDED):
        return False  # not a component (a suspended stack is handled before Ready is computed)
    return state.status == "False" and state.reason not in (Reason.SUPERSET_NOT_CONFIGURED, Reason.SYNC_RUNNING)


def ready_condition(states: Sequence[ConditionState]) -> ConditionState:
    blocking = [state for state in states if _counts_for_ready(state) and not state.is_true]
    if not blocking:
        return ConditionState(
            ConditionType.READY, "True", Reason.ALL_COMPONENTS_READY, "collector, database and schema are ready"
        )
    failures = [state for state in blocking if state.reason in FAILURE_REASONS]
    first = (failures or blocking)[0]
    waiting = ", ".join(f"{state.type.value} ({state.reason.value})" for state in blocking)
    return ConditionState(
        ConditionType.READY,
        "False",
        first.reason if failures else Reason.COMPONENTS_NOT_READY,
        f"not ready: {waiting}. {first.type.value}: {first.message}",
    )


def suspended_condition(suspended: bool) -> ConditionState:
    if suspended:
        return ConditionState(
            ConditionType.SUSPENDED,
            "True",
            Reason.SUSPENDED_BY_SPEC,
            "spec.suspend is true: the parse CronJob is suspended and the other children are left as they are",
        )
    return ConditionState(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED, "the stack is reconciled")


def phase(states: Sequence[ConditionState], suspended: bool, schema_was_ready: bool) -> Phase:
    """One word: Suspended, Failed (something to fix), Ready, Degraded (was working, now is not) or
    Provisioning (still coming up)."""
    if suspended:
        return Phase.SUSPENDED
    if any(state.reason in FAILURE_REASONS and not state.is_true for state in states):
        return Phase.FAILED
    ready = next((state for state in states if state.type == ConditionType.READY), None)
    if ready is not None and ready.is_true:
        return Phase.READY
    return Phase.DEGRADED if schema_was_ready else Phase.PROVISIONING


def endpoints(stack: AnalyticsStack) -> dict[str, str]:
    return otlp_endpoints(stack)
