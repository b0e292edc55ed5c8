"""What every handler shares: the API client, the timings, and one lock per stack (a Secret rotation and the
stack's own handlers may otherwise reconcile the same stack at the same moment)."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from kubernetes import client as k8s

from georchestra_analytics.controller.reconcile import ReconcileOptions
from georchestra_analytics.kube.apply import KubeApi

DEFAULT_RESYNC_SECONDS = 60.0


@dataclass
class ControllerContext:
    configuration: k8s.Configuration
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    """How often every stack's children are re-checked (drift, Job outcomes)."""
    options: ReconcileOptions = field(default_factory=ReconcileOptions)
    api: KubeApi = field(init=False)
    _locks: defaultdict[str, threading.Lock] = field(default_factory=lambda: defaultdict(threading.Lock))
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.api = KubeApi(k8s.ApiClient(self.configuration))

    def lock(self, namespace: str, name: str) -> threading.Lock:
        with self._guard:
            return self._locks[f"{namespace}/{name}"]
