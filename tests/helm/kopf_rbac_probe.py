"""A kopf operator that does, on each AnalyticsStack, every kind of call docs/operator-rbac.md grants the operator:
the stand-in run by test_install.py under the release's ServiceAccount while the real controller is not the
subject of the test. It is loaded by `kopf run`, not collected by pytest.

Each child is created with kopf's owner reference (controller, blockOwnerDeletion), a Job is deleted again (how
the controller re-runs a changed Job), pods are listed, an Event is posted and the status is patched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

GROUP, VERSION, PLURAL = "analytics.georchestra.org", "v1alpha1", "analyticsstacks"
CONTAINER = {"name": "probe", "image": "registry.invalid/probe:1", "command": ["true"]}
POD_TEMPLATE = {"metadata": {"labels": {"probe": "yes"}}, "spec": {"containers": [CONTAINER]}}


def _children(name: str) -> list[dict[str, Any]]:
    selector = {"matchLabels": {"probe": "yes"}}
    job_pod = {"spec": {"containers": [CONTAINER], "restartPolicy": "Never"}}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-credentials"}, "stringData": {"x": "y"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": f"{name}-otlp"},
            "spec": {"selector": {"probe": "yes"}, "ports": [{"name": "grpc", "port": 4317}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"{name}-collector"},
            "spec": {"selector": selector, "template": POD_TEMPLATE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": f"{name}-db"},
            "spec": {"selector": selector, "serviceName": f"{name}-otlp", "template": POD_TEMPLATE},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"{name}-migrate"},
            "spec": {"template": job_pod},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": f"{name}-parse"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": job_pod}}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{name}-collector"},
            "spec": {"podSelector": {"matchLabels": {"probe": "yes"}}, "policyTypes": ["Ingress"]},
        },
    ]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # What docs/operator-rbac.md asks of the operator in namespaced mode: exact namespaces, no CRD watch.
    settings.scanning.disabled = True


@kopf.on.create(GROUP, VERSION, PLURAL)
def reconcile(body: kopf.Body, name: str, namespace: str, patch: kopf.Patch, **_: Any) -> None:
    k8s_config.load_kube_config()  # KUBECONFIG: the release ServiceAccount's credentials
    with k8s.ApiClient() as api:
        # A discovery cache of this process's own (the default file is shared by every process on the machine).
        cache = Path(tempfile.gettempdir()) / f"georchestra-analytics-kopf-probe-discovery-{os.getpid()}.json"
        resources = DynamicClient(api, cache_file=str(cache)).resources
        try:
            for child in _children(name):
                kopf.adopt(child, owner=body)
                resource = resources.get(api_version=child["apiVersion"], kind=child["kind"])
                resource.create(body=child, namespace=namespace)
                resource.patch(
                    body={"metadata": {"labels": {"patched": "yes"}}},
                    name=child["metadata"]["name"],
                    namespace=namespace,
                    content_type="application/merge-patch+json",
                )
            resources.get(api_version="batch/v1", kind="Job").delete(name=f"{name}-migrate", namespace=namespace)
            k8s.CoreV1Api(api).list_namespaced_pod(namespace)
        except ApiException as error:
            raise kopf.PermanentError(f"API refused: {error.status} {error.reason}: {error.body}") from error
    # An explicit Event (kopf 1.45 turns log lines into Events only with settings.posting.loggers).
    kopf.info(body, reason="Reconciled", message="probe reconciled every child kind")
    patch.status["observedGeneration"] = body.metadata["generation"]
    patch.status["phase"] = "Ready"
