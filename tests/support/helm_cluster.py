"""The chart against a real API server: server-side apply (dry-run or not), the CRD, access reviews.

Clients are built from a kubeconfig file (the k8s tier's admin one, or a ServiceAccount's), with the kubernetes
package's dynamic client, so any kind the chart renders is applied the way `kubectl apply --server-side` would.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

FIELD_MANAGER = "georchestra-analytics-chart-tests"


def api_client(kubeconfig: Path) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(config_file=str(kubeconfig))


def dynamic(client: k8s.ApiClient) -> DynamicClient:
    # A discovery cache of this process's own: the default file is shared by every process on the machine
    # talking to the same server, and concurrent writers corrupt it.
    cache = Path(tempfile.gettempdir()) / f"georchestra-analytics-chart-tests-discovery-{os.getpid()}.json"
    return DynamicClient(client, cache_file=str(cache))


def server_side_apply(client: k8s.ApiClient, body: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """Apply one object as `kubectl apply --server-side [--dry-run=server]` does; the API server's answer."""
    resource = dynamic(client).resources.get(api_version=body["apiVersion"], kind=body["kind"])
    metadata = body["metadata"]
    extra: dict[str, Any] = {"field_manager": FIELD_MANAGER}
    if dry_run:
        extra["dry_run"] = "All"
    answer = dynamic(client).server_side_apply(
        resource,
        body=body,
        name=metadata["name"],
        namespace=metadata.get("namespace") if resource.namespaced else None,
        force_conflicts=True,
        **extra,
    )
    result: dict[str, Any] = answer.to_dict()
    return result


def ensure_namespaces(client: k8s.ApiClient, names: Iterable[str]) -> list[str]:
    """Create the namespaces that do not exist yet; the ones created."""
    core = k8s.CoreV1Api(client)
    existing = {item.metadata.name for item in core.list_namespace().items}
    created = sorted(set(names) - existing)
    for name in created:
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return created


def delete_namespaces(client: k8s.ApiClient, names: Iterable[str]) -> None:
    """Issue the deletions (they complete when the namespace controller runs)."""
    core = k8s.CoreV1Api(client)
    for name in names:
        try:
            core.delete_namespace(name)
        except k8s.ApiException as error:
            if error.status != 404:
                raise


def install_crd(client: k8s.ApiClient, crd: dict[str, Any], timeout: float = 60.0) -> None:
    """Apply the CRD (as the upgrade procedure says: server-side) and wait until its API is served."""
    server_side_apply(client, crd, dry_run=False)
    extensions = k8s.ApiextensionsV1Api(client)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = extensions.read_custom_resource_definition(crd["metadata"]["name"]).status
        conditions = {condition.type: condition.status for condition in (status.conditions or [])}
        if conditions.get("Established") == "True":
            return
        time.sleep(0.2)
    raise TimeoutError(f"CRD {crd['metadata']['name']} not Established after {timeout}s")


def get_object(
    client: k8s.ApiClient, api_version: str, kind: str, name: str, namespace: str | None = None
) -> dict[str, Any] | None:
    """The object as the API server has it, or None."""
    resource = dynamic(client).resources.get(api_version=api_version, kind=kind)
    try:
        found: dict[str, Any] = resource.get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None
    return found


def list_objects(client: k8s.ApiClient, api_version: str, kind: str, namespace: str | None = None) -> list[Any]:
    resource = dynamic(client).resources.get(api_version=api_version, kind=kind)
    items: list[Any] = resource.get(namespace=namespace).to_dict()["items"]
    return items


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def allowed(
    client: k8s.ApiClient,
    user: str,
    verb: str,
    resource: str,
    *,
    group: str = "",
    namespace: str | None = None,
) -> bool:
    """The API server's own answer (a SubjectAccessReview) to: may this user do this?"""
    name, _, subresource = resource.partition("/")
    review = k8s.V1SubjectAccessReview(
        spec=k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}", "system:authenticated"],
            resource_attributes=k8s.V1ResourceAttributes(
                verb=verb, group=group, resource=name, subresource=subresource or None, namespace=namespace
            ),
        )
    )
    answer = k8s.AuthorizationV1Api(client).create_subject_access_review(review)
    return bool(answer.status.allowed)
