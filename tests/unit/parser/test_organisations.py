"""One organisation, one key: the alias map of spec.parser.organisationAliases, from the stack to the parser."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from georchestra_analytics.parser.organisations import AliasError, OrganisationMap, name_key
from georchestra_analytics.parser.settings import ParserSettings
from georchestra_analytics.stack import parse_stack
from georchestra_analytics.stack.resource import InvalidStackError

ALIASES = {
    "orleans": ("Ville d'Orléans",),
    "bureau-etudes": ("Bureau d'études « Géo & Eau »", "BE Géo et Eau"),
}


def test_a_display_name_resolves_to_its_key_and_is_kept_beside_it() -> None:
    orgs = OrganisationMap(ALIASES)
    assert orgs.resolve(None, "Ville d'Orléans") == ("orleans", "Ville d'Orléans")
    assert orgs.resolve(None, "BE Géo et Eau") == ("bureau-etudes", "BE Géo et Eau")
    # The Gateway's id is the key; without a logged display name the map's first name stands for it.
    assert orgs.resolve("orleans", None) == ("orleans", "Ville d'Orléans")
    assert orgs.resolve("orleans", "Mairie d'Orléans") == ("orleans", "Mairie d'Orléans")


def test_spellings_that_differ_in_case_blanks_and_apostrophes_match() -> None:
    orgs = OrganisationMap(ALIASES)
    for spelling in ("ville d\u2019orléans", "  VILLE  D'ORLÉANS ", "Ville\u00a0d'Orle\u0301ans"):
        assert orgs.resolve(None, spelling)[0] == "orleans", spelling
    assert orgs.resolve(None, "Ville d'Orleans")[0] == "Ville d'Orleans"  # an accent is part of the name


def test_without_a_map_or_an_alias_each_logged_name_is_its_own_key() -> None:
    assert OrganisationMap().resolve(None, "Ville d'Orléans") == ("Ville d'Orléans", "Ville d'Orléans")
    assert OrganisationMap(ALIASES).resolve("sdee", None) == ("sdee", None)
    assert OrganisationMap(ALIASES).resolve(None, None) == (None, None)


def test_one_name_under_two_keys_is_refused() -> None:
    with pytest.raises(AliasError, match="orleans"):
        OrganisationMap({"orleans": ("Ville d'Orléans",), "ville": ("ville d\u2019orléans",)})


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(key=st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), name=names, noise=st.sampled_from(["", " ", "  "]))
def test_any_listed_name_resolves_to_its_key_whatever_its_case_and_blanks(key: str, name: str, noise: str) -> None:
    if not name_key(name):
        return  # blanks only: not a name
    orgs = OrganisationMap({key: (name,)})
    assert orgs.resolve(None, noise + name.upper() + noise)[0] == key or name_key(name.upper()) != name_key(name)
    assert orgs.resolve(None, name) == (key, name)
    assert orgs.resolve(key, None) == (key, name)


def _stack(aliases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "analytics.georchestra.org/v1alpha1",
        "kind": "AnalyticsStack",
        "metadata": {"name": "analytics", "namespace": "georchestra"},
        "spec": {"database": {"managed": {}}, "parser": {"organisationAliases": aliases}},
    }


def test_the_stack_setting_reaches_the_parser_settings() -> None:
    stack = parse_stack(_stack([{"key": "orleans", "names": ["Ville d'Orléans", "Mairie d'Orléans"]}]))
    settings = ParserSettings.from_stack(stack)
    assert settings.organisation_aliases == {"orleans": ("Ville d'Orléans", "Mairie d'Orléans")}
    assert ParserSettings.from_stack(parse_stack(_stack([]))).organisation_aliases == {}


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ([{"key": "orleans", "names": ["A"]}, {"key": "tours", "names": ["a "]}], "given to both"),
        ([{"key": "a b", "names": ["A"]}], "pattern"),
        ([{"key": "orleans", "names": []}], "at least 1"),
        ([{"key": "orleans", "names": ["x" * 257]}], "at most 256"),
        ([{"key": "orleans"}], "names"),
    ],
)
def test_the_stack_refuses_an_ambiguous_or_malformed_map(aliases: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidStackError, match=message):
        parse_stack(_stack(aliases))
