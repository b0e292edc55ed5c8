"""Referenced Secrets: clear messages for a missing Secret or key, checksums that follow the data, the managed
database's password generated once and applied as base64 data."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from georchestra_analytics.controller.secrets import (
    check_secrets,
    data_checksum,
    generated_password,
    generated_role_passwords,
    holds_every_role_password,
    referenced_names,
    with_encoded_data,
)
from georchestra_analytics.kube.database import database_secret
from georchestra_analytics.kube.database_access import ROLE_PASSWORD_KEYS, roles_secret
from georchestra_analytics.stack import AnalyticsStack, ConditionType, Reason, parse_stack


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _stack(**spec: Any) -> AnalyticsStack:
    return parse_stack({"kind": "AnalyticsStack", "metadata": {"name": "analytics", "namespace": "geor"}, "spec": spec})


EXTERNAL = {
    "external": {"host": "db.example", "databaseName": "analytics", "credentialsSecret": {"name": "analytics-db"}}
}


def test_missing_secret_is_named_with_its_namespace_and_keys() -> None:
    check = check_secrets(_stack(database=EXTERNAL), lambda name: None)
    problem = check.problems[ConditionType.DATABASE_READY]
    assert problem.reason == Reason.SECRET_NOT_FOUND
    assert problem.message.startswith("Secret analytics-db not found in namespace geor")
    assert "'username', 'password'" in problem.message


def test_missing_key_gives_the_message_a_person_can_act_on() -> None:
    secret = {"data": {"username": _b64("analytics")}}
    check = check_secrets(_stack(database=EXTERNAL), lambda name: secret)
    problem = check.problems[ConditionType.DATABASE_READY]
    assert problem.reason == Reason.SECRET_KEY_MISSING
    assert problem.message == "Secret analytics-db has no key 'password'"


def test_each_reference_reports_on_its_own_condition() -> None:
    stack = _stack(
        database=EXTERNAL,
        superset={"url": "http://superset:8088", "credentialsSecret": {"name": "superset-admin"}},
        parser={"privacy": {"pseudonymizationKey": {"name": "pseudo", "key": "key"}}},
    )
    secrets: dict[str, dict[str, Any]] = {
        "analytics-db": {"data": {"username": "dQ==", "password": "cA=="}},
        "pseudo": {"data": {}},
    }
    check = check_secrets(stack, lambda name: secrets.get(name))
    assert set(check.problems) == {ConditionType.DASHBOARDS_SYNCED, ConditionType.PARSER_READY}
    assert check.problems[ConditionType.PARSER_READY].message == "Secret pseudo has no key 'key'"
    assert set(check.checksums) == {"analytics-db", "pseudo"}
    assert referenced_names(stack) == {"analytics-db", "analytics-db-roles", "superset-admin", "pseudo"}


def test_checksum_follows_the_data_and_ignores_the_rest() -> None:
    secret = {"metadata": {"resourceVersion": "1"}, "data": {"password": _b64("one")}}
    same = {"metadata": {"resourceVersion": "2"}, "data": {"password": _b64("one")}}
    rotated = {"metadata": {"resourceVersion": "3"}, "data": {"password": _b64("two")}}
    assert data_checksum(secret) == data_checksum(same)
    assert data_checksum(secret) != data_checksum(rotated)


def test_the_generated_password_is_kept_once_stored() -> None:
    first = generated_password(None)
    assert len(first) >= 32
    assert generated_password(None) != first  # random
    stored = {"data": {"password": _b64(first)}}
    assert generated_password(stored) == first


@pytest.mark.parametrize("password", ["plain", "quote\"'and\nnewline", "{{ jinja }} ${env} é"])
def test_applied_secret_carries_base64_data_that_decodes_to_the_value(password: str) -> None:
    stack = _stack(database={"managed": {}})
    applied = with_encoded_data(database_secret(stack, password))
    assert "stringData" not in applied
    assert base64.b64decode(applied["data"]["password"]).decode() == password
    assert base64.b64decode(applied["data"]["username"]).decode() == "analytics"
    # The same password gives byte-identical data: re-applying it changes nothing.
    assert with_encoded_data(database_secret(stack, password)) == applied


def test_role_passwords_are_generated_once_per_key() -> None:
    first = generated_role_passwords(None)
    assert set(first) == set(ROLE_PASSWORD_KEYS.values())
    assert len(set(first.values())) == 3 and all(len(value) >= 32 for value in first.values())
    stored = with_encoded_data(roles_secret(_stack(database=EXTERNAL), first))
    assert generated_role_passwords(stored) == first
    assert holds_every_role_password(stored) and not holds_every_role_password(None)
    # A key lost from the Secret gets a new password; the others are kept as they are.
    partial = {"data": {key: value for key, value in stored["data"].items() if key != "parser-password"}}
    assert not holds_every_role_password(partial)
    again = generated_role_passwords(partial)
    assert again["parser-password"] != first["parser-password"]
    assert {key: value for key, value in again.items() if key != "parser-password"} == {
        key: value for key, value in first.items() if key != "parser-password"
    }


@pytest.mark.parametrize("password", ["quote\"'and\nnewline", "{{ jinja }} ${env} é"])
def test_roles_secret_data_decodes_to_the_stored_passwords(password: str) -> None:
    stack = _stack(database={"managed": {}})
    passwords = dict.fromkeys(ROLE_PASSWORD_KEYS.values(), password)
    applied = with_encoded_data(roles_secret(stack, passwords))
    assert "stringData" not in applied
    assert {key: base64.b64decode(value).decode() for key, value in applied["data"].items()} == passwords
    assert generated_role_passwords(applied) == passwords
