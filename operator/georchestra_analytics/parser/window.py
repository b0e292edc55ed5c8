"""The time window a record must fall in; outside it, a reject.

Always: from 1990 (before the first web server, so no access log) to 2200; a date outside cannot be a real
request and would only create partitions, chunks or aggregate buckets for nothing (TimescaleDB does not even
materialise year 9999). With a stack (ParserSettings.max_age, max_future): no older than the raw retention
(it would be deleted at once) and at most a day ahead of the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from georchestra_analytics.parser.settings import ParserSettings

OUTSIDE_WINDOW = "timestamp outside the accepted window"
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def outside_window(ts: datetime, settings: ParserSettings, now: datetime | None = None) -> bool:
    if ts < EARLIEST or ts >= LATEST:
        return True
    if settings.max_age is None and settings.max_future is None:
        return False
    now = now or datetime.now(UTC)
    if settings.max_age is not None and ts < now - settings.max_age:
        return True
    return settings.max_future is not None and ts > now + settings.max_future
