"""What the operator watches, as the API server sees it (its audit log, tests/support/audited_control_plane.py):
every child kind through the operator's label selector, applied by the server; Secrets, cluster-wide, only
through that selector too (never every Secret of the cluster), namespaced, those of the watched namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client as k8s
from tests.support.audited_control_plane import (
    AuditedControlPlane,
    Call,
    audited_control_plane,
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

from georchestra_analytics.controller.handlers import CHILD_RESOURCES, OWNED_SELECTOR
from georchestra_analytics.kube.apply import KubeApi

CHILD_PLURALS = {plural for _kind, _group_version, plural in CHILD_RESOURCES}


@pytest.fixture(scope="module")
def plane() -> Iterator[AuditedControlPlane]:
    with audited_control_plane(with_controller_manager=False) as started:
        yield started


@pytest.fixture(scope="module")
def admin(plane: AuditedControlPlane) -> KubeApi:
    return admin_with_crd(plane.kubeconfig)


def _selector(call: Call) -> str:
    return parse_qs(urlsplit(call.uri).query).get("labelSelector", [""])[0]


def _watches(plane: AuditedControlPlane, user: str) -> dict[str, list[Call]]:
    """The operator's WATCH requests and the LISTs kopf makes before each, by resource (no stack exists in these
    tests, so the controller itself lists nothing)."""
    found: dict[str, list[Call]] = {}
    for call in plane.calls(user=user):
        if call.verb in ("watch", "list"):
            found.setdefault(call.resource, []).append(call)
    return found


def _wait_for_watches(plane: AuditedControlPlane, user: str, resources: set[str]) -> dict[str, list[Call]]:
    return wait_for(
        lambda: (
            (found := _watches(plane, user)).keys() >= resources
            and all(any(call.verb == "watch" for call in found[resource]) for resource in resources)
            and found
        ),
        f"watches of {sorted(resources)}",
        60,
    )


def test_namespaced_children_by_label_and_the_namespace_secrets(
    plane: AuditedControlPlane, admin: KubeApi, helm_binary: Path
) -> None:
    namespace, operator_namespace = unique("stack"), unique("operator")
    create_namespace(admin, namespace)
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [namespace])
    kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
    user = service_account_user(operator_namespace, account)
    try:
        with running_operator(kubeconfig, [namespace]):
            watches = _wait_for_watches(plane, user, CHILD_PLURALS | {"secrets", "analyticsstacks"})
        assert all(any(call.verb == "watch" for call in watches[plural]) for plural in CHILD_PLURALS | {"secrets"})
        for plural in CHILD_PLURALS:
            for call in watches[plural]:
                assert call.namespace == namespace and _selector(call) == OWNED_SELECTOR, call
        for call in watches["secrets"]:
            assert call.namespace == namespace and _selector(call) == "", call
        assert all(call.namespace == namespace for calls in watches.values() for call in calls)
    finally:
        delete_namespace(admin, namespace)
        delete_namespace(admin, operator_namespace)


def test_cluster_wide_no_watch_reads_every_secret_of_the_cluster(
    plane: AuditedControlPlane, admin: KubeApi, helm_binary: Path
) -> None:
    operator_namespace, release = unique("operator"), unique("cw")
    create_namespace(admin, operator_namespace)
    account = grant_chart_rbac(admin, helm_binary, operator_namespace, [], release=release)
    kubeconfig = plane.cluster().service_account_kubeconfig(operator_namespace, account)
    user = service_account_user(operator_namespace, account)
    rbac = k8s.RbacAuthorizationV1Api(admin.client)
    try:
        with running_operator(kubeconfig, []):
            watches = _wait_for_watches(plane, user, CHILD_PLURALS | {"secrets", "analyticsstacks"})
        assert all(any(call.verb == "watch" for call in watches[plural]) for plural in CHILD_PLURALS | {"secrets"})
        for plural in [*CHILD_PLURALS, "secrets"]:
            for call in watches[plural]:
                assert call.namespace == "" and _selector(call) == OWNED_SELECTOR, call
        assert all(_selector(call) == "" for call in watches["analyticsstacks"])
    finally:
        rbac.delete_cluster_role_binding(account)
        rbac.delete_cluster_role(account)
        delete_namespace(admin, operator_namespace)
