"""The shared Jinja2 environment: strict about missing values, and values come back exactly as they went in."""

from __future__ import annotations

import re

import jinja2
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from georchestra_analytics.render.environment import environment, render_string

HOSTILE = [
    'a "quoted" value',
    "it's",
    "line one\nline two\r\nthree",
    "{{ 7 * 7 }}",
    "{% raw %}x{% endraw %}",
    "${HOME}",
    "$HOME and $$ and $",
    "key: value",
    "- item",
    "#comment",
    "&anchor *alias",
    "!!python/object:os.system",
    "null",
    "yes",
    "0o17",
    "  leading and trailing  ",
    "tab\there",
    "nel\x85sep\u2028para\u2029bom\ufeff",
    "del\x7f bell\x07 nul\x00",
    "emoji 😀 and accents éà",
    "",
]


def _roundtrip(value: object) -> object:
    return yaml.safe_load(render_string("key: {{ value | tojson }}\n", value=value))["key"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_parse_back_unchanged(value: str) -> None:
    assert _roundtrip(value) == value


def test_nested_values_parse_back_unchanged() -> None:
    value = {"list": HOSTILE, "number": 3, "flag": True, "nothing": None, "nested": {"x": 1.5}}
    assert _roundtrip(value) == value


@given(st.text())
def test_any_text_parses_back_unchanged(value: str) -> None:
    assert _roundtrip(value) == value


def test_values_are_not_rendered_twice() -> None:
    # A value that looks like a template is data: it is not evaluated.
    assert render_string("{{ value }}", value="{{ 7 * 7 }}") == "{{ 7 * 7 }}"


def test_missing_values_are_errors() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_string("key: {{ missing | tojson }}")


def test_vector_filter_leaves_no_interpolation() -> None:
    rendered = render_string("v: {{ value | tojson_vector }}", value="${SECRET} and $HOME and $")
    # Vector expands `$VAR`/`${VAR}` and turns `$$` into `$`: after its expansion the text must be the value.
    assert not re.search(r"(?<!\$)\$(?!\$)", rendered.replace("$$", ""))
    assert yaml.safe_load(rendered.replace("$$", "$"))["v"] == "${SECRET} and $HOME and $"


def test_environment_is_shared_and_finds_the_template_folders() -> None:
    assert environment() is environment()
    assert environment().undefined is jinja2.StrictUndefined
    assert not environment().autoescape
