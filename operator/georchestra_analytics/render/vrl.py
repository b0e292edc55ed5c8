"""The VRL programs of vector/vrl/, and the parameters the rendered configuration assigns above them.

VRL has no way to read a parameter from its configuration, so a program that needs one (the accepted scopes,
the format of a log file) gets an assignment prepended: `accepted_scopes = ["org.georchestra..."]`. The values
come from the AnalyticsStack, so they are written as VRL literals that no value can break out of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from georchestra_analytics.render.templates import template_dir

ACCEPTED_SCOPE_PROGRAM = "accepted_scope"
TEXT_LINE_PROGRAM = "text_line"
BUFFER_ROW_PROGRAM = "buffer_row"
PROGRAMS = (ACCEPTED_SCOPE_PROGRAM, TEXT_LINE_PROGRAM, BUFFER_ROW_PROGRAM)

# Characters written as they are inside a VRL string literal. Everything else goes through decode_percent:
# `"` and `\` would end or escape the literal, `{` opens a template in some VRL versions, `$` is an environment
# variable for Vector's config loader, and non-ASCII or control characters would need escapes VRL lacks.
# The result is printable ASCII, safe in a YAML block scalar too.
_PLAIN_CHARACTERS = frozenset(chr(code) for code in range(0x20, 0x7F)) - frozenset('"\\{}$')

VrlParameter = str | Sequence[str]


@cache
def load_program(name: str) -> str:
    """The text of vector/vrl/<name>.vrl."""
    if name not in PROGRAMS:
        raise ValueError(f"unknown VRL program {name!r}; expected one of {PROGRAMS}")
    return (template_dir("vector") / "vrl" / f"{name}.vrl").read_text(encoding="utf-8")


def vrl_string_literal(value: str) -> str:
    """A VRL expression whose value is exactly `value`: plain runs as string literals, the rest percent-decoded."""
    _refuse_surrogates(value)
    if value == "":
        return '""'
    parts: list[str] = []
    run: list[str] = []
    run_is_plain = value[0] in _PLAIN_CHARACTERS

    def close_run() -> None:
        text = "".join(run)
        if run_is_plain:
            parts.append(f'"{text}"')
        else:
            encoded = "".join(f"%{byte:02X}" for byte in text.encode("utf-8"))
            parts.append(f'decode_percent("{encoded}")')

    for character in value:
        plain = character in _PLAIN_CHARACTERS
        if plain != run_is_plain:
            close_run()
            run = []
            run_is_plain = plain
        run.append(character)
    close_run()
    return " + ".join(parts)


def vrl_literal(value: VrlParameter) -> str:
    """A string, or an array of strings, as a VRL expression."""
    if isinstance(value, str):
        return vrl_string_literal(value)
    return "[" + ", ".join(vrl_string_literal(item) for item in value) + "]"


def program_with_parameters(name: str, parameters: Mapping[str, VrlParameter] | None = None) -> str:
    """The program `name`, preceded by one assignment per parameter, as the rendered configuration holds it."""
    lines = [f"{_variable_name(key)} = {vrl_literal(value)}" for key, value in (parameters or {}).items()]
    if not lines:
        return load_program(name)
    prelude = "".join(line + "\n" for line in ["# Parameters, from the AnalyticsStack.", *lines])
    return prelude + "\n" + load_program(name)


def _variable_name(name: str) -> str:
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"{name!r} is not a VRL variable name")
    return name


def _refuse_surrogates(value: str) -> None:
    if any(0xD800 <= ord(character) <= 0xDFFF for character in value):
        raise ValueError(f"{value!r} is not valid Unicode text (it holds a lone surrogate)")
