"""The AnalyticsStack custom resource as a whole: identity, metadata, spec and status; loading from YAML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from georchestra_analytics.stack.base import SpecModel
from georchestra_analytics.stack.k8s_names import DnsLabel
from georchestra_analytics.stack.spec import AnalyticsStackSpec
from georchestra_analytics.stack.status import StackStatus

GROUP = "analytics.georchestra.org"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "AnalyticsStack"
PLURAL = "analyticsstacks"
SINGULAR = "analyticsstack"
SHORT_NAMES = ("astack",)

# Children are named `<stack>-<part>-<10-char hash>` (at most 25 more characters) and Job names end up in a
# 63-character label: the stack's name must leave room.
MAX_NAME_LENGTH = 36
NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
MSG_NAME_LENGTH = f"metadata.name must be at most {MAX_NAME_LENGTH} characters: child names add up to 25 more"


MSG_NAME_PATTERN = "metadata.name must be a DNS label (lower-case letters, digits, '-', starting with a letter)"


def _stack_name(name: str) -> str:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(f"{name!r}: {MSG_NAME_PATTERN}")
    return name


class StackMetadata(SpecModel):
    """The parts of the object's metadata the operator uses; others are kept but ignored."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_stack_name)]
    # Checked as Kubernetes does: the namespace reaches host names and libpq connection strings.
    namespace: DnsLabel = "default"
    uid: str | None = None
    generation: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class AnalyticsStack(SpecModel):
    """An AnalyticsStack object: what `kubectl get analyticsstack -o yaml` shows."""

    model_config = SpecModel.model_config | {"extra": "ignore"}

    api_version: Literal["analytics.georchestra.org/v1alpha1"] = Field(
        default="analytics.georchestra.org/v1alpha1", alias="apiVersion"
    )
    kind: Literal["AnalyticsStack"] = "AnalyticsStack"
    metadata: StackMetadata
    spec: AnalyticsStackSpec
    status: StackStatus = Field(default_factory=StackStatus)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    def spec_document(self) -> dict[str, Any]:
        """The spec as the YAML a person writes (camelCase keys, defaults filled in)."""
        return self.spec.model_dump(mode="json", by_alias=True, exclude_none=True)


# A stack file is a few kilobytes; the API server's own limit on an object is about 1.5 MB.
MAX_STACK_FILE_BYTES = 1 << 20


class InvalidStackError(ValueError):
    """A stack document that cannot be used; the message is one line listing every problem with its location."""


def _location_part(part: str | int) -> str:
    # A map key from the document is printed quoted when it is not a plain name: it may hold a line break.
    text = str(part)
    return text if re.fullmatch(r"[-A-Za-z0-9_./\[\]]+", text) else repr(text)


def _describe(error: ValidationError) -> str:
    problems = []
    for problem in error.errors():
        where = ".".join(_location_part(part) for part in problem["loc"]) or "(document)"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


# Deeper than any stack (an affinity is about ten levels), and far from Python's recursion limit.
MAX_YAML_DEPTH = 64


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a few lines of nested aliases expand to gigabytes (a "billion laughs"), and a stack
    never needs them. Nesting is bounded too: a deep enough one would exhaust the composer's recursion."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise InvalidStackError(f"line {line}: YAML aliases (*{event.anchor}) are not accepted in a stack file")
        if self.depth >= MAX_YAML_DEPTH:
            raise InvalidStackError(f"line {line}: nested deeper than {MAX_YAML_DEPTH} levels")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_stack(document: Mapping[str, Any]) -> AnalyticsStack:
    """An AnalyticsStack from a decoded object (a kopf body, a YAML document).

    Only the spec and the name can make it invalid: a status the model cannot read (written by another
    version of the operator, say) is replaced by an empty one rather than blocking the reconcile."""
    if document.get("kind", KIND) != KIND:
        raise InvalidStackError(f"expected kind {KIND}, got {document.get('kind')!r}")
    body = {key: value for key, value in document.items() if key != "status"}
    try:
        stack = AnalyticsStack.model_validate(body)
    except ValidationError as error:
        raise InvalidStackError(_describe(error)) from None
    try:
        status = StackStatus.model_validate(document.get("status") or {})
    except ValidationError:
        return stack
    return stack.model_copy(update={"status": status})


def load_stack(path: Path | str) -> AnalyticsStack:
    """The one AnalyticsStack of a YAML file (the `-f` of every command). Every refusal is one line."""
    file = Path(path)
    if file.stat().st_size > MAX_STACK_FILE_BYTES:
        raise InvalidStackError(f"{path}: larger than {MAX_STACK_FILE_BYTES} bytes, not a stack file")
    try:
        text = file.read_text(encoding="utf-8")
        documents = [doc for doc in yaml.load_all(text, Loader=_NoAliasLoader) if doc is not None]
    except InvalidStackError as error:
        raise InvalidStackError(f"{path}: {error}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise InvalidStackError(f"{path}: not a YAML file: {' '.join(str(error).split())}") from None
    stacks = [doc for doc in documents if isinstance(doc, dict) and doc.get("kind") == KIND]
    if len(stacks) != 1:
        raise InvalidStackError(f"{path}: expected exactly one {KIND} document, found {len(stacks)}")
    try:
        return parse_stack(stacks[0])
    except InvalidStackError as error:
        raise InvalidStackError(f"{path}: {error}") from None
