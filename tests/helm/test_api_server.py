"""Every scenario's `helm template` output is accepted by a real API server (server-side apply, dry-run), with
the chart's CRD installed as the install procedure does it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.support.helm_chart import (
    RELEASE_NAMESPACE,
    Scenario,
    crd_document,
    documents,
    scenarios,
    template,
)
from tests.support.helm_cluster import api_client, delete_namespaces, ensure_namespaces, install_crd, server_side_apply


@pytest.fixture(scope="module")
def admin(cluster: Any) -> Iterator[Any]:
    client = api_client(Path(cluster.kubeconfig))
    install_crd(client, crd_document())
    created: list[str] = []
    yield client, created
    delete_namespaces(client, created)
    client.close()


def _namespaces(objects: list[dict[str, Any]]) -> set[str]:
    return {item["metadata"]["namespace"] for item in objects if "namespace" in item["metadata"]}


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda scenario: scenario.name)
def test_scenario_is_accepted_by_the_api_server(helm: Path, admin: Any, scenario: Scenario) -> None:
    client, created = admin
    objects = documents(template(helm, [scenario.values_file]))
    created += ensure_namespaces(client, _namespaces(objects) | {RELEASE_NAMESPACE})
    for item in objects:
        answer = server_side_apply(client, item, dry_run=True)
        assert answer["kind"] == item["kind"]
        assert answer["metadata"]["name"] == item["metadata"]["name"]
        if item["kind"] == "AnalyticsStack":
            # Proof the CRD's schema processed it: the API server filled in the defaults the chart left out.
            assert answer["spec"]["database"]["schema"] == item["spec"]["database"].get("schema", "analytics")
            assert "retention" in answer["spec"]


def test_operator_pod_is_admitted_under_the_restricted_pod_security_level(helm: Path, admin: Any) -> None:
    """The operator pod, as the Deployment would create it, in a namespace enforcing `restricted`."""
    client, created = admin
    namespace = f"restricted-{uuid.uuid4().hex[:6]}"
    objects = documents(template(helm, namespace=namespace))
    created += ensure_namespaces(client, [namespace])
    k8s.CoreV1Api(client).patch_namespace(
        namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    (account,) = [item for item in objects if item["kind"] == "ServiceAccount"]
    server_side_apply(client, account, dry_run=False)  # admission looks the pod's ServiceAccount up
    (deployment,) = [item for item in objects if item["kind"] == "Deployment"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**deployment["spec"]["template"]["metadata"], "name": "operator", "namespace": namespace},
        "spec": deployment["spec"]["template"]["spec"],
    }
    answer = k8s.CoreV1Api(client).create_namespaced_pod(namespace, pod, dry_run="All")
    assert answer.metadata.name == "operator"
