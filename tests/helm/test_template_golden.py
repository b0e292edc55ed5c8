"""`helm lint --strict` and `helm template` of every scenario in ci/, compared with the golden files.

UPDATE_GOLDEN=1 rewrites tests/helm/golden/ from the real helm binary; review the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.helm_chart import CHART, UPDATE_GOLDEN_ENV, Scenario, run_helm, scenarios, template

SCENARIOS = scenarios()


def test_the_four_scenarios_exist() -> None:
    assert {scenario.name for scenario in SCENARIOS} >= {"defaults", "namespaced", "with-stack", "external-database"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_lint_strict(helm: Path, scenario: Scenario) -> None:
    output = run_helm(helm, "lint", "--strict", str(CHART), "--values", str(scenario.values_file))
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_template_matches_golden(helm: Path, scenario: Scenario) -> None:
    rendered = template(helm, [scenario.values_file])
    if os.environ.get(UPDATE_GOLDEN_ENV) == "1":
        scenario.golden_file.parent.mkdir(parents=True, exist_ok=True)
        scenario.golden_file.write_text(rendered, encoding="utf-8")
    assert scenario.golden_file.is_file(), f"no golden file: run with {UPDATE_GOLDEN_ENV}=1"
    assert rendered == scenario.golden_file.read_text(encoding="utf-8"), (
        f"{scenario.golden_file.name} differs from helm template: if the change is intended, "
        f"rerun with {UPDATE_GOLDEN_ENV}=1 and review the diff"
    )
