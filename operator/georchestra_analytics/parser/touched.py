"""The days a parse run wrote records on, as the few time spans the aggregates' refresh must cover.

One span from the oldest to the newest record would do, but one record of year 1 beside today's would then
make the refresh recompute every bucket in between: nearby days are grouped, far-apart ones refreshed apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

# Days closer than this share one refresh span (a span costs a refresh call per aggregate).
_GAP = timedelta(days=31)
# More spans than this are merged, the closest first: the calls stay few whatever the dates.
MAX_SPANS = 8


@dataclass
class TouchedDays:
    days: set[date] = field(default_factory=set)

    def include(self, times: Iterable[datetime]) -> None:
        self.days.update(moment.astimezone(UTC).date() for moment in times)

    def update(self, other: TouchedDays) -> None:
        self.days |= other.days

    def spans(self) -> list[tuple[datetime, datetime]]:
        """(first instant, last instant) spans in UTC covering every day, at most MAX_SPANS of them."""
        groups: list[list[date]] = []
        for day in sorted(self.days):
            if groups and day - groups[-1][1] <= _GAP:
                groups[-1][1] = day
            else:
                groups.append([day, day])
        while len(groups) > MAX_SPANS:
            closest = min(range(len(groups) - 1), key=lambda i: groups[i + 1][0] - groups[i][1])
            groups[closest : closest + 2] = [[groups[closest][0], groups[closest + 1][1]]]
        # The last instant of the last day, not the next midnight: 9999-12-31 has no next day.
        return [(datetime.combine(first, time(), UTC), datetime.combine(last, time.max, UTC)) for first, last in groups]
