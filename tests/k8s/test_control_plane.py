"""The test control plane is a real Kubernetes API server: schemas, CEL rules, the status subresource, RBAC and
Pod Security are enforced by kube-apiserver itself, and the answers below are its own."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.support import k8s_assets
from tests.support.k8s import KUBECONFIG_ENV, KubeCluster

GROUP = "smoke.analytics.georchestra.org"
PLURAL = "widgets"
CEL_MESSAGE = "minReplicas must not exceed maxReplicas"
NO_CONTROLLERS = (
    "no kube-controller-manager in this session (ANALYTICS_K8S_CONTROLLER_MANAGER=0, or an ANALYTICS_K8S_ASSETS "
    "folder without it)"
)


def _widget_crd() -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "minReplicas": {"type": "integer"},
            "maxReplicas": {"type": "integer"},
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
                "message": CEL_MESSAGE,
            }
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": spec_schema,
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.fixture(scope="module")
def admin(kube_cluster: KubeCluster) -> Iterator[client.ApiClient]:
    with kube_cluster.api_client() as api:
        yield api


@pytest.fixture(scope="module")
def widgets(admin: client.ApiClient) -> Iterator[client.CustomObjectsApi]:
    extensions = client.ApiextensionsV1Api(admin)
    name = f"{PLURAL}.{GROUP}"
    body: Any = _widget_crd()  # the client takes a plain dict as readily as its model classes
    extensions.create_custom_resource_definition(body)

    def established() -> bool:
        status = extensions.read_custom_resource_definition(name).status
        conditions = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    _wait_for(established, f"CRD {name} Established")
    yield client.CustomObjectsApi(admin)
    extensions.delete_custom_resource_definition(name)


def _widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def _obj(answer: object) -> dict[str, Any]:
    """CustomObjectsApi answers with the object as a plain dict (typed `object` by the client)."""
    assert isinstance(answer, dict)
    return answer


def _refusal(error: ApiException) -> str:
    return str(json.loads(error.body or "{}").get("message", error.body))


def test_server_is_the_pinned_kubernetes(admin: client.ApiClient) -> None:
    version = client.VersionApi(admin).get_code()
    if os.environ.get(KUBECONFIG_ENV) or os.environ.get(k8s_assets.ASSETS_ENV):
        assert version.major == "1"  # someone else's server or binaries: any release
    else:
        # Kubernetes' own build stamps the version (helm reads it for kubeVersion checks); ours must too.
        assert version.git_version == k8s_assets.KUBERNETES_VERSION


def test_crd_becomes_established_and_serves_objects(widgets: client.CustomObjectsApi, kube_namespace: str) -> None:
    created = _obj(widgets.create_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, _widget("ok", size=3)))
    assert created["metadata"]["uid"]
    assert created["metadata"]["generation"] == 1
    listed = _obj(widgets.list_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL))
    assert [item["metadata"]["name"] for item in listed["items"]] == ["ok"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [({"size": "three"}, "spec.size"), ({"size": 11}, "spec.size"), ({}, "spec.size")],
    ids=["wrong-type", "above-maximum", "missing-required"],
)
def test_schema_violation_is_refused_by_the_api_server(
    widgets: client.CustomObjectsApi, kube_namespace: str, spec: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiException) as refused:
        widgets.create_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, _widget("bad", **spec))
    assert refused.value.status == 422
    assert field in _refusal(refused.value)


def test_cel_rule_is_enforced(widgets: client.CustomObjectsApi, kube_namespace: str) -> None:
    body = _widget("cel", size=1, minReplicas=5, maxReplicas=2)
    with pytest.raises(ApiException) as refused:
        widgets.create_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, body)
    assert refused.value.status == 422
    assert CEL_MESSAGE in _refusal(refused.value)
    # The same rule lets a consistent object through, so the refusal was the rule's doing.
    body["spec"]["maxReplicas"] = 5
    widgets.create_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, body)


def test_status_writes_do_not_bump_generation(widgets: client.CustomObjectsApi, kube_namespace: str) -> None:
    widgets.create_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, _widget("gen", size=2))
    after_status = _obj(
        widgets.patch_namespaced_custom_object_status(
            GROUP, "v1", kube_namespace, PLURAL, "gen", {"status": {"phase": "Ready", "observedGeneration": 1}}
        )
    )
    assert after_status["status"]["phase"] == "Ready"
    assert after_status["metadata"]["generation"] == 1
    # A spec change through the main resource does bump it: the counter is live, not stuck.
    after_spec = _obj(
        widgets.patch_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, "gen", {"spec": {"size": 4}})
    )
    assert after_spec["metadata"]["generation"] == 2
    # And a status sent through the main resource is ignored, as the status subresource promises.
    widgets.patch_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, "gen", {"status": {"phase": "Forged"}})
    stored = _obj(widgets.get_namespaced_custom_object(GROUP, "v1", kube_namespace, PLURAL, "gen"))
    assert stored["status"]["phase"] == "Ready"


def test_service_account_without_role_is_forbidden(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    with kube_cluster.api_client() as admin:
        client.CoreV1Api(admin).create_namespaced_config_map(kube_namespace, _config_map("visible"))
    kubeconfig = kube_cluster.service_account_kubeconfig(kube_namespace, "reader")
    with kube_cluster.api_client(kubeconfig) as as_reader:
        core = client.CoreV1Api(as_reader)
        with pytest.raises(ApiException) as refused:
            core.list_namespaced_config_map(kube_namespace)
        assert refused.value.status == 403
        assert f"system:serviceaccount:{kube_namespace}:reader" in _refusal(refused.value)

        # Granting the verb through RBAC lets the same token in: the 403 was authorization, not a bad token.
        with kube_cluster.api_client() as admin:
            rbac = client.RbacAuthorizationV1Api(admin)
            rbac.create_namespaced_role(
                kube_namespace,
                client.V1Role(
                    metadata=client.V1ObjectMeta(name="read-configmaps"),
                    rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["list"])],
                ),
            )
            rbac.create_namespaced_role_binding(
                kube_namespace,
                client.V1RoleBinding(
                    metadata=client.V1ObjectMeta(name="reader-reads-configmaps"),
                    role_ref=client.V1RoleRef(
                        api_group="rbac.authorization.k8s.io", kind="Role", name="read-configmaps"
                    ),
                    subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=kube_namespace)],
                ),
            )
        listed = _wait_for(lambda: _list_or_none(core, kube_namespace), "the RoleBinding taking effect", timeout=30)
        assert "visible" in [item.metadata.name for item in listed.items]
        with pytest.raises(ApiException) as still_refused:  # only the verb granted
            core.delete_namespaced_config_map("visible", kube_namespace)
        assert still_refused.value.status == 403


def _list_or_none(core: client.CoreV1Api, namespace: str) -> Any:
    try:
        return core.list_namespaced_config_map(namespace)
    except ApiException as error:
        if error.status == 403:
            return None
        raise


def _config_map(name: str, owner: client.V1ConfigMap | None = None) -> client.V1ConfigMap:
    references = None
    if owner is not None and owner.metadata is not None:
        references = [
            client.V1OwnerReference(
                api_version="v1", kind="ConfigMap", name=owner.metadata.name, uid=owner.metadata.uid
            )
        ]
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, owner_references=references))


def _pod(name: str, security_context: client.V1SecurityContext) -> client.V1Pod:
    container = client.V1Container(name="main", image="busybox:1.36", security_context=security_context)
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(containers=[container]))


RESTRICTED_CONTAINER = client.V1SecurityContext(
    allow_privilege_escalation=False,
    run_as_non_root=True,
    capabilities=client.V1Capabilities(drop=["ALL"]),
    seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
)


def test_pod_violating_restricted_level_is_refused(admin: client.ApiClient, kube_namespace: str) -> None:
    core = client.CoreV1Api(admin)
    core.patch_namespace(kube_namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(kube_namespace, _pod("privileged", client.V1SecurityContext(privileged=True)))
    assert refused.value.status == 403
    message = _refusal(refused.value)
    assert 'violates PodSecurity "restricted' in message
    assert "privileged" in message
    # A pod that meets the level is admitted (it stays Pending: there is no node).
    admitted = core.create_namespaced_pod(kube_namespace, _pod("compliant", RESTRICTED_CONTAINER))
    assert admitted.status is not None and admitted.status.phase == "Pending"


def test_garbage_collector_removes_dependents(
    kube_cluster: KubeCluster, admin: client.ApiClient, kube_namespace: str
) -> None:
    if not kube_cluster.controller_manager:
        pytest.skip(NO_CONTROLLERS)
    core = client.CoreV1Api(admin)
    owner = core.create_namespaced_config_map(kube_namespace, _config_map("owner"))
    core.create_namespaced_config_map(kube_namespace, _config_map("dependent", owner=owner))
    core.delete_namespaced_config_map("owner", kube_namespace)

    def dependent_gone() -> bool:
        try:
            core.read_namespaced_config_map("dependent", kube_namespace)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    _wait_for(dependent_gone, "the garbage collector deleting the dependent")


def test_job_controller_creates_pods(kube_cluster: KubeCluster, admin: client.ApiClient, kube_namespace: str) -> None:
    if not kube_cluster.controller_manager:
        pytest.skip(NO_CONTROLLERS)
    name = f"job-{uuid.uuid4().hex[:6]}"
    pod_spec = client.V1PodSpec(
        restart_policy="Never", containers=[client.V1Container(name="main", image="busybox:1.36", command=["true"])]
    )
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(spec=pod_spec)),
    )
    client.BatchV1Api(admin).create_namespaced_job(kube_namespace, job)
    core = client.CoreV1Api(admin)
    pods = _wait_for(
        lambda: core.list_namespaced_pod(kube_namespace, label_selector=f"job-name={name}").items,
        "the Job controller creating a pod",
    )
    assert pods[0].status.phase == "Pending"  # no scheduler, no kubelet: nothing runs it
