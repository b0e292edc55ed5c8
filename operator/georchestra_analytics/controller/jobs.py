"""What the stack's Jobs say: the db-migrate Job's outcome (SchemaReady), the parse runs' counts read from
their pods' termination messages (status.lastParse, ParserReady), the superset-sync Job (DashboardsSynced).

Everything here is pure: Jobs and Pods come in as API objects, conditions and status fragments go out. The
operator never connects to the database; the parse job reports through its termination message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from georchestra_analytics.controller.conditions import ConditionState
from georchestra_analytics.parser.report import ParseReport
from georchestra_analytics.stack.status import ConditionType, Reason

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
MESSAGE_LIMIT = 512  # a condition message quotes at most this much of a pod's termination message


@dataclass(frozen=True)
class JobOutcome:
    """A Job's state: running (succeeded None), succeeded or failed, and when it finished."""

    name: str
    succeeded: bool | None
    finished_at: datetime | None
    message: str | None
    """Termination message of its (latest) pod, if any."""


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _condition_true(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition  # type: ignore[no-any-return]
    return None


def termination_message(pod: Mapping[str, Any]) -> str | None:
    """The terminated container's message (the first container that has one)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        if terminated.get("message"):
            return str(terminated["message"])
    return None


def pods_by_job(pods: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        job = next((labels[key] for key in JOB_NAME_LABELS if key in labels), None)
        if job is not None:
            grouped.setdefault(job, []).append(pod)
    return grouped


def job_outcome(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> JobOutcome:
    name = str(job["metadata"]["name"])
    complete = _condition_true(job, "Complete")
    failed = _condition_true(job, "Failed")
    # The newest pod holds the last attempt's message.
    ordered = sorted(pods, key=lambda pod: str((pod.get("metadata") or {}).get("creationTimestamp") or ""))
    messages = [message for message in (termination_message(pod) for pod in ordered) if message]
    message = messages[-1] if messages else None
    if complete is not None:
        finished = _parse_time((job.get("status") or {}).get("completionTime") or complete.get("lastTransitionTime"))
        return JobOutcome(name, True, finished, message)
    if failed is not None:
        reason = " ".join(str(failed.get(key) or "") for key in ("reason", "message")).strip()
        return JobOutcome(name, False, _parse_time(failed.get("lastTransitionTime")), message or reason or None)
    return JobOutcome(name, None, None, message)


def _quote(message: str | None) -> str:
    if not message:
        return ""
    text = message.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"


def schema_condition(job_name: str, outcome: JobOutcome | None) -> ConditionState:
    kind = ConditionType.SCHEMA_READY
    if outcome is None or outcome.succeeded is None:
        return ConditionState(kind, "False", Reason.MIGRATION_RUNNING, f"db-migrate Job {job_name} is running")
    if outcome.succeeded:
        return ConditionState(kind, "True", Reason.MIGRATION_SUCCEEDED, f"db-migrate Job {job_name} succeeded")
    detail = _quote(outcome.message)
    return ConditionState(
        kind,
        "False",
        Reason.MIGRATION_FAILED,
        f"db-migrate Job {job_name} failed"
        + (f": {detail}" if detail else "")
        + f"; see `kubectl logs job/{job_name}`, fix the cause, then delete the Job to run it again",
    )


def schema_version(outcome: JobOutcome | None) -> str | None:
    """The migration version, when the migrate command reported one as JSON."""
    if outcome is None or not outcome.succeeded or not outcome.message:
        return None
    try:
        document = json.loads(outcome.message)
    except ValueError:
        return None
    if isinstance(document, dict):
        version = document.get("schema_version") or document.get("version")
        return None if version is None else str(version)[:64]
    return None


@dataclass(frozen=True)
class ParseRun:
    outcome: JobOutcome
    report: ParseReport
    """The termination message, as the parse job wrote it (empty when it was not a report)."""


def parse_runs(jobs: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]) -> list[ParseRun]:
    """Finished parse runs, newest first."""
    grouped = pods_by_job(pods)
    runs = []
    for job in jobs:
        outcome = job_outcome(job, grouped.get(str(job["metadata"]["name"]), []))
        if outcome.succeeded is not None and outcome.finished_at is not None:
            runs.append(ParseRun(outcome, ParseReport.from_message(outcome.message)))
    return sorted(runs, key=lambda run: run.outcome.finished_at or datetime.min, reverse=True)


def last_parse(run: ParseRun | None) -> dict[str, Any] | None:
    """status.lastParse of the newest finished run."""
    if run is None:
        return None
    outcome = run.outcome
    status: dict[str, Any] = {
        "jobName": outcome.name,
        "time": outcome.finished_at.isoformat().replace("+00:00", "Z") if outcome.finished_at else None,
        "succeeded": outcome.succeeded,
        "claimed": run.report.claimed,
        "written": run.report.written,
        "rejected": run.report.rejected,
        "oldestBufferedAgeSeconds": run.report.oldest_age,
    }
    if not outcome.succeeded:
        error = run.report.error
        status["message"] = _quote(str(error) if error else outcome.message)[:4096] or None
    return {key: value for key, value in status.items() if value is not None}


@dataclass(frozen=True)
class ParserHealth:
    """When the parse job counts as unhealthy, besides the stack's own spec.parser.backlogAlertAge."""

    failures: int = 2
    """This many finished runs in a row failed."""


def parser_condition(
    runs: Sequence[ParseRun], health: ParserHealth, cronjob_name: str, *, backlog_alert_age: int
) -> ConditionState:
    """ParserReady from the finished runs. `backlog_alert_age` (spec.parser.backlogAlertAge, seconds): the oldest
    buffered record is older than this after the latest run, and older than after the run before it (the
    parser does not keep up)."""
    kind = ConditionType.PARSER_READY
    if not runs:
        return ConditionState(
            kind, "Unknown", Reason.PARSE_NOT_RUN_YET, f"CronJob {cronjob_name} has not finished a run yet"
        )
    latest = runs[0]
    recent = runs[: health.failures]
    if len(recent) >= health.failures and not any(run.outcome.succeeded for run in recent):
        detail = _quote(str(latest.report.error or latest.outcome.message or ""))
        return ConditionState(
            kind,
            "False",
            Reason.PARSE_FAILED,
            f"the last {len(recent)} parse runs failed (latest: Job {latest.outcome.name})"
            + (f": {detail}" if detail else "")
            + f"; see `kubectl logs job/{latest.outcome.name}`",
        )
    if not latest.outcome.succeeded:
        return ConditionState(
            kind,
            "Unknown",
            Reason.PARSE_FAILED,
            f"parse Job {latest.outcome.name} failed; the next scheduled run retries",
        )
    successes = [run for run in runs if run.outcome.succeeded and run.report.oldest_age is not None]
    if len(successes) >= 2:
        newest, before = successes[0].report.oldest_age, successes[1].report.oldest_age
        assert newest is not None and before is not None
        if newest > backlog_alert_age and newest > before:
            return ConditionState(
                kind,
                "False",
                Reason.BACKLOG_GROWING,
                f"the oldest buffered record is {newest} s old after Job {successes[0].outcome.name} "
                f"(was {before} s; alert above parser.backlogAlertAge, {backlog_alert_age} s): the parser does "
                "not keep up; raise parser.batchSize or parser.parallelism, or run it more often",
            )
    written = latest.report.written
    return ConditionState(
        kind,
        "True",
        Reason.PARSE_SUCCEEDED,
        f"parse Job {latest.outcome.name} succeeded" + ("" if written is None else f", {written} records written"),
    )


def dashboards_condition(
    job_name: str | None, outcome: JobOutcome | None, *, was_synced: bool = False
) -> ConditionState:
    """`was_synced`: the previous import succeeded, so a periodic re-import in progress does not make the
    dashboards count as out of sync (no flapping every resyncInterval)."""
    kind = ConditionType.DASHBOARDS_SYNCED
    if job_name is None:
        return ConditionState(
            kind, "False", Reason.SUPERSET_NOT_CONFIGURED, "no spec.superset: dashboards are not imported"
        )
    if outcome is None or outcome.succeeded is None:
        if was_synced:
            return ConditionState(
                kind, "True", Reason.SYNC_RUNNING, f"superset-sync Job {job_name} is importing the bundle again"
            )
        return ConditionState(kind, "False", Reason.SYNC_RUNNING, f"superset-sync Job {job_name} is running")
    if outcome.succeeded:
        return ConditionState(kind, "True", Reason.DASHBOARDS_IMPORTED, f"superset-sync Job {job_name} succeeded")
    detail = _quote(outcome.message)
    return ConditionState(
        kind,
        "False",
        Reason.SYNC_FAILED,
        f"superset-sync Job {job_name} failed"
        + (f": {detail}" if detail else "")
        + f"; see `kubectl logs job/{job_name}`",
    )
