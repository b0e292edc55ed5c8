"""The Jinja2 environment for the SQL templates in timescale/.

Nothing reaches a template as a raw string: identifiers and literals from configuration are quoted first by
psycopg's `sql` module and wrapped in `Quoted`; numbers are numbers. Rendering anything else is an error, so a
template cannot interpolate an unquoted configuration value by mistake.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import cache
from typing import Any

import jinja2
from psycopg import sql

from georchestra_analytics.render.environment import environment as shared_environment
from georchestra_analytics.render.templates import template_dir


class Quoted(str):
    """SQL text that is already safe to splice: a quoted identifier, a literal, or a trusted fragment."""

    __slots__ = ()


def ident(*names: str) -> Quoted:
    """A (possibly qualified) identifier, quoted: ident("my schema", "t") -> "my schema"."t"."""
    return Quoted(sql.Identifier(*names).as_string(None))


def literal(value: Any) -> Quoted:
    return Quoted(sql.Literal(value).as_string(None))


def interval(value: timedelta) -> Quoted:
    """An interval literal in whole seconds: exact, and comparable with what TimescaleDB stores."""
    return Quoted(f"{sql.Literal(f'{int(value.total_seconds())} seconds').as_string(None)}::interval")


def _finalize(value: Any) -> Any:
    if isinstance(value, Quoted | bool | int | float) or value is None:
        return "" if value is None else value
    raise TypeError(f"refusing to render the unquoted value {value!r} into SQL: quote it with ident()/literal() first")


@cache
def environment() -> jinja2.Environment:
    """The shared environment (render.environment), loading from timescale/ and refusing unquoted values."""
    env = shared_environment().overlay(
        loader=jinja2.FileSystemLoader(str(template_dir("timescale"))), finalize=_finalize
    )
    # An overlay shares its parent's dicts: copy them before adding SQL-only names.
    env.globals = {**env.globals, "Quoted": Quoted}
    # For text written in the templates themselves (macro output), whose values were checked when rendered.
    env.filters = {**env.filters, "trusted": Quoted}
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
