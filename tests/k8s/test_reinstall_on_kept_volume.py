"""Reinstalling a managed stack on the volume its deleted predecessor kept (docs/uninstall.md): the stack's
Secrets go with it and its database claim stays; the old password, put back in a Secret of the generated
name before the stack is created again, is the one the operator keeps (the server on the volume still has
it), the operator takes that Secret over as its child, and the new StatefulSet finds the same claim.
The operator runs as the chart's ServiceAccount (tests/k8s/test_operator.py's stage)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.k8s.test_operator import (  # noqa: F401 - pytest injects the fixtures
    Stage,
    _example,
    _owned,
    admin,
    stage,
)

CLAIM = "data-analytics-db-0"
SECRET = "analytics-db-credentials"


def _delete_stack(stage: Stage) -> None:  # noqa: F811
    k8s.CustomObjectsApi(stage.admin.client).delete_namespaced_custom_object(
        "analytics.georchestra.org", "v1alpha1", stage.namespace, "analyticsstacks", "analytics"
    )


def test_a_stack_created_again_keeps_the_old_password_and_finds_the_claim(stage: Stage) -> None:  # noqa: F811
    if not stage.controllers:
        pytest.skip("garbage collection needs kube-controller-manager (ANALYTICS_K8S_CONTROLLER_MANAGER=0 is set)")
    stage.admin.apply(_example("minimal", stage.namespace))
    first = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "a first status")
    secret = stage.wait(lambda: stage.child("Secret", SECRET), "the generated credentials")
    password = base64.b64decode(secret["data"]["password"]).decode()
    claim = stage.wait(lambda: stage.child("PersistentVolumeClaim", CLAIM), "the database's claim")

    _delete_stack(stage)
    stage.wait(lambda: not _owned(stage, first), "the garbage collector to remove every child", timeout=60)
    assert stage.child("Secret", SECRET) is None  # the credentials went with the stack ...
    kept = stage.child("PersistentVolumeClaim", CLAIM)  # ... the volume did not
    assert kept is not None and kept["metadata"]["uid"] == claim["metadata"]["uid"]

    # The page's step 1: the old password back, under the generated Secret's name and keys.
    stage.admin.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": stage.namespace},
            "stringData": {"username": "analytics", "password": password},
        }
    )
    stage.admin.apply(_example("minimal", stage.namespace))
    second = stage.wait(lambda: (found := stage.stack("analytics")).get("status") and found, "the new stack's status")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]

    def taken_over() -> Any:
        found = stage.child("Secret", SECRET)
        owners = (found or {}).get("metadata", {}).get("ownerReferences") or []
        return found if any(owner["uid"] == second["metadata"]["uid"] for owner in owners) else None

    adopted = stage.wait(taken_over, "the operator to take the Secret over")
    assert base64.b64decode(adopted["data"]["password"]).decode() == password
    statefulset = stage.wait(lambda: stage.child("StatefulSet", "analytics-db"), "the new StatefulSet")
    assert statefulset["metadata"]["ownerReferences"][0]["uid"] == second["metadata"]["uid"]
    again = stage.child("PersistentVolumeClaim", CLAIM)
    assert again is not None and again["metadata"]["uid"] == claim["metadata"]["uid"]
