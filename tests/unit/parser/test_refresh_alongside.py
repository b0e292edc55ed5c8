"""Which hours the background refresher takes, from what the lanes report (no database: the window logic)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from georchestra_analytics.parser.refresh_alongside import SETTLE_MARGIN, RefreshAlongside, frontier_of

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _minutes(*offsets: int) -> list[datetime]:
    return [T0 + timedelta(minutes=offset) for offset in offsets]


def _refresher() -> RefreshAlongside:
    return RefreshAlongside("dbname=unused", "analytics")  # never entered: no thread, no connection


def test_the_frontier_ignores_the_oldest_one_percent() -> None:
    times = _minutes(*range(300, 400)) + _minutes(0)  # one straggler among 101 records
    assert frontier_of(times) == T0 + timedelta(minutes=300)
    assert frontier_of(_minutes(5)) == T0 + timedelta(minutes=5)
    assert frontier_of([]) is None


def test_nothing_to_refresh_before_a_whole_hour_is_behind_the_margin() -> None:
    refresher = _refresher()
    assert refresher._window() is None
    refresher.committed(_minutes(*range(0, 50)))
    assert refresher._window() is None  # the batch runs from 08:00: nothing is settled yet


def test_the_settled_hours_are_refreshed_once_and_the_rest_stays_pending() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 60)))
    refresher.committed(_minutes(*range(200, 260)))  # this lane is now at 11:20
    window = refresher._window()
    assert window is not None
    start, end = window
    assert end == T0 + timedelta(hours=3)  # 11:00: the hour of 11:20 less the margin, floored
    assert start <= T0  # the first record's hour is wholly inside
    assert refresher._window() is None  # done until a lane moves on

    refresher.committed(_minutes(*range(363, 370)))  # 14:03: within the margin of 14:00
    assert refresher._window() == (end - timedelta(hours=2), T0 + timedelta(hours=5))
    refresher.committed(_minutes(*range(360 + SETTLE_MARGIN.seconds // 60, 370)))
    assert refresher._window() == (T0 + timedelta(hours=3), T0 + timedelta(hours=6))


def test_a_late_record_reopens_its_hour() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 240)))
    refresher.committed(_minutes(*range(240, 300)))
    first = refresher._window()
    assert first is not None
    assert first[1] <= T0 + timedelta(hours=4)
    refresher.committed(_minutes(*range(300, 500), 10))  # a straggler for 08:10 among 13:00-16:19
    window = refresher._window()
    assert window is not None
    assert window[0] <= T0 + timedelta(minutes=10) < window[1]


def test_the_slowest_lane_holds_the_settled_edge() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 60)))
    other = threading.Thread(target=refresher.committed, args=(_minutes(*range(600, 660)),))
    other.start()
    other.join()
    assert refresher._window() is None  # this lane's records still run from 08:00


def test_a_straggler_from_long_ago_does_not_stretch_the_window_over_the_years() -> None:
    refresher = _refresher()
    refresher.committed([*_minutes(*range(600, 700)), T0 - timedelta(days=400)])
    window = refresher._window()
    assert window is not None
    assert window[1] - window[0] <= timedelta(days=7)


def test_hours_a_refused_refresh_left_come_back_in_the_next_window() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 60)))
    refresher.committed(_minutes(*range(200, 260)))
    window = refresher._window()
    assert window is not None
    # What _refresh does when TimescaleDB refuses a refresh a policy is running, or another worker refreshes.
    refresher._reopen(window[0] + timedelta(hours=2))
    assert refresher._window() == window


def test_a_lane_that_is_done_no_longer_holds_the_edge_back() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 60)))  # this lane stops at 08:00
    refresher.lane_finished()
    other = threading.Thread(target=refresher.committed, args=(_minutes(*range(600, 660)),))
    other.start()
    other.join()
    window = refresher._window()
    assert window is not None and window[1] == T0 + timedelta(hours=9)  # behind the other lane at 18:00


def test_when_every_lane_is_done_the_furthest_one_sets_the_edge() -> None:
    refresher = _refresher()
    refresher.committed(_minutes(*range(0, 60)))
    refresher.committed(_minutes(*range(180, 200)))  # 11:00
    refresher.lane_finished()
    assert refresher._window() == (T0 - timedelta(hours=2), T0 + timedelta(hours=2))  # behind 11:00
