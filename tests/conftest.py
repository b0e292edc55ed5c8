"""Test tiers: each test gets the marker of the folder it lives in (tests/<tier>/...), so `pytest -m db` runs one
tier alone. Fixtures that start real components live in tests/support and are loaded here."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.postgres", "tests.support.k8s"]

TIERS = ("unit", "db", "timescale", "k8s", "helm", "vector", "superset", "ansible", "e2e")
TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            tier = Path(item.path).relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
