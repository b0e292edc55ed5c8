"""Which child events are worth a reconcile: a finished Job, a change in ready replicas, an edit by someone else,
a deletion; never the operator's own write, a running Job's bookkeeping or the initial listing."""

from __future__ import annotations

from typing import Any

import pytest

from georchestra_analytics.controller.triggers import digest, is_parse_run, job_state, matters


def _job(state: str | None = None, *, cronjob: bool = False, active: int = 0) -> dict[str, Any]:
    owner = {"kind": "CronJob" if cronjob else "AnalyticsStack", "name": "x", "uid": "u"}
    conditions = [] if state is None else [{"type": state, "status": "True"}]
    return {
        "kind": "Job",
        "metadata": {"name": "j", "uid": "job-1", "ownerReferences": [owner], "resourceVersion": str(10 + active)},
        "status": {"active": active, "conditions": conditions},
    }


def _deployment(generation: int, ready: int = 0, available: int = 0, version: str = "1") -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "d", "uid": "dep-1", "generation": generation, "resourceVersion": version},
        "status": {"readyReplicas": ready, "availableReplicas": available, "observedGeneration": generation},
    }


def test_a_job_counts_only_for_its_outcome() -> None:
    running = digest("Job", _job())
    assert digest("Job", _job(active=1)) == running  # a pod started: nothing the status shows
    assert job_state(_job("Complete")) == "Complete" and job_state(_job("Failed")) == "Failed"
    assert matters("MODIFIED", "Job", _job(active=1), running) is False
    assert matters("MODIFIED", "Job", _job("Complete"), running) is True
    assert matters("MODIFIED", "Job", _job("Failed"), running) is True
    # A condition that is not True yet is no outcome.
    pending = _job()
    pending["status"]["conditions"] = [{"type": "Complete", "status": "False"}]
    assert job_state(pending) is None


def test_workloads_count_for_ready_replicas_and_for_edits_not_for_status_bookkeeping() -> None:
    applied = digest("Deployment", _deployment(3))
    assert matters("MODIFIED", "Deployment", _deployment(3, version="2"), applied) is False  # observedGeneration...
    assert matters("MODIFIED", "Deployment", _deployment(3, ready=1, available=1), applied) is True
    assert matters("MODIFIED", "Deployment", _deployment(4), applied) is True  # `kubectl scale` by someone


@pytest.mark.parametrize("kind", ["ConfigMap", "Service", "Secret"])
def test_kinds_without_generation_count_for_any_new_version(kind: str) -> None:
    body = {"kind": kind, "metadata": {"uid": "c", "resourceVersion": "5"}}
    assert matters("MODIFIED", kind, body, digest(kind, body)) is False
    assert matters("MODIFIED", kind, {**body, "metadata": {"uid": "c", "resourceVersion": "6"}}, digest(kind, body))


def test_deletions_count_except_parse_runs_removed_by_the_cronjob() -> None:
    assert matters("DELETED", "ConfigMap", {"metadata": {"uid": "c"}}, None) is True
    assert matters("DELETED", "Job", _job("Complete"), None) is True  # a db-migrate Job deleted by hand
    assert is_parse_run(_job(cronjob=True))
    assert matters("DELETED", "Job", _job("Complete", cronjob=True), None) is False


def test_the_initial_listing_and_unknown_children_trigger_only_finished_jobs() -> None:
    assert matters(None, "Job", _job("Complete"), None) is False  # listing: every stack gets a resume reconcile
    assert matters(None, "Deployment", _deployment(1, 1, 1), None) is False
    assert matters("ADDED", "Job", _job(cronjob=True), None) is False  # a parse run starting
    assert matters("MODIFIED", "Job", _job("Complete", cronjob=True), None) is True  # ...and finishing
    assert matters("ADDED", "Deployment", _deployment(1), None) is False


def test_a_secret_not_written_by_this_process_counts() -> None:
    """A complete roles Secret is never applied again: after a restart the operator has no digest for it, and a
    person's rotation must still roll the pods."""
    rotated = {"kind": "Secret", "metadata": {"uid": "s", "resourceVersion": "9"}}
    assert matters("MODIFIED", "Secret", rotated, None) is True
    assert matters(None, "Secret", rotated, None) is False  # the listing
    assert matters("MODIFIED", "Secret", rotated, digest("Secret", rotated)) is False  # its own write
