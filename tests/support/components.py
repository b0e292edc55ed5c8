"""Which real components a run must have, and what a test does when one is missing.

A tier whose component is missing skips and says exactly what is missing: that is right on a developer's laptop.
CI has every component, so there a skip hides a broken harness. `ANALYTICS_REQUIRE` lists what the run must
have (`timescaledb`, `vector`) or `all`; a test that would skip for want of a required component fails instead,
and with `all` every skip fails the run, whatever its reason.

Loaded as a pytest plugin by tests/conftest.py (the hooks below).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import NoReturn

import pytest

REQUIRE_ENV = "ANALYTICS_REQUIRE"
EVERYTHING = "all"
KNOWN_COMPONENTS = frozenset({"timescaledb", "vector", EVERYTHING})


def required_components() -> frozenset[str]:
    """The components named in ANALYTICS_REQUIRE; unknown names are an error, not a silent no-op."""
    raw = os.environ.get(REQUIRE_ENV, "")
    names = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = names - KNOWN_COMPONENTS
    if unknown:
        raise pytest.UsageError(
            f"{REQUIRE_ENV} names unknown components {sorted(unknown)}; known: {sorted(KNOWN_COMPONENTS)}"
        )
    return names


def is_required(component: str) -> bool:
    names = required_components()
    return component in names or EVERYTHING in names


def skip_or_fail(component: str, why: str) -> NoReturn:
    """Skip with `why`, or fail when the run was told it has `component`."""
    if is_required(component):
        pytest.fail(f"{REQUIRE_ENV} requires {component}, but it is missing: {why}", pytrace=False)
    pytest.skip(why)


def pytest_configure(config: pytest.Config) -> None:
    required_components()  # an unknown component name stops the run before any test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and EVERYTHING in required_components():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_ENV}={EVERYTHING}: this run has every component and must skip nothing; {reason}"
    return report
