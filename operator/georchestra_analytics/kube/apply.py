"""A small, typed client over the Kubernetes REST API for the objects the operator manages.

Children are written with server-side apply under one field manager: a re-apply of an unchanged object
changes nothing (no new resourceVersion, no watch event), a field edited by hand is taken back, and fields
set by others (defaults, controllers, `kubectl scale` on fields we do not set) are left alone. Conflicts are
forced because the operator only ever sends fields it owns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

FIELD_MANAGER = "georchestra-analytics"
# Every call is bounded: (connect, read) seconds. A half-open connection would otherwise hold the stack's lock
# for good; a reconcile that times out is retried like any API error.
REQUEST_TIMEOUT = (10.0, 30.0)
# LISTs are read in pages: a namespace with thousands of Jobs must not come back as one huge answer, and the
# server may cut any answer short with a `continue` token.
LIST_PAGE_SIZE = 500

Object = dict[str, Any]


@dataclass(frozen=True)
class ResourceKind:
    """Where a kind lives in the REST API."""

    api_version: str
    kind: str
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{prefix}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            path += f"/{name}"
        if subresource is not None:
            path += f"/{subresource}"
        return path


KINDS: dict[str, ResourceKind] = {
    kind.kind: kind
    for kind in (
        ResourceKind("v1", "ConfigMap", "configmaps"),
        ResourceKind("v1", "Secret", "secrets"),
        ResourceKind("v1", "Service", "services"),
        ResourceKind("v1", "Pod", "pods"),
        ResourceKind("v1", "Event", "events"),
        ResourceKind("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        ResourceKind("apps/v1", "Deployment", "deployments"),
        ResourceKind("apps/v1", "StatefulSet", "statefulsets"),
        ResourceKind("batch/v1", "Job", "jobs"),
        ResourceKind("batch/v1", "CronJob", "cronjobs"),
        ResourceKind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        ResourceKind("analytics.georchestra.org/v1alpha1", "AnalyticsStack", "analyticsstacks"),
    )
}


class KubeError(RuntimeError):
    """The API server refused a request, or could not be reached in time; `status` is its HTTP status (0 when
    there was no answer), `reason` its machine reason (`Unreachable` when there was no answer)."""

    def __init__(self, action: str, status: int, reason: str, message: str) -> None:
        super().__init__(f"{action}: {message or reason} (HTTP {status})")
        self.status = status
        self.reason = reason


def _error(action: str, error: ApiException) -> KubeError:
    reason, message = str(error.reason or ""), ""
    try:
        body = json.loads(error.body or "{}")
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or "")
    except (TypeError, ValueError):
        pass
    return KubeError(action, int(error.status or 0), reason, message)


def kind_of(obj: Mapping[str, Any]) -> ResourceKind:
    try:
        return KINDS[str(obj["kind"])]
    except KeyError:
        raise ValueError(f"the operator does not manage objects of kind {obj.get('kind')!r}") from None


class KubeApi:
    """The operator's view of the API: get, list, apply, create, delete, patch status. Synchronous (kopf runs
    sync handlers in its thread pool)."""

    def __init__(self, client: ApiClient, timeout: tuple[float, float] = REQUEST_TIMEOUT) -> None:
        self.client = client
        self.timeout = timeout

    def _call(
        self,
        action: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> Object:
        method, url, headers, payload, _ = self.client.param_serialize(
            method,
            path,
            query_params=list(query or []),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.client.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=self.timeout
            )
            data = response.read()  # type: ignore[no-untyped-call]
        except ApiException as error:
            raise _error(action, error) from None
        except (HTTPError, OSError) as error:  # refused, reset, timed out, TLS: the same error path as a refusal
            raise KubeError(action, 0, "Unreachable", f"no answer from the API server: {error}") from None
        if not 200 <= response.status < 300:
            raise _error(action, ApiException(status=response.status, reason=response.reason, body=data))
        return cast(Object, json.loads(data) if data else {})

    def get(self, kind: str, namespace: str, name: str) -> Object | None:
        """The object, or None when it does not exist."""
        try:
            return self._call(f"get {kind} {namespace}/{name}", "GET", KINDS[kind].path(namespace, name))
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def list(
        self, kind: str, namespace: str, labels: Mapping[str, str], *, page_size: int = LIST_PAGE_SIZE
    ) -> list[Object]:
        """Every object of `kind` with these labels, following the server's `continue` tokens."""
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        items: list[Object] = []
        token = ""
        while True:
            query = [("labelSelector", selector), ("limit", str(page_size))]
            if token:
                query.append(("continue", token))
            page = self._call(f"list {kind} in {namespace}", "GET", KINDS[kind].path(namespace), query=query)
            items.extend(cast(list[Object], page.get("items") or []))
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items

    def apply(self, obj: Mapping[str, Any]) -> Object:
        """Server-side apply of a whole object (its apiVersion, kind, metadata.name and namespace set)."""
        resource = kind_of(obj)
        meta = obj["metadata"]
        return self._call(
            f"apply {resource.kind} {meta['namespace']}/{meta['name']}",
            "PATCH",
            resource.path(meta["namespace"], meta["name"]),
            body=dict(obj),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml",
        )

    def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> Object:
        resource = kind_of(obj)
        meta = obj["metadata"]
        query = [("fieldManager", FIELD_MANAGER)] + ([("dryRun", "All")] if dry_run else [])
        return self._call(
            f"create {resource.kind} {meta['namespace']}/{meta.get('name', '')}",
            "POST",
            resource.path(meta["namespace"]),
            body=dict(obj),
            query=query,
        )

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Delete with background propagation (a Job's pods go with it). False when already gone."""
        try:
            self._call(
                f"delete {kind} {namespace}/{name}",
                "DELETE",
                KINDS[kind].path(namespace, name),
                body={"propagationPolicy": "Background"},
            )
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return True

    def patch_status(self, kind: str, namespace: str, name: str, status: Mapping[str, Any]) -> Object:
        """Merge-patch the status subresource (lists such as conditions are replaced whole)."""
        return self._call(
            f"patch {kind} {namespace}/{name} status",
            "PATCH",
            KINDS[kind].path(namespace, name, "status"),
            body={"status": dict(status)},
            content_type="application/merge-patch+json",
        )
