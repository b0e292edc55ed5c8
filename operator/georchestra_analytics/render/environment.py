"""The one Jinja2 environment for every template (vector/, timescale/, superset/).

Autoescaping is off: the outputs are YAML, VRL and SQL, not HTML. Instead, every value from a stack goes
through a filter that makes it inert where it lands:
- `tojson` writes a JSON scalar that is also a valid YAML double-quoted scalar (YAML 1.1 and 1.2), with every
  character YAML would fold or refuse escaped, so the value parses back exactly;
- `tojson_vector` does the same and doubles `$`, because Vector expands `${VAR}` anywhere in its config file
  before parsing it (`$$` is its escape for a literal `$`).
Template names are relative to the templates root: `vector/vector.yaml.j2`, `timescale/...`, `superset/...`.
Components needing other settings (a SQL `finalize` that refuses unquoted values, say) derive their own with
`environment().overlay(...)`, which keeps the loader, the filters and StrictUndefined.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jinja2

from georchestra_analytics.render.templates import templates_root

# Characters a YAML double-quoted scalar cannot hold as they are: controls, DEL, C1 controls (NEL folds as a
# line break in YAML 1.1), the Unicode line/paragraph separators, BOM, surrogates and non-characters.
_YAML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _escape_unsafe(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _undefined_fails(value: object) -> object:
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises UndefinedError, naming the missing variable
    raise TypeError(f"cannot render a {type(value).__name__} as JSON: convert it to plain data first")


def tojson(value: Any) -> str:
    """`value` as JSON that reads back identically as YAML (any JSON type; keys keep their order)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_undefined_fails)
    return _YAML_UNSAFE.sub(_escape_unsafe, text)


def tojson_vector(value: Any) -> str:
    """`tojson`, with `$` doubled so Vector's environment interpolation leaves the value alone."""
    return tojson(value).replace("$", "$$")


@cache
def environment() -> jinja2.Environment:
    """The shared environment, loading from the templates root."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - YAML/VRL/SQL, not HTML: values go through tojson instead
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson"] = tojson
    env.filters["tojson_vector"] = tojson_vector
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one template of the templates root, e.g. `render_template("vector/vector.yaml.j2", ...)`."""
    return environment().get_template(name).render(**context)


def render_string(source: str, **context: Any) -> str:
    """Render a template given as text, with the shared environment's filters and strictness."""
    return environment().from_string(source).render(**context)
