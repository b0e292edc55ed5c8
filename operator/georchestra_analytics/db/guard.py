"""Configurations refused before anything is changed."""

from __future__ import annotations

from datetime import timedelta

from georchestra_analytics.db.settings import DatabaseSettings


class UnsafeConfiguration(ValueError):
    """A configuration that would silently lose data; the message says which setting and why."""


def _days(value: timedelta) -> str:
    return f"{value.total_seconds() / 86400:g} days"


def retention_problems(settings: DatabaseSettings) -> list[str]:
    """Each level must outlive the refresh window of the aggregate computed from it (timescaledb flavor):
    a refresh over a range whose source rows were dropped erases the aggregated buckets of that range."""
    if settings.flavor != "timescaledb":
        return []  # rollups are updated at write time and never recomputed from their source
    retention, refresh = settings.retention, settings.refresh
    pairs = (
        ("raw", retention.raw, "hourly", refresh.hourly.start_offset),
        ("hourly", retention.hourly, "daily", refresh.daily.start_offset),
        ("daily", retention.daily, "monthly", refresh.monthly.start_offset),
    )
    problems = []
    for source, kept, aggregate, window in pairs:
        if kept is not None and kept <= window:
            problems.append(
                f"{source} retention ({_days(kept)}) is not longer than the {aggregate} aggregate's refresh window "
                f"({_days(window)}): refreshes would erase {aggregate} buckets whose {source} data is gone; "
                f"keep {source} data longer than {_days(window)}"
            )
    return problems


def check_configuration(settings: DatabaseSettings) -> None:
    problems = retention_problems(settings)
    if problems:
        raise UnsafeConfiguration("refusing this configuration: " + "; ".join(problems))
