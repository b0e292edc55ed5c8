"""The chart tests' access to the k8s tier: its `helm_binary` and `kube_cluster` fixtures, or a skip that says
they are missing from this checkout (the chart's file-only tests still run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _tier_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"the k8s tier's {name} fixture is not available in this checkout")


@pytest.fixture(scope="session")
def helm(request: pytest.FixtureRequest) -> Path:
    """The pinned helm binary of the k8s tier."""
    return Path(_tier_fixture(request, "helm_binary"))


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Any:
    """The k8s tier's test API server (admin `kubeconfig`, `service_account_kubeconfig(namespace, name)`)."""
    return _tier_fixture(request, "kube_cluster")
