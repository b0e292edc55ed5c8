"""Reinstalling the chart over a stack an earlier release kept (docs/uninstall.md): `helm uninstall` leaves the
AnalyticsStack the release created (`stack.keepOnUninstall`), `helm install` with the same release name and
namespace takes that very object over (same uid: nothing deleted or re-created), and a release of another
name is refused rather than given another release's stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.helm.test_install import (  # noqa: F401 - pytest injects the fixtures
    STACK_API,
    Release,
    _stack_values,
    _unique,
    _values_file,
    admin,
    namespaces,
    release,
)
from tests.support.helm_chart import CHART, HelmError
from tests.support.helm_cluster import get_object


def test_a_kept_stack_is_taken_over_by_the_same_release(
    release: Release,  # noqa: F811
    admin: Any,  # noqa: F811
    namespaces: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    (watched,) = namespaces("kept")
    values = _values_file(tmp_path, {"watchNamespaces": [watched], "stack": _stack_values(watched, "*/5 * * * *")})

    release.helm_run("install", release.name, str(CHART), "--values", str(values))
    created = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert created is not None
    release.helm_run("uninstall", release.name)
    kept = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert kept is not None and kept["metadata"]["uid"] == created["metadata"]["uid"]

    # Another release name: Helm refuses to adopt an object that names another release.
    other = _unique("other")
    try:
        with pytest.raises(HelmError, match=r"(?i)ownership"):
            release.helm_run("install", other, str(CHART), "--values", str(values))
    finally:
        release.helm_run("uninstall", other, "--ignore-not-found")

    # The same release name and namespace: the kept stack becomes the release's again, unchanged.
    release.helm_run("install", release.name, str(CHART), "--values", str(values))
    again = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
    assert again is not None and again["metadata"]["uid"] == created["metadata"]["uid"]
    assert again["metadata"]["annotations"]["meta.helm.sh/release-name"] == release.name
