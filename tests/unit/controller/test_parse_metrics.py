"""The parse-run metrics behind the chart's alerts, from the statuses a reconcile writes: each run counted once,
never again after an operator restart, failures in a row, the backlog gauges, a suspended or deleted stack."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY

from georchestra_analytics.controller import metrics

NAMESPACE = "geo"
_names = itertools.count()


def _stack() -> str:
    """A stack name no other test used: the metrics are the process's."""
    return f"metrics-{next(_names)}"


def _status(job: str, minute: int, *, succeeded: bool = True, **counts: int) -> dict[str, Any]:
    run: dict[str, Any] = {
        "jobName": job,
        "time": datetime(2026, 1, 1, 10, minute, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "succeeded": succeeded,
        **counts,
    }
    return {"phase": "Ready" if succeeded else "Degraded", "lastParse": run}


def _value(name: str, stack: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"stack_namespace": NAMESPACE, "stack": stack, **labels})


def _runs(stack: str, outcome: str) -> float | None:
    return _value("georchestra_analytics_parse_runs_total", stack, outcome=outcome)


def test_each_run_is_counted_once_with_its_records() -> None:
    stack = _stack()
    metrics.observe_stack(NAMESPACE, stack, {"phase": "Provisioning"})
    assert _runs(stack, "succeeded") == 0 and _runs(stack, "failed") == 0
    first = _status("parse-1", 5, claimed=1000, rejected=30, oldestBufferedAgeSeconds=40)
    for _ in range(3):  # the resync and the Job's own events reconcile the same run again
        metrics.observe_stack(NAMESPACE, stack, first)
    metrics.observe_stack(NAMESPACE, stack, _status("parse-2", 10, claimed=500, rejected=5))
    assert _runs(stack, "succeeded") == 2
    assert _value("georchestra_analytics_parse_claimed_records_total", stack) == 1500
    assert _value("georchestra_analytics_parse_rejected_records_total", stack) == 35


def test_backlog_gauges_follow_the_latest_successful_run() -> None:
    stack = _stack()
    metrics.observe_stack(NAMESPACE, stack, _status("parse-1", 5, oldestBufferedAgeSeconds=40))
    finished = datetime(2026, 1, 1, 10, 5, tzinfo=UTC).timestamp()
    assert _value("georchestra_analytics_parse_backlog_age_seconds", stack) == 40
    assert _value("georchestra_analytics_parse_last_success_timestamp_seconds", stack) == finished
    # A failed run reports no backlog: the gauges keep describing the last success, so the age keeps growing.
    metrics.observe_stack(NAMESPACE, stack, _status("parse-2", 10, succeeded=False))
    assert _value("georchestra_analytics_parse_last_success_timestamp_seconds", stack) == finished
    # A success with an empty buffer reports no oldest record: a backlog of 0.
    metrics.observe_stack(NAMESPACE, stack, _status("parse-3", 15))
    assert _value("georchestra_analytics_parse_backlog_age_seconds", stack) == 0


def test_consecutive_failures_count_up_and_reset() -> None:
    stack = _stack()
    metrics.observe_stack(NAMESPACE, stack, {"phase": "Provisioning"})
    failures = []
    for minute, succeeded in ((5, False), (10, False), (10, False), (15, False), (20, True), (25, False)):
        metrics.observe_stack(NAMESPACE, stack, _status(f"parse-{minute}", minute, succeeded=succeeded))
        failures.append(_value("georchestra_analytics_parse_consecutive_failures", stack))
    assert failures == [1, 2, 2, 3, 0, 1]
    assert _runs(stack, "failed") == 4 and _runs(stack, "succeeded") == 1


def test_a_restarted_operator_does_not_count_the_run_it_finds_again() -> None:
    stack = _stack()
    # The first status this process sees already holds a run, which the previous process may have counted.
    metrics.observe_stack(NAMESPACE, stack, _status("parse-1", 5, succeeded=False, claimed=10))
    assert _runs(stack, "failed") == 0
    assert _value("georchestra_analytics_parse_consecutive_failures", stack) == 1
    metrics.observe_stack(NAMESPACE, stack, _status("parse-2", 10, succeeded=False))
    assert _runs(stack, "failed") == 1
    assert _value("georchestra_analytics_parse_consecutive_failures", stack) == 2


def test_a_suspended_stack_has_no_backlog_and_a_deleted_one_no_series() -> None:
    stack = _stack()
    metrics.observe_stack(NAMESPACE, stack, _status("parse-1", 5, oldestBufferedAgeSeconds=40))
    suspended = {**_status("parse-1", 5, oldestBufferedAgeSeconds=40), "phase": "Suspended"}
    metrics.observe_stack(NAMESPACE, stack, suspended)
    assert _value("georchestra_analytics_parse_backlog_age_seconds", stack) is None
    assert _value("georchestra_analytics_parse_last_success_timestamp_seconds", stack) is None
    assert _runs(stack, "succeeded") == 0
    metrics.observe_stack(NAMESPACE, stack, _status("parse-1", 5, oldestBufferedAgeSeconds=40))
    assert _value("georchestra_analytics_parse_backlog_age_seconds", stack) == 40
    metrics.forget_stack(NAMESPACE, stack)
    for name in (
        "georchestra_analytics_parse_backlog_age_seconds",
        "georchestra_analytics_parse_last_success_timestamp_seconds",
        "georchestra_analytics_parse_consecutive_failures",
        "georchestra_analytics_parse_claimed_records_total",
    ):
        assert _value(name, stack) is None, name
    assert _runs(stack, "succeeded") is None


def test_a_status_that_is_not_what_it_should_be_counts_nothing() -> None:
    stack = _stack()
    metrics.observe_stack(NAMESPACE, stack, {})
    for odd in ({"lastParse": "x"}, {"lastParse": {"jobName": "j", "time": "not a time", "succeeded": True}}):
        metrics.observe_stack(NAMESPACE, stack, odd)
    assert _runs(stack, "succeeded") == 0 and _runs(stack, "failed") == 0
    assert _value("georchestra_analytics_parse_backlog_age_seconds", stack) is None
