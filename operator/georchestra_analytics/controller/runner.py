"""Running the operator: kopf's event loop over the registry, in the calling thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import kopf

from georchestra_analytics.controller.connection import load_configuration
from georchestra_analytics.controller.context import DEFAULT_RESYNC_SECONDS, ControllerContext
from georchestra_analytics.controller.handlers import build_registry, configure_settings
from georchestra_analytics.controller.reconcile import ReconcileOptions


@dataclass(frozen=True)
class OperatorOptions:
    namespaces: Sequence[str] = ()
    """Watched namespaces; empty watches the whole cluster."""
    kubeconfig: Path | None = None
    context: str | None = None
    liveness_endpoint: str | None = None
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    reconcile: ReconcileOptions = field(default_factory=ReconcileOptions)


def run_operator(
    options: OperatorOptions,
    *,
    stop_flag: threading.Event | None = None,
    ready_flag: threading.Event | None = None,
) -> None:
    """Run until stopped (a signal in the main thread, or `stop_flag`)."""
    configuration = load_configuration(options.kubeconfig, options.context)
    context = ControllerContext(configuration, options.resync_seconds, options.reconcile)
    settings = kopf.OperatorSettings()
    configure_settings(settings, namespaced=bool(options.namespaces))
    asyncio.run(
        kopf.operator(
            registry=build_registry(context),
            settings=settings,
            standalone=True,
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            liveness_endpoint=options.liveness_endpoint,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    )
