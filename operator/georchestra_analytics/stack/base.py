"""The base of every spec model: camelCase in YAML, snake_case in Python, unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """A section of the AnalyticsStack spec.

    Unknown keys are refused (a typo must not be silently ignored, as the API server's structural schema
    would prune it); models are frozen so a stack handed to a builder cannot be changed under its feet.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )
