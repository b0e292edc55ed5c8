"""The fast JSON decoder gives what the standard library gives, and never refuses what jsonb can hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from georchestra_analytics.parser.jsonfast import loads

documents = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_same_result_as_the_standard_library(document: Any) -> None:
    text = json.dumps(document)
    assert loads(text) == loads(text.encode()) == loads(memoryview(text.encode())) == json.loads(text)


def test_integers_beyond_64_bits_do_not_fail() -> None:
    assert isinstance(loads(b'{"n": 123456789012345678901234567890}')["n"], int | float)
