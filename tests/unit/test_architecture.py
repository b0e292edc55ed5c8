"""The layout rules of docs/architecture.md, checked on every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_operator_folder_is_not_a_package() -> None:
    # `operator` is a stdlib module: an operator/__init__.py would shadow it for anything run from the repo root.
    assert not (REPO / "operator" / "__init__.py").exists()


def test_direction_of_imports_holds() -> None:
    """stack <- render <- kube, db, superset, parser <- controller <- cli (import-linter contract in pyproject)."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
