"""What every handler shares: the API client, the timings, one lock per stack (a Secret rotation and the
stack's own handlers may otherwise reconcile the same stack at the same moment), the resync schedule and what
the operator remembers of each stack's children."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from kubernetes import client as k8s

from georchestra_analytics.controller.memory import ReconcileMemory
from georchestra_analytics.controller.reconcile import ReconcileOptions
from georchestra_analytics.controller.resync import ResyncSchedule
from georchestra_analytics.kube.apply import KubeApi

# Children are watched, so drift and Job outcomes arrive as events; the resync is the safety net (a missed
# event, the Superset resync round, a user's Secret in cluster-wide mode), at about 2 API calls per minute per
# stack (bench/bench_operator.py).
DEFAULT_RESYNC_SECONDS = 600.0


@dataclass
class ControllerContext:
    configuration: k8s.Configuration
    resync_seconds: float = DEFAULT_RESYNC_SECONDS
    """How often every stack is reconciled even without an event."""
    options: ReconcileOptions = field(default_factory=ReconcileOptions)
    api: KubeApi = field(init=False)
    memory: ReconcileMemory = field(default_factory=ReconcileMemory)
    schedule: ResyncSchedule = field(init=False)
    resync_task: asyncio.Task[None] | None = None
    _locks: defaultdict[str, threading.RLock] = field(default_factory=lambda: defaultdict(threading.RLock))
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.api = KubeApi(k8s.ApiClient(self.configuration))
        self.schedule = ResyncSchedule(interval=self.resync_seconds)

    def lock(self, namespace: str, name: str) -> threading.RLock:
        with self._guard:
            return self._locks[f"{namespace}/{name}"]
