"""JSON decoding for the hot path: orjson (about three times faster than the standard library on buffer rows),
falling back to the standard library for what orjson refuses but PostgreSQL's jsonb may hold (integers beyond
64 bits), so a valid row can never fail a whole batch. Documents nested deeper than MAX_DEPTH are refused:
every later step (a digest, a reject's raw copy) may then recurse over them safely."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

MAX_DEPTH = 64


class TooDeep(ValueError):
    """A JSON document nested deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A jsonb column the parser cannot use; the row it is in becomes a reject with this reason."""

    reason: str

    def __str__(self) -> str:
        return f"<unreadable: {self.reason}>"


def _check_depth(value: Any) -> None:
    """Iterative (a recursive walk would hit the interpreter's own limit first); a flat object costs one
    isinstance test per value."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        children = container.values() if isinstance(container, dict) else container
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    raise TooDeep
                pending.append((child, depth + 1))


def _finite_float(text: str) -> float | str:
    """A number too large for a double (`1e400`, valid JSON and jsonb) is kept as its text: an infinite float
    could be written back neither as JSON nor as jsonb."""
    number = float(text)
    return number if math.isfinite(number) else text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """The decoded document; ValueError (TooDeep among them) when it is not JSON or nested too deeply."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth" in str(error):
            raise TooDeep from error
        try:
            value = json.loads(
                bytes(data) if isinstance(data, memoryview) else data,
                parse_float=_finite_float,
                parse_constant=_no_constant,
            )
        except RecursionError as deep:
            raise TooDeep from deep
    if isinstance(value, dict | list) and _may_be_deep(data):
        _check_depth(value)
    return value


def _may_be_deep(data: bytes | bytearray | memoryview | str) -> bool:
    """False when the text has fewer brackets than MAX_DEPTH, so cannot nest that deep: the walk is skipped for
    nearly every row (a count of two characters in C instead of a test per value in Python)."""
    if isinstance(data, memoryview):
        data = data.tobytes()
    if isinstance(data, str):
        return data.count("{") + data.count("[") >= MAX_DEPTH
    return data.count(b"{") + data.count(b"[") >= MAX_DEPTH


def loads_column(data: bytes | bytearray | memoryview | str) -> Any:
    """For the buffer's jsonb columns as psycopg reads them: never raises, or the whole batch would fail to be
    claimed; an unusable document is an Unreadable value instead."""
    try:
        return loads(data)
    except ValueError as error:
        return Unreadable(str(error))
