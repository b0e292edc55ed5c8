"""The values every SQL template of a schema is rendered with, each already quoted."""

from __future__ import annotations

from typing import Any

from georchestra_analytics.db import aggregates
from georchestra_analytics.db.histogram import UPPER_BOUNDS_MS
from georchestra_analytics.db.settings import DatabaseSettings
from georchestra_analytics.db.sql_templates import Quoted, ident, interval, literal


class QuotedRoles:
    def __init__(self, settings: DatabaseSettings) -> None:
        names = settings.roles
        self.collector = ident(names.collector)
        self.parser = ident(names.parser)
        self.dashboards = ident(names.dashboards)
        self.aggregates = ident(names.aggregates)


def schema_context(schema: str, time_zone: str, flavor: str) -> dict[str, Any]:
    """What the writer's templates need: the schema, its time zone and flavor."""
    return {
        **aggregates.template_context(),
        "s": ident(schema),
        "schema_literal": literal(schema),
        "tz": literal(time_zone),
        "flavor": flavor,  # only ever compared in {% if %}, never rendered
        "bounds": Quoted("'{" + ",".join(str(bound) for bound in UPPER_BOUNDS_MS) + "}'::int[]"),
    }


def template_context(settings: DatabaseSettings) -> dict[str, Any]:
    return {
        **schema_context(settings.schema, settings.time_zone, settings.flavor),
        "chunk_interval": interval(settings.chunk_interval),
        "roles": QuotedRoles(settings),
    }
