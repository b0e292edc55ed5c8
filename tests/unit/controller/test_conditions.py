"""Conditions: lastTransitionTime moves only when a status flips; observedGeneration follows the spec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from georchestra_analytics.controller.conditions import ConditionState, merge_conditions, timestamp
from georchestra_analytics.stack.status import ConditionType, Reason

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def _schema(status: str, reason: Reason) -> ConditionState:
    return ConditionState(ConditionType.SCHEMA_READY, status, reason, "db-migrate Job x")  # type: ignore[arg-type]


def test_first_observation_sets_the_transition_time_and_generation() -> None:
    merged, transitions = merge_conditions([], [_schema("False", Reason.MIGRATION_RUNNING)], 3, T0)
    assert merged == [
        {
            "type": "SchemaReady",
            "status": "False",
            "reason": "MigrationRunning",
            "message": "db-migrate Job x",
            "lastTransitionTime": timestamp(T0),
            "observedGeneration": 3,
        }
    ]
    assert [t.current.type for t in transitions] == [ConditionType.SCHEMA_READY]


def test_same_status_keeps_the_transition_time_and_reports_no_transition() -> None:
    first, _ = merge_conditions([], [_schema("False", Reason.MIGRATION_RUNNING)], 3, T0)
    again, transitions = merge_conditions(first, [_schema("False", Reason.MIGRATION_RUNNING)], 4, T1)
    assert again[0]["lastTransitionTime"] == timestamp(T0)
    assert again[0]["observedGeneration"] == 4
    assert transitions == []


def test_a_flip_moves_the_transition_time() -> None:
    first, _ = merge_conditions([], [_schema("False", Reason.MIGRATION_RUNNING)], 3, T0)
    flipped, transitions = merge_conditions(first, [_schema("True", Reason.MIGRATION_SUCCEEDED)], 3, T1)
    assert flipped[0]["lastTransitionTime"] == timestamp(T1)
    assert transitions[0].previous_status == "False"
    assert transitions[0].current.status == "True"


def test_a_new_reason_with_the_same_status_is_a_transition_but_keeps_the_time() -> None:
    first, _ = merge_conditions([], [_schema("False", Reason.MIGRATION_RUNNING)], 1, T0)
    failed, transitions = merge_conditions(first, [_schema("False", Reason.MIGRATION_FAILED)], 1, T1)
    assert failed[0]["lastTransitionTime"] == timestamp(T0)
    assert failed[0]["reason"] == "MigrationFailed"
    assert len(transitions) == 1


def test_conditions_not_observed_are_kept_and_the_order_is_stable() -> None:
    suspended = ConditionState(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED, "")
    ready = ConditionState(ConditionType.READY, "False", Reason.COMPONENTS_NOT_READY, "")
    first, _ = merge_conditions([], [suspended, _schema("True", Reason.MIGRATION_SUCCEEDED)], 1, T0)
    merged, _ = merge_conditions(first, [ready], 2, T1)
    assert [item["type"] for item in merged] == ["Ready", "SchemaReady", "Suspended"]
    assert merged[1]["observedGeneration"] == 1  # not re-observed: still says which generation it describes
