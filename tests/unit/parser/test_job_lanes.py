"""How a worker's batch limit is shared among its connections."""

from __future__ import annotations

import pytest

from georchestra_analytics.parser.job import _lane_limits


@pytest.mark.parametrize(("max_batches", "connections", "limits"), [
    (0, 2, [0, 0]), (1, 2, [1]), (2, 2, [1, 1]), (5, 2, [3, 2]), (7, 1, [7]),
])  # fmt: skip
def test_lane_limits_add_up_to_the_worker_limit(max_batches: int, connections: int, limits: list[int]) -> None:
    assert _lane_limits(max_batches, connections) == limits
