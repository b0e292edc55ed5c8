"""Chart.yaml: the appVersion follows the package version; the Kubernetes range matches what the CRD needs."""

from __future__ import annotations

import yaml
from tests.support.helm_chart import CHART

import georchestra_analytics


def _chart() -> dict[str, object]:
    chart: dict[str, object] = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    return chart


def test_app_version_is_the_package_version() -> None:
    assert _chart()["appVersion"] == georchestra_analytics.__version__


def test_chart_declares_a_kubernetes_range_that_has_cel_validation_rules() -> None:
    # The CRD carries x-kubernetes-validations (CEL), GA in Kubernetes 1.29.
    assert _chart()["kubeVersion"] == ">=1.29.0-0"


def test_crd_is_shipped_in_crds_and_never_templated() -> None:
    """Helm installs crds/ first and never deletes it (docs/install-helm.md): no template may hold a CRD."""
    assert (CHART / "crds" / "analyticsstacks.yaml").is_file()
    for template in (CHART / "templates").iterdir():
        assert "CustomResourceDefinition" not in template.read_text(encoding="utf-8"), template.name
