"""The resync schedule and loop: every live stack each interval, sooner after a failure or an event, and a
stack that left kopf's index is never reconciled again. The loop runs on a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from georchestra_analytics.controller.memory import ReconcileMemory, StackKey
from georchestra_analytics.controller.resync import ResyncSchedule, resync_loop

A, B = ("ns", "a"), ("ns", "b")


def test_a_new_stack_is_due_one_interval_later_then_every_interval() -> None:
    schedule = ResyncSchedule(interval=60, retry=15, debounce=0.5)
    assert schedule.due([A], now=0) == []
    assert schedule.due([A], now=59.9) == []
    assert schedule.due([A], now=60) == [A]
    schedule.done(A, now=61, ok=True)
    assert schedule.due([A], now=120) == []
    assert schedule.due([A], now=121) == [A]


def test_a_failure_is_retried_sooner_and_an_event_sooner_still() -> None:
    schedule = ResyncSchedule(interval=60, retry=15, debounce=0.5)
    schedule.due([A, B], now=0)
    schedule.done(A, now=1, ok=False)
    assert schedule.due([A, B], now=16) == [A]
    schedule.soon(B, now=16)
    assert schedule.due([A, B], now=16.5) == [A, B]
    # An event never postpones a stack that is already due sooner.
    schedule.done(A, now=17, ok=False)  # due at 32
    schedule.soon(A, now=31.9)
    assert schedule.snapshot()[A] == 32


def test_an_event_during_a_reconcile_is_not_lost_when_it_ends() -> None:
    schedule = ResyncSchedule(interval=3600, retry=15, debounce=0.5)
    schedule.due([A], now=0)
    schedule.soon(A, now=10)  # a child changed: due at 10.5
    assert schedule.due([A], now=10.5) == [A]
    schedule.soon(A, now=11)  # the Job finished while that reconcile was reading the Jobs
    schedule.done(A, now=12, ok=True, started=10.5)
    assert schedule.due([A], now=12) == [A]  # the event's reconcile still runs, not an hour later
    schedule.done(A, now=13, ok=True, started=12)
    assert schedule.snapshot()[A] == 13 + 3600  # no event this time: the next resync


def test_a_stack_gone_from_the_index_is_forgotten() -> None:
    schedule = ResyncSchedule(interval=60)
    schedule.due([A, B], now=0)
    assert schedule.due([B], now=100) == [B]
    assert A not in schedule.snapshot()
    schedule.soon(A, now=100)  # a late event of a deleted stack's child...
    assert schedule.due([B], now=200) == [B]  # ...does not bring it back


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(
    steps: list[Callable[[], None]], live: list[StackKey], clock: _Clock, results: dict[StackKey, bool]
) -> list[StackKey]:
    """Runs the loop; between ticks, applies the next step (moving the clock, changing the index)."""
    calls: list[StackKey] = []
    schedule = ResyncSchedule(interval=60, retry=15)

    def reconcile(key: StackKey) -> bool:
        calls.append(key)
        return results.get(key, True)

    async def main() -> None:
        task = asyncio.create_task(resync_loop(schedule, lambda: list(live), reconcile, clock=clock, tick=0))
        for step in steps:
            step()
            for _ in range(20):  # let the loop and the reconcile threads run
                await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    return calls


def test_the_loop_reconciles_due_stacks_and_never_a_deleted_one() -> None:
    clock, live = _Clock(), [A, B]

    def at(moment: float) -> Callable[[], None]:
        def step() -> None:
            clock.now = moment

        return step

    def delete_a() -> None:
        live.remove(A)

    calls = _run([at(0), at(60), delete_a, at(120), at(180), at(240)], live, clock, {})
    assert sorted(calls[:2]) == [A, B]  # at 60, together
    assert calls[2:] == [B, B, B]  # at 120, 180, 240: A was deleted at 60


def test_the_loop_retries_a_failed_stack_after_the_retry_delay() -> None:
    clock, live = _Clock(), [A]

    def at(moment: float) -> Callable[[], None]:
        def step() -> None:
            clock.now = moment

        return step

    calls = _run([at(0), at(60), at(70), at(75)], live, clock, {A: False})
    assert calls == [A, A]  # at 60 (failed), then at 75 = 60 + 15


def test_memory_forgets_deleted_stacks_and_a_new_stack_under_an_old_name() -> None:
    memory = ReconcileMemory()
    child = {"kind": "ConfigMap", "metadata": {"uid": "c1", "resourceVersion": "3"}}
    memory.remember_children(A, "uid-1", [child])
    memory.remember_pruned(A, "uid-1", frozenset({"ConfigMap/x"}))
    assert memory.child(A, "c1") == ("3",)
    assert memory.pruned(A, "uid-1") == frozenset({"ConfigMap/x"})
    assert memory.pruned(A, "uid-2") is None  # the same name, another stack
    memory.remember_children(A, "uid-2", [])
    assert memory.child(A, "c1") is None
    assert memory.retain([B]) == [A]  # the caller drops its metrics
    assert len(memory) == 0


def test_a_reconcile_that_raises_is_retried_after_the_delay_and_a_failing_listing_does_not_stop_the_loop() -> None:
    clock, live = _Clock(), [A]
    calls: list[StackKey] = []
    listings = {"failures": 1}
    schedule = ResyncSchedule(interval=60, retry=15)

    def reconcile(key: StackKey) -> bool:
        calls.append(key)
        raise RuntimeError("a bug")

    def listing() -> list[StackKey]:
        if clock.now == 61 and listings["failures"]:
            listings["failures"] -= 1
            raise RuntimeError("the index cannot be read")
        return list(live)

    async def main() -> None:
        task = asyncio.create_task(resync_loop(schedule, listing, reconcile, clock=clock, tick=0))
        for moment in (0, 60, 61, 70, 75, 76):
            clock.now = moment
            for _ in range(20):
                await asyncio.sleep(0.01)
        assert not task.done()  # neither the raising reconcile nor the failed listing ended the loop
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert calls == [A, A]  # at 60 (raised), then at 75 = 60 + 15, not at every tick in between
