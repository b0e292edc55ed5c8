"""The AnalyticsStack CustomResourceDefinition, generated from the spec and status models."""

from __future__ import annotations

from typing import Any

from georchestra_analytics.kube.naming import crd_labels
from georchestra_analytics.kube.schema import JsonSchema, model_schema
from georchestra_analytics.stack.resource import (
    GROUP,
    KIND,
    MAX_NAME_LENGTH,
    MSG_NAME_LENGTH,
    MSG_NAME_PATTERN,
    NAME_PATTERN,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
)
from georchestra_analytics.stack.spec import AnalyticsStackSpec
from georchestra_analytics.stack.status import StackStatus

CRD_NAME = f"{PLURAL}.{GROUP}"

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "Ready",
        "type": "string",
        "description": "Whether every component is ready.",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Phase", "type": "string", "description": "One word summing up the stack.", "jsonPath": ".status.phase"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Schema",
        "type": "string",
        "priority": 1,
        "description": "Latest database migration applied.",
        "jsonPath": ".status.schemaVersion",
    },
    {
        "name": "Last Parse",
        "type": "date",
        "priority": 1,
        "description": "When the latest parse run finished.",
        "jsonPath": ".status.lastParse.time",
    },
]


def root_schema() -> JsonSchema:
    """The openAPIV3Schema of the AnalyticsStack version."""
    status = model_schema(StackStatus)
    return {
        "type": "object",
        "description": (
            "An AnalyticsStack deploys geOrchestra usage analytics: a Vector collector receiving OpenTelemetry "
            "access logs, a TimescaleDB or PostgreSQL database, a parse CronJob turning logs into classified "
            "access records and aggregates, and optionally Superset dashboards."
        ),
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "Versioned schema of this object: analytics.georchestra.org/v1alpha1.",
            },
            "kind": {"type": "string", "description": "Kind of the object: AnalyticsStack."},
            "metadata": {"type": "object"},
            "spec": model_schema(AnalyticsStackSpec),
            "status": status,
        },
        "x-kubernetes-validations": [
            {"rule": f"size(self.metadata.name) <= {MAX_NAME_LENGTH}", "message": MSG_NAME_LENGTH},
            {"rule": f"self.metadata.name.matches(r'{NAME_PATTERN}')", "message": MSG_NAME_PATTERN},
        ],
    }


def build_crd() -> dict[str, Any]:
    """The CRD object, ready to apply or to print."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": crd_labels(),
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["georchestra"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": root_schema()},
                }
            ],
        },
    }
