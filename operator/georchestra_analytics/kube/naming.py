"""Names, labels and owner references shared by every child of an AnalyticsStack."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from georchestra_analytics import __version__
from georchestra_analytics.stack.resource import API_VERSION, KIND, AnalyticsStack

APP_NAME = "georchestra-analytics"
MANAGED_BY = "georchestra-analytics-operator"
PART_OF = "georchestra"  # the platform: the same on the CRD and on every child
ANNOTATION_PREFIX = "analytics.georchestra.org"

# Components, as the app.kubernetes.io/component label and the name suffix of their children.
COLLECTOR = "collector"
DATABASE = "database"
MIGRATE = "migrate"
PARSER = "parser"
SUPERSET_SYNC = "superset-sync"
STACK_CONFIG = "config"
CRD = "crd"

# The label keys (app.kubernetes.io/...), written only here.
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"

OPERATOR_LABELS = {MANAGED_BY_LABEL: MANAGED_BY, NAME_LABEL: APP_NAME}
"""What every object this operator manages carries, whatever its stack: the filter of its watches."""


def digest(value: Any, length: int = 10) -> str:
    """A short, stable hash of any JSON-able value (or text), for names and checksum annotations."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def selector_labels(stack: AnalyticsStack, component: str) -> dict[str, str]:
    """Labels that select a component's pods: never changed after creation (selectors are immutable)."""
    return {NAME_LABEL: APP_NAME, INSTANCE_LABEL: stack.name, COMPONENT_LABEL: component}


def owned_labels(stack: AnalyticsStack, component: str | None = None) -> dict[str, str]:
    """The label selector of a stack's children (of one component, or all): what pruning lists."""
    owned = {NAME_LABEL: APP_NAME, INSTANCE_LABEL: stack.name, MANAGED_BY_LABEL: MANAGED_BY}
    if component is not None:
        owned[COMPONENT_LABEL] = component
    return owned


def labels(stack: AnalyticsStack, component: str) -> dict[str, str]:
    """Labels of every child object."""
    return {
        **selector_labels(stack, component),
        PART_OF_LABEL: PART_OF,
        MANAGED_BY_LABEL: MANAGED_BY,
        VERSION_LABEL: __version__,
    }


def crd_labels() -> dict[str, str]:
    """Labels of the CustomResourceDefinition (cluster-wide: no instance)."""
    return {NAME_LABEL: APP_NAME, COMPONENT_LABEL: CRD, PART_OF_LABEL: PART_OF}


def owner_references(stack: AnalyticsStack) -> list[dict[str, Any]]:
    """The stack as controlling owner, so children go with it. Empty when the stack has no uid yet (a file
    rendered with `georchestra-analytics render`): the operator adds it when it applies the children."""
    if not stack.metadata.uid:
        return []
    return [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": stack.name,
            "uid": stack.metadata.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def metadata(stack: AnalyticsStack, name: str, component: str, **extra: Any) -> dict[str, Any]:
    """Metadata of a child: name, namespace, labels, owner."""
    meta: dict[str, Any] = {"name": name, "namespace": stack.namespace, "labels": labels(stack, component)}
    owners = owner_references(stack)
    if owners:
        meta["ownerReferences"] = owners
    meta.update(extra)
    return meta


def child_name(stack: AnalyticsStack, suffix: str) -> str:
    return f"{stack.name}-{suffix}"


def stack_config_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "stack")


def collector_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "collector")


def collector_config_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "collector-config")


def database_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "db")


def database_secret_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "db-credentials")


def parse_cronjob_name(stack: AnalyticsStack) -> str:
    return child_name(stack, "parse")
