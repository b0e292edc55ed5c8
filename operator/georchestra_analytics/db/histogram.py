"""Response-time histogram: fixed, log-spaced bucket bounds shared by every aggregate.

Bucket i counts response times in [BOUNDS_MS[i-1], BOUNDS_MS[i]) milliseconds (bucket 0 starts at 0); the last
bucket counts everything from 60 s up. Counts add up when hours roll up into days and months, so percentiles
computed from summed buckets stay exact to within one bucket: no median of medians.
"""

from __future__ import annotations

import bisect

# Roughly x1.5 per step (a 1-1.5-2-3-5-7 scale), 0 ms to 60 s: 30 finite upper bounds + an overflow bucket.
UPPER_BOUNDS_MS: tuple[int, ...] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
    1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000, 45000, 60000,
)  # fmt: skip
BUCKET_COUNT = len(UPPER_BOUNDS_MS) + 1


def bucket_of(response_time_ms: float) -> int:
    """The index of the bucket a response time falls in."""
    return bisect.bisect_right(UPPER_BOUNDS_MS, response_time_ms)


def bucket_range(index: int) -> tuple[int, int | None]:
    """[lower, upper) of a bucket; upper is None for the overflow bucket."""
    lower = 0 if index == 0 else UPPER_BOUNDS_MS[index - 1]
    upper = UPPER_BOUNDS_MS[index] if index < len(UPPER_BOUNDS_MS) else None
    return lower, upper


def bucket_columns() -> list[tuple[str, int, int | None]]:
    """(column name, lower, upper) of every bucket, in order: rt_b00 ... rt_b29."""
    return [(f"rt_b{index:02d}", *bucket_range(index)) for index in range(BUCKET_COUNT)]
