"""Pod and container settings every child pod shares: security, default resources, per-component overrides.

Every pod passes the `restricted` Pod Security Standard: non-root, read-only root filesystem, no privilege
escalation, all capabilities dropped, seccomp RuntimeDefault. Writable paths are emptyDir volumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from georchestra_analytics.kube.naming import ANNOTATION_PREFIX, digest
from georchestra_analytics.stack.pods import PodSettings

CONFIG_CHECKSUM_ANNOTATION = f"{ANNOTATION_PREFIX}/config-checksum"
SECRETS_CHECKSUM_ANNOTATION = f"{ANNOTATION_PREFIX}/secrets-checksum"

TMP_VOLUME = "tmp"

Resources = dict[str, dict[str, str]]

# Defaults sized for a platform of a few million requests a month; spec resources override them key by key.
DEFAULT_RESOURCES: dict[str, Resources] = {
    "collector": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "collector-validate": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "database": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "parser": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "job": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
}


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(settings: PodSettings | None, default_key: str) -> Resources:
    """The defaults for `default_key`, overridden entry by entry by the spec's resources."""
    merged = {kind: dict(values) for kind, values in DEFAULT_RESOURCES[default_key].items()}
    if settings is not None:
        for kind, values in (("requests", settings.resources.requests), ("limits", settings.resources.limits)):
            merged[kind].update({str(name): quantity for name, quantity in values.items()})
    return merged


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """An emptyDir for /tmp (the root filesystem is read-only): (volume, mount)."""
    return (
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": TMP_VOLUME, "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, private to the pod
    )


def checksum_annotations(config: Any | None, secret_checksums: Mapping[str, str]) -> dict[str, str]:
    """Annotations that change when the pod's configuration or one of its Secrets changes, so pods roll.
    The Secrets' checksums are computed by the controller from their data (this module never sees it)."""
    annotations = {} if config is None else {CONFIG_CHECKSUM_ANNOTATION: digest(config, 16)}
    if secret_checksums:
        annotations[SECRETS_CHECKSUM_ANNOTATION] = digest(dict(sorted(secret_checksums.items())), 16)
    return annotations


def apply_pod_settings(pod_spec: dict[str, Any], pod_metadata: dict[str, Any], settings: PodSettings | None) -> None:
    """Scheduling, pull secrets, extra annotations and labels from the spec. Operator labels win."""
    if settings is None:
        return
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in settings.tolerations]
    if settings.affinity:
        pod_spec["affinity"] = dict(settings.affinity)
    if settings.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": ref.name} for ref in settings.image_pull_secrets]
    if settings.pod_annotations:
        pod_metadata["annotations"] = {**settings.pod_annotations, **pod_metadata.get("annotations", {})}
    if settings.pod_labels:
        pod_metadata["labels"] = {**settings.pod_labels, **pod_metadata.get("labels", {})}


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    """An environment variable read from a Secret: the value never appears in the object."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
