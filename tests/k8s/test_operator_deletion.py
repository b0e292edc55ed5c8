"""Deleting a stack: nothing waits for the operator (no finalizer, even while it is down), and once the stack is
gone the operator makes no further API call for it, while it keeps reconciling the stacks that remain.

Calls are counted in the audit log of an API server of this module's own (tests/support/audited_control_plane.py):
it records every request the operator's ServiceAccount makes, kopf's as well as the controller's, so a timer or
a watch left behind for the deleted stack would show there whatever made it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from prometheus_client import REGISTRY
from tests.support.audited_control_plane import (
    AuditedControlPlane,
    Call,
    audited_control_plane,
    now,
    service_account_user,
)
from tests.support.operator import (
    admin_with_crd,
    create_namespace,
    delete_namespace,
    grant_chart_rbac,
    running_operator,
    unique,
    wait_for,
)

from georchestra_analytics.kube.apply import KubeApi
from georchestra_analytics.stack import KIND

REPO = Path(__file__).resolve().parents[2]
RESYNC = 1.0  # seconds: a resync left running for the deleted stack would call the API every second
CHILD_KINDS = ("ConfigMap", "Secret", "Service", "NetworkPolicy", "Deployment", "StatefulSet", "CronJob", "Job")


@pytest.fixture(scope="module")
def plane() -> Iterator[AuditedControlPlane]:
    with audited_control_plane() as started:
        yield started


@pytest.fixture(scope="module")
def admin(plane: AuditedControlPlane) -> KubeApi:
    return admin_with_crd(plane.kubeconfig)


def _stack(namespace: str, name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "examples" / "minimal.yaml").read_text(encoding="utf-8"))
    document["metadata"].update(namespace=namespace, name=name)
    return document


def _children(admin: KubeApi, namespace: str, name: str) -> list[str]:
    return [
        f"{kind}/{item['metadata']['name']}"
        for kind in CHILD_KINDS
        for item in admin.list(kind, namespace, {"app.kubernetes.io/instance": name})
    ]


def _delete(admin: KubeApi, namespace: str, name: str) -> None:
    k8s.CustomObjectsApi(admin.client).delete_namespaced_custom_object(
        "analytics.georchestra.org", "v1alpha1", namespace, "analyticsstacks", name
    )


def _parse_failures_series(namespace: str, name: str) -> float | None:
    """The operator's per-stack parse metric (it runs in this process, on the default registry)."""
    labels = {"stack_namespace": namespace, "stack": name}
    return REGISTRY.get_sample_value("georchestra_analytics_parse_consecutive_failures", labels)


def _stack_reads(calls: list[Call], name: str) -> list[Call]:
    """The operator's reads of the stack itself: one at the start of every reconcile."""
    return [call for call in calls if call.verb == "get" and call.resource == "analyticsstacks" and call.name == name]


def test_after_a_stack_is_deleted_the_operator_makes_no_call_for_it(
    plane: AuditedControlPlane, admin: KubeApi, helm_binary: Path
) -> None:
    if not plane.with_controller_manager:
        pytest.skip("the garbage collector (kube-controller-manager) removes the children")
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
    user = service_account_user(operator_namespace, account)
    try:
        with running_operator(kubeconfig, [namespace], resync_seconds=RESYNC) as log:
            for name in ("alpha", "beta"):
                admin.apply(_stack(namespace, name))
            for name in ("alpha", "beta"):
                wait_for(lambda name=name: len(_children(admin, namespace, name)) >= 10, f"{name}'s children", 60, log)
                stack = admin.get(KIND, namespace, name)
                assert stack is not None and not stack["metadata"].get("finalizers"), stack["metadata"]
            # Both stacks are resynced (the loop runs, and it calls the API for each live stack).
            started = now()
            wait_for(lambda: len(_stack_reads(plane.calls(user=user, since=started), "alpha")) >= 2, "alpha resynced")

            _delete(admin, namespace, "alpha")
            # No finalizer: the API server removes the stack at once; the garbage collector takes its children.
            wait_for(lambda: admin.get(KIND, namespace, "alpha") is None, "alpha gone", 10, log)
            wait_for(lambda: not _children(admin, namespace, "alpha"), "alpha's children gone", 60, log)

            # A reconcile of alpha already running when the delete landed may still finish its writes; the
            # operator is settled once beta has been reconciled twice since alpha's last call.
            def settled() -> datetime | None:
                calls = plane.calls(user=user)
                last = max((call.at for call in calls if call.mentions("alpha")), default=None)
                after = [call for call in _stack_reads(calls, "beta") if last is None or call.at > last]
                return after[1].at if len(after) >= 2 else None

            quiet_from = wait_for(settled, "no call for alpha during two reconciles of beta", 30, log)
            # Five more resync rounds: beta is reconciled each time, alpha never again.
            wait_for(
                lambda: len(_stack_reads(plane.calls(user=user, since=quiet_from), "beta")) >= 5,
                "five more reconciles of beta",
                30,
                log,
            )
            window = plane.calls(user=user, since=quiet_from)
            # Its per-stack metrics went with it (the alerts would see an ever older backlog otherwise).
            assert _parse_failures_series(namespace, "alpha") is None
            assert _parse_failures_series(namespace, "beta") == 0
            assert [call for call in window if call.mentions("alpha")] == []
            assert _stack_reads(window, "beta"), "the resync loop stopped altogether"
            assert not any(call.status >= 400 and call.status != 404 for call in window), window
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def test_a_stack_is_deleted_at_once_while_the_operator_is_down(
    plane: AuditedControlPlane, admin: KubeApi, helm_binary: Path
) -> None:
    """No finalizer, ever: with the operator stopped, a delete completes without it."""
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace, restricted=True)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
    try:
        with running_operator(kubeconfig, [namespace], resync_seconds=RESYNC) as log:
            admin.apply(_stack(namespace, "analytics"))
            wait_for(lambda: len(_children(admin, namespace, "analytics")) >= 10, "the children", 60, log)
        # The operator is stopped now.
        _delete(admin, namespace, "analytics")
        wait_for(lambda: admin.get(KIND, namespace, "analytics") is None, "the stack gone without the operator", 10)
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)
