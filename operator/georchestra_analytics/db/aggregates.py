"""The aggregates' dimensions and measures: one definition for both flavors, the writer and the tests.

Eleven families, each by hour, day and month. Each groups by a few dimensions only: an aggregate over every
dimension at once has about as many rows as the raw table (user x referrer x layer x ... rarely repeat within
an hour), which defeats its purpose. Together they cover every dimension dashboards need:
- `usage`: requests by application, server, service, operation, status, organisation, tiled, download/format;
- `layer_usage`: one row per (request, layer), over access_log_layers, so a GetMap of three layers counts once
  for each of them; by layer, workspace and the request's kind;
- `user_usage`: by user and organisation, per application and status;
- `client_usage`: by referrer host and user-agent family, per application and service;
- `audience` (migration 0010): by robot or not, robot family, country, region and client application, per
  application and service;
- `client_layers` (migration 0010): per (request, layer), by client application, robot or not, application;
- `layer_extents` (migration 0009): per (request, layer), by the grid cell of the requested extent's centre
  (docs/classification.md#extents): where on the map users look, layer by layer.
- `robot_usage`, `robot_layer_usage`, `robot_user_usage`, `robot_client_usage` (migration 0012): the robot
  mirrors of the four families of migration 0003, with their dimensions and measures, counting only the rows of
  robots (`is_robot`; NULL, never checked, counts as people as everywhere).
The four families of migration 0003 have no robot dimension: adding one means recreating their continuous
aggregates, which loses history beyond the raw retention. Their dashboard views (timescale/views/dashboards.sql.j2)
split them instead: robots are the mirror's rows, people the family's rows minus the mirror's of the same bucket
and dimensions (docs/database.md#people-and-robots). The mirrors have no views of their own.
Expressions are trusted SQL fragments written here (never configuration), over the source table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from georchestra_analytics.db.histogram import bucket_columns
from georchestra_analytics.db.sql_templates import Quoted, ident

LEVELS: tuple[str, ...] = ("hourly", "daily", "monthly")
LEVEL_UNIT = {"hourly": "hour", "daily": "day", "monthly": "month"}
# The families migration 0003 creates: its template loops over these, so this list never changes.
FAMILIES_OF_0003: tuple[str, ...] = ("usage", "layer_usage", "user_usage", "client_usage")
# Migration 0009's: requested extents.
EXTENT_FAMILIES: tuple[str, ...] = ("layer_extents",)
# Migration 0010's: robots, countries and client applications.
AUDIENCE_FAMILIES: tuple[str, ...] = ("audience", "client_layers")
# Migration 0012's: each family of 0003 -> its robot mirror (the robots' share of it).
ROBOT_MIRRORS: dict[str, str] = {family: f"robot_{family}" for family in FAMILIES_OF_0003}
ROBOT_FAMILIES: tuple[str, ...] = tuple(ROBOT_MIRRORS.values())
FAMILIES: tuple[str, ...] = (*FAMILIES_OF_0003, *EXTENT_FAMILIES, *AUDIENCE_FAMILIES, *ROBOT_FAMILIES)
# The families with dashboard views: all but the mirrors, which only feed their originals' views.
DASHBOARD_FAMILIES: tuple[str, ...] = tuple(family for family in FAMILIES if family not in ROBOT_FAMILIES)
SOURCE_TABLE = {
    "usage": "access_logs",
    "layer_usage": "access_log_layers",
    "user_usage": "access_logs",
    "client_usage": "access_logs",
    "audience": "access_logs",
    "client_layers": "access_log_layers",
    "layer_extents": "access_log_layers",
}
SOURCE_TABLE.update({mirror: SOURCE_TABLE[family] for family, mirror in ROBOT_MIRRORS.items()})
RAW_TABLES: tuple[str, ...] = ("access_logs", "access_log_layers")

# The host of an absolute referrer URL, lower-cased; NULL for anything else.
_REFERRER_HOST = r"lower(substring(referrer from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)'))"


@dataclass(frozen=True)
class Dimension:
    name: str
    type: str  # SQL type of the column in the aggregate
    expression: str  # over the family's source table

    @property
    def column(self) -> Quoted:
        return ident(self.name)

    @property
    def sql(self) -> Quoted:
        return Quoted(self.expression)

    @property
    def sql_type(self) -> Quoted:
        return Quoted(self.type)


_TYPES = {"status": "smallint", "tiled": "boolean", "is_download": "boolean"}
# Records stored before migration 0010 were never checked for robots (NULL): they count as people, as they did.
_IS_ROBOT = Dimension("is_robot", "boolean", "coalesce(is_robot, false)")


# The requested-extent grid (docs/classification.md#extents): cells of 1/CELLS_PER_DEGREE degree of longitude
# and latitude, numbered from (0, 0) (cell_x = floor(longitude x CELLS_PER_DEGREE)); a request counts in the
# cell of its extent's centre. Extents wider or taller than MAX_EXTENT_DEGREES (a country, a continent, the world)
# say nothing of where users look, and are left out; so are requests without an extent.
CELLS_PER_DEGREE = 10
MAX_EXTENT_DEGREES = 2
_EXTENT_CELL_X = f"floor((extent_west + extent_east) * {CELLS_PER_DEGREE / 2})::integer"
_EXTENT_CELL_Y = f"floor((extent_south + extent_north) * {CELLS_PER_DEGREE / 2})::integer"
# Rows a family counts (a trusted SQL condition over its source table), for the families that count only some.
# BETWEEN on each corner: NULL, NaN and infinities fail it, so the cells' integer casts never see them.
SOURCE_FILTERS: dict[str, str] = {
    "layer_extents": (
        "extent_west BETWEEN -180 AND 180 AND extent_east BETWEEN -180 AND 180"
        " AND extent_south BETWEEN -90 AND 90 AND extent_north BETWEEN -90 AND 90"
        f" AND extent_east - extent_west <= {MAX_EXTENT_DEGREES}"
        f" AND extent_north - extent_south <= {MAX_EXTENT_DEGREES}"
    ),
    # NULL (stored before migration 0010, never checked) fails it: such rows count as people.
    **dict.fromkeys(ROBOT_FAMILIES, "is_robot"),
}


def _plain(name: str) -> Dimension:
    return Dimension(name, _TYPES.get(name, "text"), ident(name))


_REQUEST_KIND = ("service", "request", "status", "org", "tiled", "is_download", "download_format")

DIMENSIONS: dict[str, tuple[Dimension, ...]] = {
    "usage": (
        *(_plain(name) for name in ("app", "server", *_REQUEST_KIND)),
        # Lets the 2.x compatibility views count requests that name no layer.
        Dimension("names_layers", "boolean", "(coalesce(cardinality(layers), 0) > 0)"),
    ),
    "layer_usage": tuple(_plain(name) for name in ("layer", "workspace", "app", *_REQUEST_KIND)),
    "user_usage": tuple(_plain(name) for name in ("user", "org", "app", "status")),
    "client_usage": (
        Dimension("referrer_host", "text", _REFERRER_HOST),
        Dimension("user_agent_family", "text", "(user_agent ->> 'family')"),
        _plain("app"),
        _plain("service"),
    ),
    "audience": (
        _IS_ROBOT,
        *(_plain(name) for name in ("robot_family", "country", "region", "client_app", "app", "service")),
    ),
    "client_layers": (_plain("layer"), _plain("client_app"), _IS_ROBOT, _plain("app")),
    "layer_extents": (
        _plain("layer"),
        _plain("workspace"),
        _plain("app"),
        Dimension("cell_x", "integer", _EXTENT_CELL_X),
        Dimension("cell_y", "integer", _EXTENT_CELL_Y),
    ),
}
DIMENSIONS.update({mirror: DIMENSIONS[family] for family, mirror in ROBOT_MIRRORS.items()})

# Columns access_log_layers copies from its access_logs row (besides ts, id, layer, workspace).
LAYER_ROW_COLUMNS: tuple[str, ...] = (
    "app", "server", "service", "request", "method", "status", "org", "user", "tiled", "is_download",
    "download_format", "response_time_ms", "response_size",
    # Added by migration 0009.
    "extent_west", "extent_south", "extent_east", "extent_north",
    # Added by migration 0010.
    "is_robot", "client_app",
)  # fmt: skip


@dataclass(frozen=True)
class Measure:
    name: str
    type: str
    from_raw: str  # aggregate over raw rows
    rollup: str  # aggregate over a finer aggregate's rows
    merge: str  # combine the stored value `t.<name>` with a new one `excluded.<name>` (postgresql upserts)
    # A sum, which a subtraction undoes (the views' people = all - robots); min and max are not.
    additive: bool = True

    @property
    def column(self) -> Quoted:
        return ident(self.name)

    @property
    def sql_type(self) -> Quoted:
        return Quoted(self.type)

    @property
    def raw_sql(self) -> Quoted:
        return Quoted(self.from_raw)

    @property
    def rollup_sql(self) -> Quoted:
        return Quoted(self.rollup)

    @property
    def merge_sql(self) -> Quoted:
        return Quoted(self.merge)


def _sum(name: str, raw: str) -> Measure:
    column = ident(name)
    return Measure(name, "bigint", raw, f"sum({column})::bigint", f"t.{column} + excluded.{column}")


def _measures() -> tuple[Measure, ...]:
    measures = [
        _sum("requests", "count(*)"),
        _sum("errors", "count(*) FILTER (WHERE status >= 400)"),
        _sum("bytes", "coalesce(sum(response_size), 0)::bigint"),
        _sum("response_time_count", "count(response_time_ms)"),
        _sum("response_time_sum", "coalesce(sum(response_time_ms), 0)::bigint"),
        Measure("response_time_min", "integer", "min(response_time_ms)", "min(response_time_min)",
                "least(t.response_time_min, excluded.response_time_min)", additive=False),
        Measure("response_time_max", "integer", "max(response_time_ms)", "max(response_time_max)",
                "greatest(t.response_time_max, excluded.response_time_max)", additive=False),
    ]  # fmt: skip
    for name, lower, upper in bucket_columns():
        condition = f"response_time_ms >= {lower}" + (f" AND response_time_ms < {upper}" if upper else "")
        measures.append(_sum(name, f"count(*) FILTER (WHERE {condition})"))
    return tuple(measures)


MEASURES: tuple[Measure, ...] = _measures()
HISTOGRAM_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in bucket_columns())


# The stable views (timescale/views/dashboards.sql.j2): the dashboards' whole interface to the data.
DASHBOARD_VIEWS: tuple[str, ...] = (
    *(f"{family}_{level}" for family in DASHBOARD_FAMILIES for level in LEVELS),
    *(f"ogc_summary_{level}" for level in LEVELS),
    "ogc_summary",
)


def storage_name(family: str, level: str) -> str:
    """The continuous aggregate (timescaledb) or rollup table (postgresql) behind the views."""
    return f"agg_{family}_{level}"


def template_context() -> dict[str, object]:
    """What the SQL templates need to write the aggregates."""
    return {
        "levels": LEVELS,
        "level_unit": {level: Quoted(unit) for level, unit in LEVEL_UNIT.items()},
        # Migration 0003 renders `families`; the repeatable grants and views render every family.
        "families": FAMILIES_OF_0003,
        "all_families": FAMILIES,
        # Read at call time, so a test that makes the code know only older families renders their views.
        "dashboard_families": tuple(family for family in FAMILIES if family not in ROBOT_FAMILIES),
        "robot_mirror": {family: mirror for family, mirror in ROBOT_MIRRORS.items() if mirror in FAMILIES},
        "audience_families": AUDIENCE_FAMILIES,
        "extent_families": EXTENT_FAMILIES,
        "robot_families": ROBOT_FAMILIES,
        "source_filter": {family: Quoted(condition) for family, condition in SOURCE_FILTERS.items()},
        "cells_per_degree": Quoted(str(CELLS_PER_DEGREE)),
        "source_table": {family: Quoted(table) for family, table in SOURCE_TABLE.items()},
        "dimensions": DIMENSIONS,
        "measures": MEASURES,
        "storage": {family: {level: Quoted(storage_name(family, level)) for level in LEVELS} for family in FAMILIES},
        "histogram_columns": [ident(name) for name in HISTOGRAM_COLUMNS],
        "layer_row_columns": [ident(name) for name in LAYER_ROW_COLUMNS],
    }
