"""The real operator under the identity a `helm install` gives it: the release's ServiceAccount, with the Role
the release created, reconciles the stack the same release created; `helm upgrade` changes the stack and the
operator follows; `helm uninstall` leaves the CRD, the stack and what the operator built for it.

The operator runs in this process (the operator tests' harness, tests/support/operator.py) with a token of the
release's ServiceAccount, as its pod would: the test cluster has no kubelet to run the pod itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.helm_chart import CHART, crd_document, run_helm
from tests.support.helm_cluster import (
    api_client,
    delete_namespaces,
    ensure_namespaces,
    get_object,
    install_crd,
    list_objects,
)

operator_harness = pytest.importorskip("tests.support.operator", reason="the operator tests' harness is not here")

STACK_API = "analytics.georchestra.org/v1alpha1"
CRD_NAME = "analyticsstacks.analytics.georchestra.org"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def admin(cluster: Any) -> Iterator[Any]:
    client = api_client(Path(cluster.kubeconfig))
    install_crd(client, crd_document())
    yield client
    client.close()


def _values(tmp_path: Path, watched: str, schedule: str) -> Path:
    values = {
        "watchNamespaces": [watched],
        "stack": {
            "enabled": True,
            "name": "analytics",
            "namespace": watched,
            "spec": {"database": {"managed": {}}, "parser": {"schedule": schedule}},
        },
    }
    path = tmp_path / f"values-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def _owned_children(admin: Any, namespace: str, uid: str) -> set[str]:
    owned = set()
    for api_version, kind in [("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "StatefulSet"), ("batch/v1", "Job")]:
        for item in list_objects(admin, api_version, kind, namespace):
            owners = item["metadata"].get("ownerReferences") or []
            if any(owner["uid"] == uid and owner.get("controller") for owner in owners):
                owned.add(f"{kind}/{item['metadata']['name']}")
    return owned


def test_operator_runs_as_the_release_and_follows_upgrades(
    helm: Path, cluster: Any, admin: Any, tmp_path: Path
) -> None:
    release, operator_namespace, watched = _unique("rel"), _unique("operator"), _unique("stack")
    created = ensure_namespaces(admin, [operator_namespace, watched])
    kubeconfig = Path(cluster.kubeconfig)

    def helm_run(*arguments: str) -> str:
        return run_helm(helm, *arguments, "--namespace", operator_namespace, kubeconfig=kubeconfig)

    try:
        helm_run("install", release, str(CHART), "--values", str(_values(tmp_path, watched, "*/5 * * * *")))
        account = f"{release}-georchestra-analytics"
        identity = Path(cluster.service_account_kubeconfig(operator_namespace, account))

        def stack() -> dict[str, Any]:
            found = get_object(admin, STACK_API, "AnalyticsStack", "analytics", watched)
            assert found is not None
            return found

        def reconciled() -> dict[str, Any] | None:
            current = stack()
            status = current.get("status") or {}
            generation = current["metadata"]["generation"]
            return current if status.get("observedGeneration") == generation and status.get("conditions") else None

        with operator_harness.running_operator(identity, [watched], resync_seconds=2.0) as log:
            first = operator_harness.wait_for(reconciled, "the operator to reconcile the release's stack", 60, log)
            owned = _owned_children(admin, watched, first["metadata"]["uid"])
            assert any(child.startswith("StatefulSet/") for child in owned), owned

            helm_run("upgrade", release, str(CHART), "--values", str(_values(tmp_path, watched, "*/20 * * * *")))
            upgraded = operator_harness.wait_for(
                lambda: (
                    (found := reconciled())
                    and found["metadata"]["generation"] > first["metadata"]["generation"]
                    and found
                ),
                "the operator to reconcile the upgraded stack",
                60,
                log,
            )
            assert upgraded["spec"]["parser"]["schedule"] == "*/20 * * * *"
        assert "Forbidden" not in log.text() and "(HTTP 403)" not in log.text(), log.text()

        helm_run("uninstall", release)
        assert get_object(admin, "apps/v1", "Deployment", account, operator_namespace) is None
        assert get_object(admin, "apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME) is not None
        kept = stack()
        assert kept["metadata"]["uid"] == first["metadata"]["uid"]
        assert owned <= _owned_children(admin, watched, kept["metadata"]["uid"])
    finally:
        run_helm(
            helm, "uninstall", release, "--namespace", operator_namespace, "--ignore-not-found", kubeconfig=kubeconfig
        )
        delete_namespaces(admin, created)
