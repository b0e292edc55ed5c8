"""Prometheus metrics of the operator: reconciles, errors and their durations, by trigger; parse runs, rejects and
the parse backlog, by stack."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "georchestra_analytics_reconciles_total",
    "Reconciles of AnalyticsStacks, by what triggered them.",
    ["trigger"],
)
RECONCILE_ERRORS = Counter(
    "georchestra_analytics_reconcile_errors_total",
    "Reconciles that failed (they are retried), by what triggered them.",
    ["trigger"],
)
RECONCILE_SECONDS = Histogram(
    "georchestra_analytics_reconcile_duration_seconds",
    "Time a reconcile takes, API calls included.",
    ["trigger"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CHILDREN_APPLIED = Counter(
    "georchestra_analytics_children_applied_total",
    "Children sent to the API server with server-side apply (unchanged ones are no-ops there).",
)
CHILDREN_DELETED = Counter(
    "georchestra_analytics_children_deleted_total",
    "Superseded children removed (old db-migrate and superset-sync Jobs, components no longer wanted).",
)


def serve(port: int, address: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
    """Serve /metrics in a daemon thread."""
    start_http_server(port, addr=address)


# Parse-run metrics behind the chart's PrometheusRule (docs/operations.md#alerts), one series per stack. They are
# read from status.lastParse, the run the operator reports, so they say what the status says. The labels are
# `stack_namespace` and `stack`: a scrape adds its own `namespace` (the operator's), which would clash.
STACK_LABELS = ("stack_namespace", "stack")
PARSE_RUNS = Counter(
    "georchestra_analytics_parse_runs_total",
    "Finished parse runs seen by this operator process, by outcome (succeeded or failed).",
    [*STACK_LABELS, "outcome"],
)
PARSE_CONSECUTIVE_FAILURES = Gauge(
    "georchestra_analytics_parse_consecutive_failures",
    "Parse runs in a row that failed, up to the latest one (a restarted operator counts from the latest run).",
    STACK_LABELS,
)
PARSE_CLAIMED_RECORDS = Counter(
    "georchestra_analytics_parse_claimed_records_total",
    "Buffer rows claimed by successful parse runs.",
    STACK_LABELS,
)
PARSE_REJECTED_RECORDS = Counter(
    "georchestra_analytics_parse_rejected_records_total",
    "Records rejected by successful parse runs (kept with their reason in rejected_logs).",
    STACK_LABELS,
)
PARSE_BACKLOG_AGE = Gauge(
    "georchestra_analytics_parse_backlog_age_seconds",
    "Age of the oldest buffered record when the latest successful parse run finished (0: the buffer was empty).",
    STACK_LABELS,
)
PARSE_LAST_SUCCESS = Gauge(
    "georchestra_analytics_parse_last_success_timestamp_seconds",
    "When the latest successful parse run finished, in seconds since the epoch.",
    STACK_LABELS,
)
OUTCOMES = ("succeeded", "failed")
SUSPENDED_PHASE = "Suspended"

_seen_lock = threading.Lock()
# The latest run counted per stack ((namespace, name) -> "job name@finish time"; "" before any run).
_seen_runs: dict[tuple[str, str], str] = {}


def _finished_at(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _count(value: Any) -> int:
    return max(0, int(value)) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def observe_stack(namespace: str, name: str, status: Mapping[str, Any]) -> None:
    """Update the parse-run metrics from a stack's status as a reconcile wrote it (`ReconcileResult.status`).

    Each finished run is counted once: a run is known by its Job name and finish time. The first status this
    process sees of a stack may hold a run a previous operator process counted already, so it is remembered but
    not counted (a run is missed rather than counted twice). A suspended stack has no backlog gauges: its
    backlog grows by choice."""
    key = (namespace, name)
    labels = {"stack_namespace": namespace, "stack": name}
    for outcome in OUTCOMES:
        PARSE_RUNS.labels(**labels, outcome=outcome).inc(0)  # the series exist from the first reconcile
    PARSE_CLAIMED_RECORDS.labels(**labels).inc(0)
    PARSE_REJECTED_RECORDS.labels(**labels).inc(0)
    run = status.get("lastParse")
    run = run if isinstance(run, Mapping) else {}
    finished = _finished_at(run.get("time"))
    identity = f"{run.get('jobName', '')}@{run.get('time', '')}" if finished is not None else ""
    succeeded = run.get("succeeded") is True
    with _seen_lock:
        first_sight = key not in _seen_runs
        new_run = bool(identity) and _seen_runs.get(key) != identity
        _seen_runs[key] = identity or _seen_runs.get(key, "")
    if new_run and not first_sight:
        PARSE_RUNS.labels(**labels, outcome="succeeded" if succeeded else "failed").inc()
        if succeeded:
            PARSE_CLAIMED_RECORDS.labels(**labels).inc(_count(run.get("claimed")))
            PARSE_REJECTED_RECORDS.labels(**labels).inc(_count(run.get("rejected")))
    failures = PARSE_CONSECUTIVE_FAILURES.labels(**labels)
    if new_run:
        if succeeded:
            failures.set(0)
        elif first_sight:
            failures.set(1)
        else:
            failures.inc()
    elif first_sight:
        failures.set(0)
    if status.get("phase") == SUSPENDED_PHASE:
        _remove(labels, PARSE_BACKLOG_AGE, PARSE_LAST_SUCCESS, PARSE_CONSECUTIVE_FAILURES)
    elif succeeded and finished is not None:
        PARSE_BACKLOG_AGE.labels(**labels).set(_count(run.get("oldestBufferedAgeSeconds")))
        PARSE_LAST_SUCCESS.labels(**labels).set(finished)


def forget_stack(namespace: str, name: str) -> None:
    """Drop a deleted stack's series, or its backlog would look ever older to the alerts."""
    labels = {"stack_namespace": namespace, "stack": name}
    with _seen_lock:
        _seen_runs.pop((namespace, name), None)
    _remove(labels, PARSE_BACKLOG_AGE, PARSE_LAST_SUCCESS, PARSE_CONSECUTIVE_FAILURES)
    _remove(labels, PARSE_CLAIMED_RECORDS, PARSE_REJECTED_RECORDS)
    for outcome in OUTCOMES:
        with contextlib.suppress(KeyError):
            PARSE_RUNS.remove(namespace, name, outcome)


def _remove(labels: Mapping[str, str], *families: Gauge | Counter) -> None:
    for family in families:
        with contextlib.suppress(KeyError):
            family.remove(*(labels[label] for label in STACK_LABELS))
