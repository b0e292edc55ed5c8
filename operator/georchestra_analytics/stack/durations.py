"""Durations written as a whole number and a unit: `36h`, `90d`, `2w`, `3y`, or `forever`.

The same grammar is checked in Python (here) and in the CRD (CEL), so a stack refused by one is refused by the
other. Days are the common unit because retention and refresh windows are compared in days; hours exist for
short windows (`6h`) and are compared as fractions of a day.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

FOREVER = "forever"
FINITE_DURATION_PATTERN = r"^[1-9][0-9]{0,5}[hdwy]$"
DURATION_PATTERN = r"^(forever|[1-9][0-9]{0,5}[hdwy])$"
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7, "y": 24 * 365}
_DURATION_RE = re.compile(DURATION_PATTERN)


def duration_hours(value: str) -> int | None:
    """Hours in a duration, None for `forever`. Raises ValueError on anything else."""
    if not _DURATION_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a duration: write a number and a unit h, d, w or y (e.g. 90d), or forever")
    if value == FOREVER:
        return None
    return int(value[:-1]) * _UNIT_HOURS[value[-1]]


def postgres_interval(value: str) -> str | None:
    """The duration as a PostgreSQL interval literal (`90 days`), None for `forever`."""
    hours = duration_hours(value)
    if hours is None:
        return None
    unit = value[-1]
    amount = int(value[:-1])
    return {"h": f"{amount} hours", "d": f"{amount} days", "w": f"{amount * 7} days", "y": f"{amount * 365} days"}[unit]


def cel_hours(expr: str) -> str:
    """A CEL expression giving the hours of the duration string `expr` (which must not be `forever`)."""
    number = f"int({expr}.substring(0, size({expr}) - 1))"
    return f"({number} * ({expr}.endsWith('y') ? 8760 : {expr}.endsWith('w') ? 168 : {expr}.endsWith('d') ? 24 : 1))"


def _check(value: str) -> str:
    duration_hours(value)
    return value


Duration = Annotated[str, Field(max_length=16, pattern=DURATION_PATTERN), AfterValidator(_check)]
"""A duration such as `90d`; `forever` allowed."""

FiniteDuration = Annotated[str, Field(max_length=16, pattern=FINITE_DURATION_PATTERN), AfterValidator(_check)]
"""A duration such as `3d`; `forever` refused."""
