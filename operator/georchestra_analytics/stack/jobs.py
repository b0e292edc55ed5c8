"""Settings of the one-off Jobs: db-migrate and superset-sync."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from georchestra_analytics.stack.pods import PodSettings


class JobsSpec(PodSettings):
    """Pod settings and limits of the db-migrate and superset-sync Jobs (the parse CronJob has its own in
    `parser`)."""

    backoff_limit: Annotated[int, Field(ge=0, le=20)] = 4
    """Retries of a failed Job pod before the Job counts as failed."""
    active_deadline_seconds: Annotated[int, Field(ge=60, le=86400)] = 1800
    """Longest time a Job (and each parse run) may run before it is stopped."""
