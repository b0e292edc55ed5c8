"""One resync loop for every live stack (docs/architecture.md, control plane).

The loop walks kopf's index of live stacks: a deleted stack leaves the index when kopf sees it go, and with it
the loop, so nothing calls the API for it afterwards and no finalizer is needed (kopf guards its own timers and
daemons with one, which would make every deletion wait for the operator). Each stack is reconciled every resync
interval, sooner after a failure (the retry delay) or when a child or Secret event asked for it (after a short
debounce, so a burst of events is one reconcile).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from georchestra_analytics.controller.memory import StackKey

log = logging.getLogger(__name__)

RETRY_SECONDS = 15.0
DEBOUNCE_SECONDS = 0.5
TICK_SECONDS = 0.25
CONCURRENT_RECONCILES = 4


@dataclass
class ResyncSchedule:
    """When each live stack is next due. Pure bookkeeping over a monotonic clock; thread-safe."""

    interval: float
    retry: float = RETRY_SECONDS
    debounce: float = DEBOUNCE_SECONDS
    _due: dict[StackKey, float] = field(default_factory=dict)
    _asked: dict[StackKey, float] = field(default_factory=dict)  # when an event last asked for a reconcile
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def due(self, live: Iterable[StackKey], now: float) -> list[StackKey]:
        """The live stacks whose time has come (a stack seen for the first time is due one interval from now);
        stacks no longer live are forgotten."""
        keys = set(live)
        with self._guard:
            for key in [key for key in self._due if key not in keys]:
                del self._due[key]
                self._asked.pop(key, None)
            for key in keys - self._due.keys():
                self._due[key] = now + self.interval
            return sorted(key for key, at in self._due.items() if at <= now)

    def done(self, key: StackKey, now: float, *, ok: bool, started: float | None = None) -> None:
        """A reconcile that began at `started` has ended. An event that came while it ran may show a change it
        did not see (a Job finishing as it read the Jobs): that event's reconcile still runs."""
        with self._guard:
            at = now + (self.interval if ok else self.retry)
            asked = self._asked.pop(key, None)
            if asked is not None and started is not None and asked >= started:
                at = min(at, asked + self.debounce)
            self._due[key] = at

    def soon(self, key: StackKey, now: float) -> None:
        """A child or Secret event: reconcile after the debounce, unless already due sooner."""
        with self._guard:
            self._due[key] = min(self._due.get(key, now + self.debounce), now + self.debounce)
            self._asked[key] = now

    def snapshot(self) -> dict[StackKey, float]:
        with self._guard:
            return dict(self._due)


async def resync_loop(
    schedule: ResyncSchedule,
    live: Callable[[], Iterable[StackKey]],
    reconcile: Callable[[StackKey], bool],
    *,
    clock: Callable[[], float],
    tick: float = TICK_SECONDS,
    concurrency: int = CONCURRENT_RECONCILES,
) -> None:
    """Run until cancelled: every tick, reconcile (in threads, at most `concurrency` at once) the live stacks
    that are due. `live` lists the stacks now (kopf's index); `reconcile` returns whether it succeeded."""
    slots = asyncio.Semaphore(concurrency)
    running: set[StackKey] = set()

    async def one(key: StackKey) -> None:
        started = clock()
        try:
            async with slots:
                # The index is read again: the stack may have gone while waiting for a slot.
                try:
                    ok = True if key not in set(live()) else await asyncio.to_thread(reconcile, key)
                except Exception:  # a bug must not make the stack due again at every tick
                    log.exception("resync of %s/%s failed", *key)
                    ok = False
            schedule.done(key, clock(), ok=ok, started=started)
        finally:
            running.discard(key)

    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                due = schedule.due(live(), clock())
            except Exception:  # the loop must outlive any one bad tick, or resync stops until a restart
                log.exception("resync loop: cannot list the stacks due")
                due = []
            for key in due:
                if key not in running:
                    running.add(key)
                    task = asyncio.create_task(one(key), name=f"resync {key[0]}/{key[1]}")
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            await asyncio.sleep(tick)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
