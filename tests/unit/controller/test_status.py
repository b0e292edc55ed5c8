"""Ready and the phase, from the component conditions; Events for transitions."""

from __future__ import annotations

from datetime import UTC, datetime

from georchestra_analytics.controller.conditions import ConditionState, merge_conditions
from georchestra_analytics.controller.events import WARNING, transition_events
from georchestra_analytics.controller.status import phase, ready_condition
from georchestra_analytics.stack.status import ConditionType, Phase, Reason


def _state(kind: ConditionType, status: str, reason: Reason, message: str = "m") -> ConditionState:
    return ConditionState(kind, status, reason, message)  # type: ignore[arg-type]


READY_PARTS = [
    _state(ConditionType.DATABASE_READY, "True", Reason.DATABASE_AVAILABLE),
    _state(ConditionType.SCHEMA_READY, "True", Reason.MIGRATION_SUCCEEDED),
    _state(ConditionType.COLLECTOR_READY, "True", Reason.COLLECTOR_AVAILABLE),
    _state(ConditionType.PARSER_READY, "Unknown", Reason.PARSE_NOT_RUN_YET),
    _state(ConditionType.DASHBOARDS_SYNCED, "False", Reason.SUPERSET_NOT_CONFIGURED),
    _state(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED),
]


def test_ready_when_the_required_components_are_and_nothing_failed() -> None:
    ready = ready_condition(READY_PARTS)
    assert (ready.status, ready.reason) == ("True", Reason.ALL_COMPONENTS_READY)
    assert phase([ready, *READY_PARTS], suspended=False, schema_was_ready=True) == Phase.READY


def test_a_failure_names_itself_in_ready_and_fails_the_phase() -> None:
    parts = [*READY_PARTS[:2], _state(ConditionType.COLLECTOR_READY, "False", Reason.COLLECTOR_PROGRESSING)]
    parts[0] = _state(ConditionType.DATABASE_READY, "False", Reason.SECRET_KEY_MISSING, "Secret db has no key 'x'")
    ready = ready_condition(parts)
    assert ready.reason == Reason.SECRET_KEY_MISSING
    assert "Secret db has no key 'x'" in ready.message and "CollectorReady (CollectorProgressing)" in ready.message
    assert phase([ready, *parts], suspended=False, schema_was_ready=False) == Phase.FAILED


def test_parse_failures_degrade_a_stack_that_was_working() -> None:
    parts = [*READY_PARTS[:3], _state(ConditionType.PARSER_READY, "False", Reason.PARSE_FAILED)]
    ready = ready_condition(parts)
    assert ready.status == "False"
    assert phase([ready, *parts], suspended=False, schema_was_ready=True) == Phase.DEGRADED
    assert phase([ready, *parts], suspended=True, schema_was_ready=True) == Phase.SUSPENDED


def test_events_for_problems_and_recoveries_not_for_a_good_start() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    good = _state(ConditionType.SCHEMA_READY, "True", Reason.MIGRATION_SUCCEEDED, "ok")
    bad = _state(ConditionType.DATABASE_READY, "False", Reason.SECRET_NOT_FOUND, "Secret analytics-db not found")
    conditions, transitions = merge_conditions([], [good, bad], 1, now)
    events = transition_events(transitions)
    assert [(e.type, e.reason) for e in events] == [(WARNING, "SecretNotFound")]
    assert events[0].message == "DatabaseReady is False: Secret analytics-db not found"
    fixed = _state(ConditionType.DATABASE_READY, "True", Reason.DATABASE_AVAILABLE, "ready")
    _, transitions = merge_conditions(conditions, [good, fixed], 1, now)
    assert [(e.type, e.message) for e in transition_events(transitions)] == [
        ("Normal", "DatabaseReady is True (was False): ready")
    ]
