"""ANALYTICS_REQUIRE: a missing component skips on a laptop, fails where the run was told it has it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.support.components import REQUIRE_ENV, is_required, required_components, skip_or_fail

REPO = Path(__file__).resolve().parents[3]


def test_unset_requires_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    assert required_components() == frozenset()
    with pytest.raises(pytest.skip.Exception, match="no widget here"):
        skip_or_fail("vector", "no widget here")


def test_a_required_component_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, " Vector , timescaledb")
    assert is_required("vector") and is_required("timescaledb")
    with pytest.raises(pytest.fail.Exception, match=r"ANALYTICS_REQUIRE requires vector, but it is missing: gone"):
        skip_or_fail("vector", "gone")


def test_all_requires_every_component(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "all")
    assert is_required("timescaledb")
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail("timescaledb", "not installed")


def test_an_unknown_component_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "timescale")  # a typo must not silently require nothing
    with pytest.raises(pytest.UsageError, match=r"unknown components \['timescale'\]"):
        required_components()


def _run_inner_session(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import pytest

            def test_passes():
                assert 1 + 1 == 2

            def test_skips():
                pytest.skip("chromium is not installed")

            @pytest.mark.xfail(reason="known", strict=True)
            def test_expected_failure():
                assert False
            """
        )
    )
    environment = {key: value for key, value in os.environ.items() if key != REQUIRE_ENV}
    if require is not None:
        environment[REQUIRE_ENV] = require
    environment["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.components",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


def test_with_all_any_skip_fails_the_run(tmp_path: Path) -> None:
    relaxed = _run_inner_session(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 passed, 1 skipped, 1 xfailed" in relaxed.stdout
    strict = _run_inner_session(tmp_path, "all")
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 passed, 1 xfailed" in strict.stdout
    assert "must skip nothing; Skipped: chromium is not installed" in strict.stdout
