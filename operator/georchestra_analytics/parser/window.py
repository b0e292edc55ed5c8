"""The time window a record must fall in (ParserSettings.max_age, max_future): outside it, a reject."""

from __future__ import annotations

from datetime import UTC, datetime

from georchestra_analytics.parser.settings import ParserSettings

OUTSIDE_WINDOW = "timestamp outside the accepted window"


def outside_window(ts: datetime, settings: ParserSettings, now: datetime | None = None) -> bool:
    if settings.max_age is None and settings.max_future is None:
        return False
    now = now or datetime.now(UTC)
    if settings.max_age is not None and ts < now - settings.max_age:
        return True
    return settings.max_future is not None and ts > now + settings.max_future
