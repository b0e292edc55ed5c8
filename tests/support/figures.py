"""Figures the tests measure (fault counts, API calls), printed when measured and again in the terminal summary,
one section per kind: a passing test's output is captured by pytest, so it would not reach CI logs otherwise."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES = pytest.StashKey[dict[str, list[str]]]()


def figure_reporter(config: pytest.Config, section: str) -> Callable[[str], None]:
    """`add(line)`: print the line now and again under `section` in the terminal summary."""
    lines = config.stash.setdefault(_FIGURES, {}).setdefault(section, [])

    def add(line: str) -> None:
        print(line)
        lines.append(line)

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for section, lines in config.stash.get(_FIGURES, {}).items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
