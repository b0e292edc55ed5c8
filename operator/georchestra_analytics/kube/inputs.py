"""The rendered inputs of the builders, computed from the stack and the templates."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import cast

from georchestra_analytics.kube.children import ChildInputs
from georchestra_analytics.kube.fingerprint import templates_digest
from georchestra_analytics.stack.resource import AnalyticsStack

VECTOR_RENDERER_MODULE = "georchestra_analytics.render.vector"
MISSING_VECTOR_RENDERER = "# vector.yaml not rendered: this build has no georchestra_analytics.render.vector module.\n"


def render_vector_config(stack: AnalyticsStack) -> str:
    """vector.yaml for the stack, from the collector's renderer (looked up at run time: it is developed in
    parallel; without it the ConfigMap says so, and Vector's validate init container refuses to start)."""
    try:
        module = importlib.import_module(VECTOR_RENDERER_MODULE)
    except ModuleNotFoundError:
        return MISSING_VECTOR_RENDERER
    renderer = cast(Callable[[AnalyticsStack], str], module.render_vector_config)
    return renderer(stack)


def rendered_inputs(
    stack: AnalyticsStack,
    *,
    secret_checksums: Mapping[str, str] | None = None,
    database_password: str | None = None,
    role_passwords: Mapping[str, str] | None = None,
    superset_resync_round: int = 0,
) -> ChildInputs:
    return ChildInputs(
        vector_config=render_vector_config(stack),
        migration_templates_digest=templates_digest("timescale"),
        superset_bundle_digest=templates_digest("superset"),
        secret_checksums=dict(secret_checksums or {}),
        database_password=database_password,
        role_passwords=role_passwords,
        superset_resync_round=superset_resync_round,
    )
