"""Memos of the parse job, bounded in entries and in the size of each entry: a client that sends many distinct
kilobyte-long user agents, referrers or headers must not make a worker hold gigabytes. Text longer than a key may
be is computed each time, never kept."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

# Well above any user agent the parser reads (parser/bounds.py MAX_USER_AGENT_CHARS) or a stored referrer.
MAX_KEY_CHARS = 2048


def short_key_cache(maxsize: int, max_chars: int = MAX_KEY_CHARS) -> Callable[[F], F]:
    """`functools.lru_cache(maxsize)` for a function of positional arguments, bypassed when the text arguments
    hold more than `max_chars` characters together."""

    def decorate(function: F) -> F:
        cached = lru_cache(maxsize=maxsize)(function)

        @wraps(function)
        def call(*args: Any) -> Any:
            size = 0
            for argument in args:
                if argument.__class__ is str:
                    size += len(argument)
            return function(*args) if size > max_chars else cached(*args)

        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return cast(F, call)

    return decorate
