"""The PrometheusRule on the test API server: helm asks the real server which kinds it serves, so the rule is left
out until the Prometheus Operator's CRD is there; then `helm install` creates it, the API server accepting it
against that CRD's schema, with the same groups as the golden file."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from tests.support import alert_rules
from tests.support.helm_chart import CHART, documents, run_helm
from tests.support.helm_cluster import api_client, delete_namespaces, ensure_namespaces, get_object, install_crd
from tests.support.k8s_assets import AssetsError
from tests.support.prometheus_operator_crd import ensure_crd

RULE_API = "monitoring.coreos.com/v1"


@pytest.fixture(scope="module")
def rule_crd() -> dict[str, Any]:
    try:
        crd: dict[str, Any] = yaml.safe_load(ensure_crd().read_text(encoding="utf-8"))
    except AssetsError as error:
        pytest.fail(f"cannot get the PrometheusRule CRD: {error}", pytrace=False)
    return crd


@pytest.fixture
def release(cluster: Any, helm: Path) -> Iterator[tuple[str, str, Path]]:
    """(release name, namespace, admin kubeconfig); uninstalled and its namespace deleted after the test."""
    kubeconfig = Path(cluster.kubeconfig)
    admin = api_client(kubeconfig)
    name = f"rules-{uuid.uuid4().hex[:6]}"
    (namespace,) = ensure_namespaces(admin, [name])
    yield name, namespace, kubeconfig
    subprocess.run(
        [str(helm), "uninstall", name, "--namespace", namespace, "--ignore-not-found"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        check=False,
    )
    delete_namespaces(admin, [namespace])


def test_installed_only_once_the_cluster_serves_the_kind(
    helm: Path, release: tuple[str, str, Path], rule_crd: dict[str, Any]
) -> None:
    name, namespace, kubeconfig = release
    admin = api_client(kubeconfig)
    extensions = k8s.ApiextensionsV1Api(admin)
    crd_name = rule_crd["metadata"]["name"]
    served_before = any(crd.metadata.name == crd_name for crd in extensions.list_custom_resource_definition().items)
    install = ["install", name, str(CHART), "--namespace", namespace, "--set", "prometheusRule.enabled=true"]
    if not served_before:
        # The server, not the client, says which kinds exist.
        dry_run = run_helm(helm, *install, "--dry-run=server", kubeconfig=kubeconfig)
        kinds = {document.get("kind") for document in documents(dry_run.split("\nNOTES:", 1)[0])}
        assert "Deployment" in kinds and "PrometheusRule" not in kinds
    install_crd(admin, rule_crd)
    try:
        run_helm(helm, *install, "--wait=false", kubeconfig=kubeconfig)
        rule = get_object(admin, RULE_API, "PrometheusRule", f"{name}-georchestra-analytics", namespace)
        assert rule is not None, "helm did not create the PrometheusRule"
        assert rule["spec"] == alert_rules.golden_groups("defaults")
    finally:
        if not served_before:
            run_helm(helm, "uninstall", name, "--namespace", namespace, kubeconfig=kubeconfig)
            extensions.delete_custom_resource_definition(crd_name)
