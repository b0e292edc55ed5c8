"""The collector's children: Vector config, Deployment (or StatefulSet when its data directory must outlive the
pod: a disk buffer, or the file source's checkpoints), Service, NetworkPolicy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from georchestra_analytics.kube.database_access import database_env
from georchestra_analytics.kube.naming import (
    COLLECTOR,
    collector_config_name,
    collector_name,
    metadata,
    selector_labels,
)
from georchestra_analytics.kube.pods import (
    apply_pod_settings,
    checksum_annotations,
    container_security_context,
    pod_security_context,
    resources,
    tmp_volume,
)
from georchestra_analytics.render.vector import (
    ACCESS_LOG_FILES_MOUNT,
    API_PORT,
    DATA_DIR,
    METRICS_PORT,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
)
from georchestra_analytics.stack.images import VECTOR_IMAGE
from georchestra_analytics.stack.resource import AnalyticsStack

CONFIG_DIR = "/etc/vector"
CONFIG_KEY = "vector.yaml"
CONFIG_FILE = f"{CONFIG_DIR}/{CONFIG_KEY}"
# Ports and paths are the rendered config's own (render.vector): the pod must expose and mount what it names.
FILES_DIR = ACCESS_LOG_FILES_MOUNT
NONROOT_UID = 65532
# The volume is sized a quarter above the buffer's max_size: Vector's files overshoot it slightly.
DISK_HEADROOM = 1.25
# With a memory buffer the data directory holds only the file source's checkpoints: a few bytes per file.
CHECKPOINT_VOLUME_SIZE = "1Gi"


def persistent_data(stack: AnalyticsStack) -> bool:
    """Whether Vector's data directory must survive a pod restart. A disk buffer lives there; so do the file
    source's checkpoints, without which a restarted collector reads every file again from the start, and a
    rotated file under its new name is new lines (counted twice, tests/e2e/test_collector_text_sources.py)."""
    spec = stack.spec.collector
    return spec.buffer.type == "disk" or spec.files is not None


def collector_configmap(stack: AnalyticsStack, vector_config: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(stack, collector_config_name(stack), COLLECTOR),
        "data": {CONFIG_KEY: vector_config},
    }


def _ports(stack: AnalyticsStack) -> list[dict[str, Any]]:
    ports = [
        {"name": "otlp-grpc", "containerPort": OTLP_GRPC_PORT, "protocol": "TCP"},
        {"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
    ]
    syslog = stack.spec.collector.syslog
    if syslog is not None:
        ports.append({"name": "syslog", "containerPort": syslog.port, "protocol": syslog.mode.upper()})
    return ports


def _disk_volume_size(max_size: int) -> str:
    mebibytes = -(-int(max_size * DISK_HEADROOM) // (1 << 20))
    return f"{mebibytes}Mi"


def _pod_template(stack: AnalyticsStack, vector_config: str, secret_checksums: Mapping[str, str]) -> dict[str, Any]:
    spec = stack.spec.collector
    image = spec.image or VECTOR_IMAGE
    tmp, tmp_mount = tmp_volume()
    config_mount = {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}
    data_mount = {"name": "data", "mountPath": DATA_DIR}
    mounts = [config_mount, data_mount, tmp_mount]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": collector_config_name(stack)}},
        tmp,
    ]
    if not persistent_data(stack):
        volumes.append({"name": "data", "emptyDir": {"sizeLimit": "1Gi"}})
    if spec.files is not None:
        volumes.append(
            {"name": "access-logs", "persistentVolumeClaim": {"claimName": spec.files.claim_name, "readOnly": True}}
        )
        mounts.append({"name": "access-logs", "mountPath": FILES_DIR, "readOnly": True})

    vector = {
        "name": "vector",
        "image": image,
        "imagePullPolicy": spec.image_pull_policy,
        "args": ["--config", CONFIG_FILE],
        "env": database_env(stack, "collector"),
        "ports": [
            *_ports(stack),
            {"name": "api", "containerPort": API_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "api"}, "periodSeconds": 10},
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "api"},
            "initialDelaySeconds": 15,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
        "resources": resources(spec, "collector"),
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    # Refuse to start a pod on a config Vector cannot load. `--no-environment` skips health checks and port
    # binding, but Vector still interpolates ${VARS} while loading (an unset one is an error): same env as vector.
    validate = {
        "name": "validate-config",
        "image": image,
        "imagePullPolicy": spec.image_pull_policy,
        "args": ["validate", "--no-environment", CONFIG_FILE],
        "env": database_env(stack, "collector"),
        "resources": resources(None, "collector-validate"),
        "securityContext": container_security_context(),
        "volumeMounts": [config_mount, data_mount, tmp_mount],
    }
    pod_metadata: dict[str, Any] = {
        "labels": selector_labels(stack, COLLECTOR),
        "annotations": checksum_annotations(vector_config, secret_checksums),
    }
    pod_spec: dict[str, Any] = {
        "securityContext": pod_security_context(NONROOT_UID),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 60,
        "initContainers": [validate],
        "containers": [vector],
        "volumes": volumes,
    }
    apply_pod_settings(pod_spec, pod_metadata, spec)
    return {"metadata": pod_metadata, "spec": pod_spec}


def collector_workload(
    stack: AnalyticsStack, vector_config: str, secret_checksums: Mapping[str, str]
) -> dict[str, Any]:
    """A Deployment; a StatefulSet with one data volume per replica when the data must persist (persistent_data)."""
    spec = stack.spec.collector
    template = _pod_template(stack, vector_config, secret_checksums)
    workload_spec: dict[str, Any] = {
        "replicas": spec.replicas,
        "selector": {"matchLabels": selector_labels(stack, COLLECTOR)},
        "template": template,
    }
    if not persistent_data(stack):
        workload_spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        kind = "Deployment"
    else:
        kind = "StatefulSet"
        size = _disk_volume_size(spec.buffer.max_size) if spec.buffer.type == "disk" else CHECKPOINT_VOLUME_SIZE
        claim_spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        }
        if spec.buffer.storage_class_name:
            claim_spec["storageClassName"] = spec.buffer.storage_class_name
        workload_spec |= {
            "serviceName": collector_name(stack),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            # Buffered events on a volume of a removed replica would be lost with it: keep the volumes.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "labels": selector_labels(stack, COLLECTOR)},
                    "spec": claim_spec,
                }
            ],
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata(stack, collector_name(stack), COLLECTOR),
        "spec": workload_spec,
    }


def collector_service(stack: AnalyticsStack) -> dict[str, Any]:
    ports = [
        {"name": port["name"], "port": port["containerPort"], "targetPort": port["name"], "protocol": port["protocol"]}
        for port in _ports(stack)
    ]
    ports.append({"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"})
    for port in ports:
        if port["name"] == "otlp-grpc":
            port["appProtocol"] = "grpc"
        elif port["name"] == "otlp-http":
            port["appProtocol"] = "http"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(stack, collector_name(stack), COLLECTOR),
        "spec": {"type": "ClusterIP", "selector": selector_labels(stack, COLLECTOR), "ports": ports},
    }


def collector_network_policy(stack: AnalyticsStack) -> dict[str, Any] | None:
    """Only the allowed senders reach the log ports. None when the spec turns the policy off."""
    access = stack.spec.collector.network
    if not access.enabled:
        return None
    pod_selector: dict[str, Any] = {"matchLabels": dict(access.allowed_pod_labels)} if access.allowed_pod_labels else {}
    peers: list[dict[str, Any]]
    if access.allowed_namespaces:
        peers = [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "podSelector": pod_selector,
            }
            for namespace in access.allowed_namespaces
        ]
    else:
        peers = [{"podSelector": pod_selector}]
    ports = [{"port": port["containerPort"], "protocol": port["protocol"]} for port in _ports(stack)]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(stack, collector_name(stack), COLLECTOR),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(stack, COLLECTOR)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": peers, "ports": ports},
                # Metrics carry counts, no log content: any namespace's Prometheus may scrape them.
                {"from": [{"namespaceSelector": {}}], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]},
            ],
        },
    }


def otlp_endpoints(stack: AnalyticsStack) -> dict[str, str]:
    """status.endpoints: where applications send their logs."""
    host = f"{collector_name(stack)}.{stack.namespace}.svc"
    return {"otlpGrpc": f"http://{host}:{OTLP_GRPC_PORT}", "otlpHttp": f"http://{host}:{OTLP_HTTP_PORT}"}
