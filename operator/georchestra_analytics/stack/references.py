"""References to Secrets: the spec never holds a password, only where to find it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from georchestra_analytics.stack.base import SpecModel

# DNS-1123 subdomain (Secret and ConfigMap names) and Secret data keys, as the API server checks them.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]{1,253}$"

ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN)]
SecretKey = Annotated[str, Field(min_length=1, max_length=253, pattern=SECRET_KEY_PATTERN)]


class SecretKeySelector(SpecModel):
    """One key of a Secret in the stack's namespace."""

    name: ObjectName
    """Name of the Secret, in the AnalyticsStack's namespace."""
    key: SecretKey
    """Key inside the Secret whose value is used."""


class CredentialsSecret(SpecModel):
    """A Secret in the stack's namespace holding a user name and a password."""

    name: ObjectName
    """Name of the Secret, in the AnalyticsStack's namespace."""
    username_key: SecretKey = "username"
    """Key of the Secret holding the user name."""
    password_key: SecretKey = "password"
    """Key of the Secret holding the password."""


class LocalObjectReference(SpecModel):
    """A reference to an object by name in the same namespace (as Kubernetes' LocalObjectReference)."""

    name: ObjectName
    """Name of the object."""
