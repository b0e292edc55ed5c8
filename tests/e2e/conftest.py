"""The e2e tier's report: counts the fault tests measured, printed at the end of the run
(tests/support/figures.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.figures import figure_reporter


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`report(line)`: print now and again in the terminal summary, under "collector fault counts"."""
    return figure_reporter(request.config, "collector fault counts")
