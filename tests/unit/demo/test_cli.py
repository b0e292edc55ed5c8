"""The demo command's arguments (the run itself is tested end to end in tests/e2e/test_demo.py)."""

from __future__ import annotations

from click.testing import CliRunner

from georchestra_analytics.cli import cli


def test_help_names_every_option() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    for option in ("--keep", "--html", "--no-html", "--json", "--seed", "--records"):
        assert option in result.output


def test_too_small_a_sample_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["demo", "--records", "5"])
    assert result.exit_code == 2
    assert "--records" in result.output
