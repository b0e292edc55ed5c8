"""Per-component pod settings: image, resources, scheduling, pull secrets, annotations.

Every component that runs pods (collector, parser, managed database, jobs) takes these same fields, flat in its
own section, as most operators do (`collector.resources`, `parser.nodeSelector`, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.k8s_names import Annotations, Labels, LabelValue, QualifiedName
from georchestra_analytics.stack.references import LocalObjectReference

QUANTITY_PATTERN = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[numkMGTPE]i?|Ki)?$"
IMAGE_PATTERN = r"^[^\s]+$"


def _quantity_text(value: object) -> object:
    # YAML gives `cpu: 1` as an int; Kubernetes accepts int-or-string, so does the model.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_text),
    Field(max_length=64, pattern=QUANTITY_PATTERN),
    # The one anyOf a structural schema allows: bare types; the string checks sit beside it (as controller-gen
    # writes quantities), and apply to strings only.
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "maxLength": 64,
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes resource quantity such as `500m`, `256Mi` or `2`."""

ResourceList = Annotated[
    dict[Literal["cpu", "memory", "ephemeral-storage"], Quantity],
    Field(max_length=3),
]

Image = Annotated[str, Field(min_length=1, max_length=512, pattern=IMAGE_PATTERN)]
"""A container image reference, `registry/name:tag` or `...@sha256:...`."""

Affinity = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
"""A Kubernetes Affinity object, passed to the pod unchanged."""


class ResourceRequirements(SpecModel):
    """Compute resources of the component's main container; unset values take the operator's defaults."""

    requests: ResourceList = Field(default_factory=dict)
    """Minimum resources reserved for the container (cpu, memory, ephemeral-storage)."""
    limits: ResourceList = Field(default_factory=dict)
    """Maximum resources the container may use (cpu, memory, ephemeral-storage)."""


class Toleration(SpecModel):
    """A Kubernetes toleration, passed to the pod unchanged."""

    key: QualifiedName | None = None
    """Taint key the toleration applies to; empty with operator Exists matches every taint."""
    operator: Literal["Exists", "Equal"] | None = None
    """Exists or Equal (the Kubernetes default)."""
    value: LabelValue | None = None
    """Taint value the toleration matches, with operator Equal."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches all effects."""
    toleration_seconds: Annotated[int, Field(ge=0)] | None = None
    """With effect NoExecute, how long the pod stays bound after the taint appears."""


class PodSettings(SpecModel):
    """Settings shared by every component that runs pods."""

    image: Image | None = None
    """Container image; empty uses the image this operator version was released with."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """When the kubelet pulls the image."""
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    """Requests and limits of the main container; missing entries take the operator's defaults."""
    node_selector: Labels = Field(default_factory=dict)
    """Node labels the pods must run on."""
    tolerations: Annotated[list[Toleration], Field(max_length=32)] = Field(default_factory=list)
    """Taints the pods tolerate."""
    affinity: Affinity | None = None
    """Kubernetes affinity rules for the pods, passed unchanged."""
    image_pull_secrets: Annotated[list[LocalObjectReference], Field(max_length=16)] = Field(default_factory=list)
    """Secrets holding registry credentials to pull the image."""
    pod_annotations: Annotations = Field(default_factory=dict)
    """Extra annotations on the pods (for example for a service mesh or a backup tool)."""
    pod_labels: Labels = Field(default_factory=dict)
    """Extra labels on the pods; the app.kubernetes.io labels set by the operator take precedence."""
