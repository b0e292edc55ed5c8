"""Kubernetes names, label keys and values, as the API server defines them (k8s.io/apimachinery validation).

The model checks them in Python with a message naming the rule, and the CRD carries the same patterns (as
`pattern` on strings and as a CEL rule on map keys), so `kubectl apply` refuses what `render` refuses. A value
that reaches a child object, a libpq connection string or a Vector configuration has passed one of these.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

# DNS-1123 label: namespaces, Service names. At most 63 characters.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_MAX = 63
# Qualified name (label and annotation keys): an optional DNS-1123 subdomain prefix of at most 253 characters and
# a slash, then a name of at most 63 characters. The bounded repeats keep the CEL cost estimate small.
QUALIFIED_NAME_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
QUALIFIED_NAME_MAX = 253 + 1 + 63
# Label value: empty, or at most 63 characters, alphanumeric at both ends.
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
LABEL_VALUE_MAX = 63

MSG_QUALIFIED_NAME = (
    "must be a Kubernetes label or annotation key: an optional DNS prefix and '/', then at most 63 letters, "
    "digits, '-', '_' or '.', starting and ending with a letter or digit"
)
MSG_LABEL_VALUE = (
    "must be a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
    "letter or digit"
)
MSG_DNS_LABEL = (
    "must be a DNS-1123 label: at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit"
)


def _qualified_name(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not re.fullmatch(QUALIFIED_NAME_PATTERN, key) or len(prefix) > 253 or len(name) > 63:
        raise ValueError(f"{key!r} {MSG_QUALIFIED_NAME}")
    return key


def _label_value(value: str) -> str:
    if len(value) > LABEL_VALUE_MAX or not re.fullmatch(LABEL_VALUE_PATTERN, value):
        raise ValueError(f"{value!r} {MSG_LABEL_VALUE}")
    return value


def _dns_label(value: str) -> str:
    if len(value) > DNS_LABEL_MAX or not re.fullmatch(DNS_LABEL_PATTERN, value):
        raise ValueError(f"{value!r} {MSG_DNS_LABEL}")
    return value


QualifiedName = Annotated[
    str,
    AfterValidator(_qualified_name),
    WithJsonSchema({"type": "string", "maxLength": QUALIFIED_NAME_MAX, "pattern": QUALIFIED_NAME_PATTERN}),
]
"""A label or annotation key (`app`, `example.org/team`)."""

LabelValue = Annotated[
    str,
    AfterValidator(_label_value),
    WithJsonSchema({"type": "string", "maxLength": LABEL_VALUE_MAX, "pattern": LABEL_VALUE_PATTERN}),
]
"""A label value."""

DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": DNS_LABEL_MAX, "pattern": DNS_LABEL_PATTERN}),
]
"""A namespace name."""

Labels = Annotated[dict[QualifiedName, LabelValue], Field(max_length=32)]
"""Kubernetes labels (or a node selector): valid keys and values, at most 32 of them."""

Annotations = Annotated[dict[QualifiedName, Annotated[str, Field(max_length=4096)]], Field(max_length=32)]
"""Kubernetes annotations: valid keys, values of at most 4096 characters, at most 32 of them."""
