"""Job outcomes: the db-migrate Job sets SchemaReady, the parse runs' termination messages fill status.lastParse,
repeated failures and a growing backlog set ParserReady=False."""

from __future__ import annotations

import json
from typing import Any

from georchestra_analytics.controller.jobs import (
    ParserHealth,
    dashboards_condition,
    job_outcome,
    last_parse,
    parse_runs,
    parser_condition,
    schema_condition,
)
from georchestra_analytics.stack.status import Reason


def _job(name: str, state: str | None, at: str = "2026-01-01T10:00:00Z") -> dict[str, Any]:
    status: dict[str, Any] = {}
    if state == "Complete":
        status = {
            "completionTime": at,
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": at}],
        }
    elif state == "Failed":
        status = {
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": at}
            ]
        }
    return {"metadata": {"name": name}, "status": status}


def _pod(job: str, message: str | None) -> dict[str, Any]:
    terminated = {"exitCode": 0, **({"message": message} if message else {})}
    return {
        "metadata": {"name": f"{job}-x", "labels": {"batch.kubernetes.io/job-name": job}},
        "status": {"containerStatuses": [{"name": "parser", "state": {"terminated": terminated}}]},
    }


def _counts(claimed: int, written: int, rejected: int, oldest: float | None) -> str:
    return json.dumps(
        {"claimed": claimed, "written": written, "rejected": rejected, "oldest_buffered_age_seconds": oldest}
    )


def test_migrate_job_states_map_to_schema_ready() -> None:
    running = schema_condition("a-migrate-1", job_outcome(_job("a-migrate-1", None), []))
    done = schema_condition("a-migrate-1", job_outcome(_job("a-migrate-1", "Complete"), []))
    failed = schema_condition(
        "a-migrate-1", job_outcome(_job("a-migrate-1", "Failed"), [_pod("a-migrate-1", "relation x does not exist")])
    )
    assert (running.status, running.reason) == ("False", Reason.MIGRATION_RUNNING)
    assert (done.status, done.reason) == ("True", Reason.MIGRATION_SUCCEEDED)
    assert (failed.status, failed.reason) == ("False", Reason.MIGRATION_FAILED)
    assert "relation x does not exist" in failed.message and "kubectl logs job/a-migrate-1" in failed.message


def test_last_parse_comes_from_the_newest_finished_run() -> None:
    jobs = [
        _job("p-1", "Complete", "2026-01-01T10:00:00Z"),
        _job("p-2", "Complete", "2026-01-01T10:05:00Z"),
        _job("p-3", None),  # still running: not a finished run
    ]
    pods = [_pod("p-1", _counts(10, 9, 1, 30.4)), _pod("p-2", _counts(120, 100, 20, None))]
    runs = parse_runs(jobs, pods)
    assert [run.outcome.name for run in runs] == ["p-2", "p-1"]
    assert last_parse(runs[0]) == {
        "jobName": "p-2",
        "time": "2026-01-01T10:05:00Z",
        "succeeded": True,
        "claimed": 120,
        "written": 100,
        "rejected": 20,
    }
    assert last_parse(runs[1])["oldestBufferedAgeSeconds"] == 30  # type: ignore[index]
    assert parser_condition(runs, ParserHealth(), "p", backlog_alert_age=3600).reason == Reason.PARSE_SUCCEEDED


def test_one_failure_is_unknown_repeated_failures_are_false_with_the_error() -> None:
    health = ParserHealth(failures=2)
    one = parse_runs(
        [_job("p-1", "Complete", "2026-01-01T10:00:00Z"), _job("p-2", "Failed", "2026-01-01T10:05:00Z")],
        [_pod("p-1", _counts(1, 1, 0, None)), _pod("p-2", json.dumps({"error": "database unreachable"}))],
    )
    assert parser_condition(one, health, "p", backlog_alert_age=3600).status == "Unknown"
    two = parse_runs(
        [_job("p-2", "Failed", "2026-01-01T10:05:00Z"), _job("p-3", "Failed", "2026-01-01T10:10:00Z")],
        [_pod("p-2", json.dumps({"error": "x"})), _pod("p-3", json.dumps({"error": "database unreachable"}))],
    )
    condition = parser_condition(two, health, "p", backlog_alert_age=3600)
    assert (condition.status, condition.reason) == ("False", Reason.PARSE_FAILED)
    assert "database unreachable" in condition.message and "p-3" in condition.message
    assert last_parse(two[0])["message"] == "database unreachable"  # type: ignore[index]


def test_a_growing_backlog_above_the_threshold_is_reported() -> None:
    jobs = [_job("p-1", "Complete", "2026-01-01T10:00:00Z"), _job("p-2", "Complete", "2026-01-01T10:05:00Z")]
    growing = parse_runs(jobs, [_pod("p-1", _counts(5, 5, 0, 700)), _pod("p-2", _counts(5, 5, 0, 1000))])
    condition = parser_condition(growing, ParserHealth(), "p", backlog_alert_age=600)
    assert (condition.status, condition.reason) == ("False", Reason.BACKLOG_GROWING)
    assert "1000 s" in condition.message and "700 s" in condition.message
    assert "parser.backlogAlertAge, 600 s" in condition.message
    shrinking = parse_runs(jobs, [_pod("p-1", _counts(5, 5, 0, 1000)), _pod("p-2", _counts(5, 5, 0, 700))])
    assert parser_condition(shrinking, ParserHealth(), "p", backlog_alert_age=600).status == "True"
    # The same growing backlog under a higher threshold is no alert: the threshold is the stack's, not fixed.
    assert parser_condition(growing, ParserHealth(), "p", backlog_alert_age=1000).status == "True"


def test_no_run_yet_and_non_json_messages() -> None:
    assert parser_condition([], ParserHealth(), "a-parse", backlog_alert_age=3600).reason == Reason.PARSE_NOT_RUN_YET
    runs = parse_runs([_job("p-1", "Complete")], [_pod("p-1", "not json at all")])
    assert last_parse(runs[0]) == {"jobName": "p-1", "time": "2026-01-01T10:00:00Z", "succeeded": True}


def test_a_periodic_reimport_does_not_unsync_dashboards_that_were_synced() -> None:
    running = job_outcome(_job("a-superset-sync-2", None), [])
    first = dashboards_condition("a-superset-sync-2", running)
    again = dashboards_condition("a-superset-sync-2", running, was_synced=True)
    assert (first.status, first.reason) == ("False", Reason.SYNC_RUNNING)
    assert (again.status, again.reason) == ("True", Reason.SYNC_RUNNING)
    assert dashboards_condition(None, None).reason == Reason.SUPERSET_NOT_CONFIGURED
