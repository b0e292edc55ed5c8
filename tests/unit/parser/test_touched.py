"""The refresh spans of a run: nearby days together, far-apart days apart, never more than MAX_SPANS."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import pairwise

from georchestra_analytics.parser.touched import MAX_SPANS, TouchedDays


def _at(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def test_far_apart_days_are_refreshed_apart() -> None:
    touched = TouchedDays()
    touched.include([_at(1), _at(2026, 11, 27), _at(2026, 12, 3), _at(9999, 12, 31)])
    last = time(23, 59, 59, 999999)
    assert touched.spans() == [
        (datetime(1, 1, 1, tzinfo=UTC), datetime.combine(date(1, 1, 1), last, UTC)),
        (datetime(2026, 11, 27, tzinfo=UTC), datetime.combine(date(2026, 12, 3), last, UTC)),
        (datetime(9999, 12, 31, tzinfo=UTC), datetime.combine(date(9999, 12, 31), last, UTC)),
    ]


def test_many_scattered_days_merge_into_few_spans() -> None:
    touched = TouchedDays()
    touched.include(_at(1900 + 3 * n) for n in range(40))
    spans = touched.spans()
    assert len(spans) == MAX_SPANS
    assert spans[0][0] == datetime(1900, 1, 1, tzinfo=UTC) and spans[-1][1].date() == date(2017, 1, 1)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(spans))


def test_nothing_touched_is_no_span() -> None:
    assert TouchedDays().spans() == []
