"""The stack file every Job reads (`-f /etc/georchestra-analytics/stack.yaml`): the spec, never a secret."""

from __future__ import annotations

from typing import Any

from georchestra_analytics.kube.manifests import to_yaml
from georchestra_analytics.kube.naming import STACK_CONFIG, metadata, stack_config_name
from georchestra_analytics.stack.resource import AnalyticsStack

STACK_CONFIG_DIR = "/etc/georchestra-analytics"
STACK_FILE_KEY = "stack.yaml"
STACK_FILE = f"{STACK_CONFIG_DIR}/{STACK_FILE_KEY}"
STACK_VOLUME = "stack"


def stack_file_text(stack: AnalyticsStack) -> str:
    """The stack as the commands read it: identity and spec with defaults filled in (no status)."""
    document = {
        "apiVersion": stack.api_version,
        "kind": stack.kind,
        "metadata": {"name": stack.name, "namespace": stack.namespace},
        "spec": stack.spec_document(),
    }
    return to_yaml(document)


def stack_configmap(stack: AnalyticsStack) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(stack, stack_config_name(stack), STACK_CONFIG),
        "data": {STACK_FILE_KEY: stack_file_text(stack)},
    }


def stack_volume(stack: AnalyticsStack) -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, mount) of the stack file."""
    return (
        {"name": STACK_VOLUME, "configMap": {"name": stack_config_name(stack)}},
        {"name": STACK_VOLUME, "mountPath": STACK_CONFIG_DIR, "readOnly": True},
    )
