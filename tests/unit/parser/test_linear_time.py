"""Parsing time grows linearly with the input: each hostile shape is timed at a size and at four times it,
and the growth must stay well under the sixteen-fold of a quadratic algorithm (a ratio, not a deadline, so a
slow or busy machine does not fail it)."""

from __future__ import annotations

import timeit
from collections.abc import Callable

import pytest
from tests.support.accesslogs import gateway_row

from georchestra_analytics.parser.bounds import MAX_LINE_CHARS
from georchestra_analytics.parser.classify.classifier import query_parameters
from georchestra_analytics.parser.classify.layers import resolve_layers, split_layer_list
from georchestra_analytics.parser.pipeline import Pipeline
from georchestra_analytics.parser.sources.clf import parse_text_line

GROWTH = 4
# Linear work grows four-fold (less, with fixed costs); quadratic sixteen-fold. Eight leaves room for noise.
MAX_RATIO = 8.0


def _seconds(work: Callable[[], object]) -> float:
    """Best of several runs, each repeated until it lasts a few milliseconds (timer resolution, noise)."""
    number = 1
    while (elapsed := timeit.timeit(work, number=number)) < 0.005:
        number *= 4
    return min([elapsed, *timeit.repeat(work, number=number, repeat=4)]) / number


def assert_linear(build: Callable[[int], object], run: Callable[[object], object], size: int) -> None:
    small, large = build(size), build(size * GROWTH)
    ratios = []
    # A busy machine can slow one measurement down; a quadratic algorithm is slow every time.
    for _ in range(3):
        ratios.append(_seconds(lambda: run(large)) / _seconds(lambda: run(small)))
        if ratios[-1] < MAX_RATIO:
            break
    print(f" growth x{GROWTH} -> time x{min(ratios):.1f}", end="")
    assert min(ratios) < MAX_RATIO, f"{GROWTH}x the input took {min(ratios):.1f}x the time"


PREFIX = '192.0.2.1 - - [27/Nov/2026:10:00:00 +0000] "GET '
CLF_SHAPES: dict[str, Callable[[int], str]] = {
    "many ' ['": lambda n: "192.0.2.1 - " + " [" * (n // 2),
    "many ' [time] '": lambda n: "192.0.2.1 - u" + " [27/Nov/2026:10:00:00 +0000] " * (n // 30),
    "unclosed request": lambda n: PREFIX + "a" * n,
    "escaped quotes": lambda n: PREFIX + '/x HTTP/1.1" 200 1 "' + 'a\\"' * (n // 3),
    "quote and space": lambda n: PREFIX + '/x a" ' * (n // 6),
    "no spaces": lambda n: "a" * n,
    "trailing spaces": lambda n: PREFIX + '/x HTTP/1.1" 200 1 "-" "-" 5ms' + " " * n + "x",
}


@pytest.mark.parametrize("shape", sorted(CLF_SHAPES))
def test_a_text_line_parses_in_linear_time(shape: str) -> None:
    build = CLF_SHAPES[shape]
    size = (MAX_LINE_CHARS - 200) // GROWTH
    assert len(build(size * GROWTH)) <= MAX_LINE_CHARS  # below the line cap: the pattern itself is timed
    assert_linear(build, lambda line: parse_text_line(str(line), "id"), size)


def test_a_query_string_parses_in_linear_time() -> None:
    assert_linear(lambda n: "a=&" * n, lambda query: query_parameters(str(query)), 250_000)
    assert_linear(lambda n: "&".join(f"k{i}=v" for i in range(n)), lambda q: query_parameters(str(q)), 50_000)


def test_a_gateway_url_classifies_in_linear_time(pipeline: Pipeline) -> None:
    assert_linear(
        lambda n: gateway_row("/geoserver/ows?SERVICE=WMS&REQUEST=GetMap&LAYERS=a&" + "a=&" * n),
        lambda row: pipeline.parse_row(row),  # type: ignore[arg-type]
        MAX_LINE_CHARS // 3 // GROWTH - 100,
    )


@pytest.mark.parametrize("kind", ["distinct", "refused", "repeated", "parenthesised"])
def test_a_layer_list_resolves_in_linear_time(kind: str) -> None:
    names: dict[str, Callable[[int], list[str]]] = {
        "distinct": lambda n: [f"ws{i % 50}:layer{i}" for i in range(n)],
        "refused": lambda n: [f"ws:bad<{i}>" for i in range(n)],
        "repeated": lambda n: ["ws:a", "ws:b"] * (n // 2),
        "parenthesised": lambda n: split_layer_list("(ws:a)" * n),
    }
    assert_linear(names[kind], lambda layers: resolve_layers(layers, "ws"), 125_000)  # type: ignore[arg-type]
