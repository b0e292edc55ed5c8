"""The e2e tier's report: counts the fault tests measured, printed at the end of the run (passing tests' output
is captured by pytest, so it would not reach CI logs otherwise)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_REPORT = pytest.StashKey[list[str]]()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`report(line)`: print now and again in the terminal summary."""
    lines = request.config.stash.setdefault(_REPORT, [])

    def add(line: str) -> None:
        print(line)
        lines.append(line)

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("collector fault counts")
        for line in lines:
            terminalreporter.write_line(line)
