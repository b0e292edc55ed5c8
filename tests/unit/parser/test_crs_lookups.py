"""A request naming a CRS code PROJ does not know costs no PROJ lookup: codes are checked against PROJ's EPSG
list first, so requests cycling through made-up codes cannot slow the parse job down."""

from __future__ import annotations

from georchestra_analytics.parser import crs


def test_made_up_codes_never_reach_proj() -> None:
    crs.north_first(2154)  # a real code: looked up once
    before = crs._known_crs_facts.cache_info()
    for code in range(900_000, 902_000):
        assert not crs.north_first(code)
    after = crs._known_crs_facts.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_real_codes_keep_their_axis_order() -> None:
    assert crs.north_first(4326) and crs.north_first(3035)
    assert not crs.north_first(2154) and not crs.north_first(3857)
