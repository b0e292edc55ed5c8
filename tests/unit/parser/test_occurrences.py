"""Occurrence numbers of identical lines, with bounded memory."""

from __future__ import annotations

from georchestra_analytics.parser.occurrences import OccurrenceCounter


def test_copies_are_numbered_in_order() -> None:
    counter = OccurrenceCounter()
    assert [counter.next(line) for line in ["a", "b", "a", "a", "b"]] == [0, 0, 1, 2, 1]


def test_copies_within_a_generation_are_still_seen_after_it_turns() -> None:
    counter = OccurrenceCounter(generation_size=3)
    sequence = ["a", "b", "c", "d", "a", "e", "f", "g", "h", "i", "j", "k", "a"]
    numbers = [counter.next(line) for line in sequence]
    assert numbers[4] == 1  # "a" again, one generation later
    assert numbers[12] == 0  # two generations back: forgotten, so memory stays bounded
    assert len(counter._current) + len(counter._previous) <= 6
