"""The release tier: the files that publish a release (.github/workflows, tools/release-version, CHANGELOG.md, the
Dockerfile's version label) checked here, since GitHub Actions cannot run on this machine. actionlint and helm are
the real binaries, built from the Go module proxy and cached (tests/support/actionlint.py, k8s_assets.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from tests.release.files import REPO
from tests.support.actionlint import ACTIONLINT, ensure_actionlint
from tests.support.k8s_assets import AssetsError


@pytest.fixture(scope="session")
def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as handle:
        version: str = tomllib.load(handle)["project"]["version"]
    return version


@pytest.fixture(scope="session")
def actionlint() -> Path:
    try:
        return ensure_actionlint().paths[ACTIONLINT]
    except AssetsError as error:
        pytest.fail(f"cannot get actionlint: {error}", pytrace=False)
