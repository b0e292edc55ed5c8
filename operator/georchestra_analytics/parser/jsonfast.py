"""JSON decoding for the hot path: orjson (about three times faster than the standard library on buffer rows),
falling back to the standard library for what orjson refuses but PostgreSQL's jsonb may hold (integers beyond
64 bits), so a valid row can never fail a whole batch."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)
