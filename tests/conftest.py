"""Test tiers: each test gets the marker of the folder it lives in (tests/<tier>/...), so `pytest -m db` runs one
tier alone. Fixtures that start real components live in tests/support and are loaded here.

A tier whose component is missing skips and says why; `ANALYTICS_REQUIRE` (tests/support/components.py) turns
those skips into failures, and with `all` any skip at all fails the run: CI has every component."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.components",
    "tests.support.figures",
    "tests.support.postgres",
    "tests.support.k8s",
    "tests.support.vector_binary",
]

TIERS = ("unit", "db", "timescale", "k8s", "helm", "vector", "superset", "ansible", "e2e", "release")
TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            tier = Path(item.path).relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
