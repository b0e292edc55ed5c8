"""Secrets the stack references: do they exist with the named keys, what is their checksum (so a rotation rolls
the pods that read them), the managed database's generated credentials and every stack's generated role passwords.

Values are only ever hashed or base64-encoded here; nothing in this module logs or returns them in a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from georchestra_analytics.controller.conditions import ConditionState
from georchestra_analytics.kube.database_access import ROLE_PASSWORD_KEYS, database_access, roles_secret_name
from georchestra_analytics.stack.resource import AnalyticsStack
from georchestra_analytics.stack.status import ConditionType, Reason

PASSWORD_KEY = "password"  # the key name in the generated Secret
PASSWORD_BYTES = 32

SecretReader = Callable[[str], Mapping[str, Any] | None]
"""Reads a Secret of the stack's namespace by name; None when it does not exist."""


@dataclass(frozen=True)
class SecretReference:
    """A Secret the stack's pods read, the keys they need, and the condition that reports a problem."""

    name: str
    keys: tuple[str, ...]
    condition: ConditionType


@dataclass
class SecretCheck:
    checksums: dict[str, str] = field(default_factory=dict)
    """Secret name -> checksum of its data, for every referenced Secret that exists."""
    problems: dict[ConditionType, ConditionState] = field(default_factory=dict)
    """The first problem found for each condition."""


def references(stack: AnalyticsStack) -> list[SecretReference]:
    """Secrets written by the user that the stack refers to (the managed database's own Secret is not one)."""
    spec = stack.spec
    found: list[SecretReference] = []
    if spec.database.external is not None:
        access = database_access(stack)
        found.append(
            SecretReference(
                access.secret_name, (access.username_key, access.password_key), ConditionType.DATABASE_READY
            )
        )
    if spec.superset is not None:
        credentials = spec.superset.credentials_secret
        found.append(
            SecretReference(
                credentials.name, (credentials.username_key, credentials.password_key), ConditionType.DASHBOARDS_SYNCED
            )
        )
    key = spec.parser.privacy.pseudonymization_key
    if key is not None:
        found.append(SecretReference(key.name, (key.key,), ConditionType.PARSER_READY))
    return found


def referenced_names(stack: AnalyticsStack) -> set[str]:
    """Every Secret whose change must reach the stack's pods, the generated ones included."""
    generated = {database_access(stack).secret_name, roles_secret_name(stack)}
    return {reference.name for reference in references(stack)} | generated


def data_checksum(secret: Mapping[str, Any]) -> str:
    """A hash of a Secret's data (base64 values as stored), stable across reads."""
    data = dict(secret.get("data") or {})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_secrets(stack: AnalyticsStack, read: SecretReader) -> SecretCheck:
    result = SecretCheck()
    for reference in references(stack):
        secret = read(reference.name)
        if secret is None:
            problem = ConditionState(
                reference.condition,
                "False",
                Reason.SECRET_NOT_FOUND,
                f"Secret {reference.name} not found in namespace {stack.namespace}: create it with the keys "
                + ", ".join(repr(key) for key in reference.keys),
            )
            result.problems.setdefault(reference.condition, problem)
            continue
        result.checksums[reference.name] = data_checksum(secret)
        present = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
        missing = [key for key in reference.keys if key not in present]
        if missing:
            result.problems.setdefault(
                reference.condition,
                ConditionState(
                    reference.condition,
                    "False",
                    Reason.SECRET_KEY_MISSING,
                    f"Secret {reference.name} has no key {missing[0]!r}",
                ),
            )
    return result


def generated_password(existing: Mapping[str, Any] | None) -> str:
    """The managed database's password: the one already stored, or a new random one (generated once: the
    database keeps the password it was initialised with, so it must never change afterwards)."""
    if existing is not None:
        stored = (existing.get("data") or {}).get(PASSWORD_KEY)
        if stored:
            return base64.b64decode(stored).decode("utf-8")
    return secrets.token_urlsafe(PASSWORD_BYTES)


def generated_role_passwords(existing: Mapping[str, Any] | None) -> dict[str, str]:
    """The roles Secret's data (key -> password): each key already stored is kept as it is (pods and the
    database share it); only a missing key gets a new random password."""
    stored = (existing or {}).get("data") or {}
    return {
        key: base64.b64decode(stored[key]).decode("utf-8") if stored.get(key) else secrets.token_urlsafe(PASSWORD_BYTES)
        for key in ROLE_PASSWORD_KEYS.values()
    }


def holds_every_role_password(existing: Mapping[str, Any] | None) -> bool:
    """Whether the roles Secret is complete. A complete one is never applied again: an apply computed from a
    read that raced a person's rotation would put the old password back."""
    stored = (existing or {}).get("data") or {}
    return all(stored.get(key) for key in ROLE_PASSWORD_KEYS.values())


def with_encoded_data(secret: Mapping[str, Any]) -> dict[str, Any]:
    """The Secret with `stringData` moved into base64 `data`: the API server stores only `data`, so applying
    `data` is what makes a re-apply of unchanged credentials a no-op."""
    result = dict(secret)
    string_data = result.pop("stringData", None)
    if string_data:
        encoded = {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in string_data.items()}
        result["data"] = {**(result.get("data") or {}), **encoded}
    return result
