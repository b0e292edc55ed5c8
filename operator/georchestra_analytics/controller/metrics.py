"""Prometheus metrics of the operator: reconciles, errors and their durations, by trigger."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

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
