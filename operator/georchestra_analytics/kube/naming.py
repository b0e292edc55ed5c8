"""Names, labels and owner references shared by every child of an AnalyticsStack."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from georchestra_analytics import __version__
from georchestra_analytics.stack.resource import API_VERSION, KIND, AnalyticsStack

APP_NAME = "georchestra-analytics"
MANAGED_BY = "georchestra-analytics-operator"
ANNOTATION_PREFIX = "analytics.georchestra.org"

# Components, as the app.kubernetes.io/component label and the name suffix of their children.
COLLECTOR = "collector"
DATABASE = "database"
MIGRATE = "migrate"
PARSER = "parser"
SUPERSET_SYNC = "superset-sync"
STACK_CONFIG = "config"


def digest(value: Any, length: int = 10) -> str:
    """A short, stable hash of any JSON-able value (or text), for names and checksum annotations."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def selector_labels(stack: AnalyticsStack, component: str) -> dict[str, str]:
    """Labels that select a component's pods: never changed after creation (selectors are immutable)."""
    return {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": stack.name,
        "app.kubernetes.io/component": component,
    }


def labels(stack: AnalyticsStack, component: str) -> dict[str, str]:
    """Labels of every child object."""
    return {
        **selector_labels(stack, component),
        "app.kubernetes.io/part-of": "georchestra",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": __version__,
    }


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
