"""Test tiers: each test gets the marker of the folder it lives in (tests/<tier>/...), so `pytest -m db` runs one
tier alone. Fixtures that start real components live in tests/support and are loaded here.

A tier whose component is missing skips and says why; `ANALYTICS_REQUIRE` (tests/support/components.py) turns
those skips into failures, and with `all` any skip at all fails the run: CI has every component."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.components import EVERYTHING, REQUIRE_ENV, required_components

pytest_plugins = ["tests.support.postgres", "tests.support.k8s", "tests.support.vector_binary"]

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


def pytest_configure(config: pytest.Config) -> None:
    required_components()  # an unknown component name stops the run before any test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.skipped and not hasattr(report, "wasxfail") and EVERYTHING in required_components():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_ENV}={EVERYTHING}: this run has every component and must skip nothing; {reason}"
    return report
