"""A georchestra/analytics 2.0 database, for the upgrade tests (timescaledb flavor).

The DDL is written here from the facts of 2.0's published SQL (its db entrypoint scripts): an UNLOGGED
`opentelemetry_buffer` with the Vector opentelemetry columns; `access_logs` (oid serial, id, ts, message, app_id,
app_path, app_name, ip, user_id, user_name, org_id, org_name, roles text[], auth_method, request_method,
request_path, request_query_string, request_details jsonb, response_time int, response_size int, status_code int,
client_ip, server_address, context_data jsonb; primary key (ts, oid), unique (ts, id)) as a hypertable of 7-day
chunks, 3-year retention, compressed after a day segmented by id; the `ogc_summary_hourly/daily/monthly`
continuous aggregates (Europe/Paris buckets, OGC-tagged rows, medians by percentile_cont, daily and monthly over the
level below) with their policies; and the `ogc_summary` union view. The data-api aggregates of 2.0 need the
timescaledb_toolkit extension (percentile_agg), which the test server does not have: they are left out.

Rows are shaped like the output of 2.0's CLI (`buffer2db`): `request_details` as its GeoServer processor writes it
(layers without their workspace, joined by commas, and `workspaces` beside them, squashed to one when all are the
same; service upper-case, request lower-case, `tiled`, `is_download` with the human download format, the user
agent's parsed fields and the referrer, `tags: ["ogc"]`), other OGC servers keeping the raw `ws:a,ws:b` string,
generic applications with empty details, anonymous users as '' with roles {""}. Its policies are created as 2.0
does, then paused, so no background job changes the data under a test.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

TIME_ZONE = "Europe/Paris"
# Three weeks ending three months ago: within the default raw retention (a year) of the new schema.
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=120)
SPAN = timedelta(days=21)
# The rows 2.x left in its buffer: after its last record, in a later month.
BUFFERED_AT = START + SPAN + timedelta(days=45)
# Rows of 2.x this project refuses: a clock that was never set. 2.x stored them; the import keeps them as rejects.
BAD_CLOCK = datetime(1970, 1, 1, 0, 0, 7, tzinfo=UTC)

_USERS = [
    ("testadmin", "PSC", ["ROLE_SUPERUSER", "ROLE_MAPSTORE_ADMIN", "ROLE_USER"]),
    ("testuser", "C2C", ["ROLE_USER"]),
    ("testeditor", "PSC", ["ROLE_SUPERSET_ADMIN", "ROLE_USER"]),
    ("agent.dupont", "orleans", ["ROLE_USER"]),
    ("", "", [""]),  # anonymous, as 2.x stores it
    ("", "", [""]),
]
_LAYERS = [("boundaries", "lines_borders"), ("basemaps", "mnt_dem"), ("environment", "parc_naturel"),
           ("anct", "qva"), ("anct", "pvd_points"), ("bdtopo", "adresse_ban")]  # fmt: skip
_AGENTS = [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox", "140.0", "Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", "Chrome", "131.0",
     "Windows"),
    ("QGIS/34000/Ubuntu 24.04", "QGIS", "34000.None", "Ubuntu"),
]  # fmt: skip
_REFERRERS = ["https://www.example.org/mapstore/", "https://portal.example.com/carto?id=3", None]
_FORMATS = {"shape-zip": "Shapefile", "application/json": "JSON", "csv": "CSV", "excel": "Excel"}


def _agent(rng: random.Random) -> dict[str, Any]:
    string, family, version, os_family = rng.choice(_AGENTS)
    details: dict[str, Any] = {"user_agent_string": string, "user_agent_family": family,
                               "user_agent_version": version, "os_family": os_family, "os_version": None,
                               "device_family": "Other", "device_brand": None, "device_model": None}  # fmt: skip
    referrer = rng.choice(_REFERRERS)
    if referrer:
        details["referrer"] = referrer
    return details


def _geoserver(rng: random.Random) -> tuple[str, str, str, dict[str, Any]]:
    """(method, path, query string, request_details) of a GeoServer request as 2.x's processor writes it."""
    kind = rng.choice(["getmap", "getmap", "getmap", "gettile", "getfeature", "getcapabilities"])
    picked = rng.sample(_LAYERS, rng.choice([1, 1, 1, 2]))
    if kind == "getcapabilities":
        return "GET", "/geoserver/ows", "service=wms&version=1.3.0&request=getcapabilities", {
            "service": "WMS", "request": "getcapabilities", "version": "1.3.0", "tags": ["ogc"]}  # fmt: skip
    workspaces = [workspace for workspace, _ in picked]
    details: dict[str, Any] = {
        "layers": ",".join(name for _, name in picked),
        "workspaces": workspaces[0] if len(set(workspaces)) == 1 else ",".join(workspaces),
        "tags": ["ogc"],
    }
    qualified = ",".join(f"{workspace}:{name}" for workspace, name in picked)
    if kind == "getfeature":
        output = rng.choice([*_FORMATS, "gml3"])
        details |= {"service": "WFS", "request": "getfeature", "version": "2.0.0"}
        if output in _FORMATS:
            details |= {"outputformat": output, "is_download": True, "download_format": _FORMATS[output]}
        return "GET", "/geoserver/wfs", f"service=wfs&request=getfeature&typenames={qualified}", details
    size = "256x256" if kind == "gettile" else "1024x768"
    width, height = size.split("x")
    details |= {"service": "WMS", "request": "getmap", "version": "1.3.0", "format": "image/png",
                "crs": "EPSG:3857", "width": width, "height": height, "size": size}  # fmt: skip
    if kind == "gettile":
        details["tiled"] = True
    return "GET", "/geoserver/ows", f"service=wms&request=getmap&layers={qualified}&width={width}", details


def _other_ogc(rng: random.Random) -> tuple[str, str, str, str, dict[str, Any]]:
    """(app name, method, path, query, details) of a request 2.x's generic OGC processor kept as is."""
    if rng.random() < 0.5:
        return "mapproxy", "GET", "/ortho/service", "service=wms&request=getmap&layers=ortho_2022", {
            "service": "WMS", "request": "getmap", "layers": "ortho_2022", "tags": ["ogc"]}  # fmt: skip
    return "ogcserver", "GET", "/ogcserver/ows", "service=wms&request=getmap&layers=ign:plan,ign:ortho", {
        "service": "WMS", "request": "getmap", "layers": "ign:plan,ign:ortho", "tags": ["ogc"]}  # fmt: skip


def legacy_rows(count: int, seed: int = 2) -> list[dict[str, Any]]:
    """`count` access_logs rows as 2.x's CLI writes them, over SPAN from START, plus two with BAD_CLOCK."""
    rng = random.Random(seed)
    rows = []
    for position in range(count + 2):
        ts = BAD_CLOCK if position >= count else START + timedelta(seconds=rng.uniform(0, SPAN.total_seconds()))
        user, org, roles = rng.choice(_USERS)
        roll = rng.random()
        if roll < 0.75:
            app, (method, path, query, details) = "geoserver", _geoserver(rng)
            app_path = "/geoserver/"
        elif roll < 0.9:
            app, method, path, query, details = _other_ogc(rng)
            app_path = "/" if app == "mapproxy" else "/ogcserver/"
        else:
            app, method, path, query, details = "console", "POST", "/console/account/changePassword", "", {}
            app_path = "/console/"
        if details:
            details |= _agent(rng)
        span_id = f"{rng.getrandbits(64):016x}"
        status = rng.choice([200, 200, 200, 200, 200, 304, 404, 503])
        server = rng.choice(["demo.georchestra.org", "staging.demo.georchestra.org"])
        rows.append({
            "id": span_id, "ts": ts, "message": f"{method} {status} https://{server}{path}?{query}",
            "app_id": app_path, "app_path": app_path, "app_name": app, "ip": None,
            "user_id": f"uuid-{user}" if user else "", "user_name": user, "org_id": f"uuid-{org}" if org else "",
            "org_name": org, "roles": roles, "auth_method": "GeorchestraUserNamePasswordAuthenticationToken" if user
            else "", "request_method": method, "request_path": path, "request_query_string": query,
            "request_details": details, "response_time": int(rng.lognormvariate(4.5, 1.2)),
            "response_size": rng.randint(100, 3_000_000), "status_code": status,
            "client_ip": f"198.51.100.{rng.randint(1, 254)}", "server_address": server,
            "context_data": {"source_type": "opentelemetry", "span_id": span_id,
                             "trace_id": f"{rng.getrandbits(128):032x}", "logger": "org.georchestra.gateway.accesslog"},
        })  # fmt: skip
    return rows


def buffer_rows(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """Rows the 2.x buffer still holds (the Gateway's events, not yet drained by its cron)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        ts = BUFFERED_AT + timedelta(seconds=rng.uniform(0, 3600))
        _, layer = rng.choice(_LAYERS)
        query = f"SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=psc:{layer}&WIDTH=256&HEIGHT=256"
        url = f"https://demo.georchestra.org/geoserver/wms?{query}"
        attributes = {
            "enduser.id": "testadmin", "enduser.org.id": "PSC", "enduser.roles": "ROLE_USER",
            "http.request.method": "GET", "http.request.path": "/geoserver/wms", "http.request.query-string": query,
            "http.request.url": url, "http.status_code": "200", "http.response.duration_ms": str(rng.randint(5, 900)),
            "http.request.header.User-Agent": _AGENTS[0][0], "http.request.id": f"{rng.getrandbits(80):020x}",
        }  # fmt: skip
        rows.append({
            "timestamp": ts, "observed_timestamp": ts, "message": f"GET 200 {url}", "attributes": attributes,
            "resources": {"service.name": "gateway"}, "scope": {"name": "org.georchestra.gateway.accesslog"},
            "trace_id": f"{rng.getrandbits(128):032x}", "span_id": f"{rng.getrandbits(64):016x}",
            "severity_text": "INFO", "severity_number": 9, "flags": 1, "dropped_attributes_count": 0,
            "source_type": "opentelemetry",
        })  # fmt: skip
    return rows


_AGGREGATE_COLUMNS = ("app_id, app_name, user_name, org_name, request_method, status_code, server_address, "
                      "workspaces, layers, service, request, tiled, is_download, download_format, "
                      "user_agent_family, referrer")  # fmt: skip
_DETAILS = ("workspaces", "layers", "service", "request", "tiled", "is_download", "download_format",
            "user_agent_family", "referrer")  # fmt: skip


def _qualified(schema: str, name: str) -> str:
    """The text of a qualified name, quoted, as a regclass cast reads it (any schema name, hostile ones too)."""
    return sql.Identifier(schema, name).as_string(None)


def _regclass(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}::regclass").format(sql.Literal(_qualified(schema, name)))


def _ddl(schema: str) -> list[sql.Composed]:
    s = sql.Identifier(schema)
    details = sql.SQL(", ").join(
        sql.SQL("request_details ->> {} AS {}").format(sql.Literal(key), sql.Identifier(key)) for key in _DETAILS
    )
    grouped = sql.SQL(", ").join(sql.SQL("request_details ->> {}").format(sql.Literal(key)) for key in _DETAILS)
    statements: list[sql.Composed] = [
        sql.SQL("CREATE SCHEMA {}").format(s),
        sql.SQL(
            "CREATE UNLOGGED TABLE {}.opentelemetry_buffer (timestamp timestamptz, span_id text, trace_id text,"
            " message text, attributes jsonb, resources jsonb, scope jsonb, source_type text, severity_text text,"
            " severity_number integer, observed_timestamp timestamptz, flags integer, dropped_attributes_count"
            " integer)"
        ).format(s),
        sql.SQL(
            "CREATE TABLE {}.access_logs (oid serial, id text, ts timestamptz NOT NULL, message text NOT NULL,"
            " app_id text NOT NULL, app_path text NOT NULL, app_name text NOT NULL, ip text, user_id text,"
            " user_name text, org_id text, org_name text, roles text[], auth_method text, request_method text,"
            " request_path text, request_query_string text, request_details jsonb, response_time integer,"
            " response_size integer, status_code integer, client_ip text, server_address text,"
            " context_data jsonb, PRIMARY KEY (ts, oid))"
        ).format(s),
        sql.SQL("SELECT create_hypertable({}, by_range('ts', interval '7 days'))").format(
            _regclass(schema, "access_logs")
        ),
        sql.SQL("CREATE UNIQUE INDEX idx_id_timestamp ON {}.access_logs (ts, id)").format(s),
        sql.SQL("SELECT add_retention_policy({}, drop_after => interval '3 years')").format(
            _regclass(schema, "access_logs")
        ),
        sql.SQL("ALTER TABLE {}.access_logs SET (timescaledb.compress, timescaledb.compress_segmentby = 'id')").format(
            s
        ),
        sql.SQL("SELECT add_compression_policy({}, compress_after => interval '1 day')").format(
            _regclass(schema, "access_logs")
        ),
        sql.SQL(
            "CREATE MATERIALIZED VIEW {s}.ogc_summary_hourly WITH (timescaledb.continuous) AS"
            " SELECT time_bucket(interval '1 h', ts, {tz}) AS bucket_hourly, app_id, app_name, user_name, org_name,"
            " request_method, status_code, server_address, {details}, count(id) AS nb_req,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time::double precision) AS response_time_median,"
            " min(response_time::double precision) AS response_time_min,"
            " max(response_time::double precision) AS response_time_max"
            " FROM {s}.access_logs WHERE request_details -> 'tags' @> '[\"ogc\"]'"
            " GROUP BY bucket_hourly, app_id, app_name, user_name, org_name, request_method, status_code,"
            " server_address, {grouped} WITH NO DATA"
        ).format(s=s, tz=sql.Literal(TIME_ZONE), details=details, grouped=grouped),
    ]
    for level, unit, source, previous in (("daily", "1 d", "ogc_summary_hourly", "bucket_hourly"),
                                          ("monthly", "1 month", "ogc_summary_daily", "bucket_daily")):  # fmt: skip
        statements.append(
            sql.SQL(
                "CREATE MATERIALIZED VIEW {s}.{name} WITH (timescaledb.continuous) AS"
                " SELECT time_bucket(interval {unit}, {previous}, {tz}) AS {bucket}, {columns}, sum(nb_req) AS nb_req,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_median) AS response_time_median,"
                " min(response_time_min) AS response_time_min, max(response_time_max) AS response_time_max"
                " FROM {s}.{source} GROUP BY {bucket}, {columns} WITH NO DATA"
            ).format(
                s=s,
                name=sql.Identifier(f"ogc_summary_{level}"),
                unit=sql.Literal(unit),
                previous=sql.Identifier(previous),
                tz=sql.Literal(TIME_ZONE),
                bucket=sql.Identifier(f"bucket_{level}"),
                columns=sql.SQL(_AGGREGATE_COLUMNS),
                source=sql.Identifier(source),
            )
        )
    for name, drop_after, start, schedule in (("ogc_summary_hourly", "3 weeks", "7 days", "1 hour"),
                                              ("ogc_summary_daily", "2 years", "3 weeks", "1 day"),
                                              ("ogc_summary_monthly", None, "6 months", "1 month")):  # fmt: skip
        target = _regclass(schema, name)
        if drop_after:
            statements.append(
                sql.SQL("SELECT add_retention_policy({}, drop_after => interval {})").format(
                    target, sql.Literal(drop_after)
                )
            )
        statements.append(
            sql.SQL(
                "SELECT add_continuous_aggregate_policy({}, start_offset => interval {}, end_offset => interval"
                " '0 hours', schedule_interval => interval {})"
            ).format(target, sql.Literal(start), sql.Literal(schedule))
        )
    union = sql.SQL(" UNION ").join(
        sql.SQL(
            "SELECT {period}::text AS period, {bucket} AS bucket, {columns}, nb_req, response_time_median,"
            " response_time_min, response_time_max FROM {s}.{name}"
        ).format(
            period=sql.Literal(period),
            bucket=sql.Identifier(f"bucket_{level}"),
            columns=sql.SQL(_AGGREGATE_COLUMNS),
            s=s,
            name=sql.Identifier(f"ogc_summary_{level}"),
        )
        for level, period in (("hourly", "hour"), ("daily", "day"), ("monthly", "month"))
    )
    statements.append(sql.SQL("CREATE VIEW {}.ogc_summary AS ").format(s) + union)
    return statements


_ACCESS_COLUMNS = ("id", "ts", "message", "app_id", "app_path", "app_name", "ip", "user_id", "user_name", "org_id",
                   "org_name", "roles", "auth_method", "request_method", "request_path", "request_query_string",
                   "request_details", "response_time", "response_size", "status_code", "client_ip",
                   "server_address", "context_data")  # fmt: skip
_BUFFER_COLUMNS = ("timestamp", "span_id", "trace_id", "message", "attributes", "resources", "scope",
                   "source_type", "severity_text", "severity_number", "observed_timestamp", "flags",
                   "dropped_attributes_count")  # fmt: skip
_JSON = frozenset({"request_details", "context_data", "attributes", "resources", "scope"})


@dataclass(frozen=True)
class LegacyDatabase:
    schema: str
    rows: int  # in access_logs
    buffered: int  # in opentelemetry_buffer


def create_legacy_database(
    dsn: str, *, rows: int = 3000, buffered: int = 40, schema: str = "analytics"
) -> LegacyDatabase:
    """Build and fill a 2.0 schema; its aggregates refreshed and its chunks compressed, as its jobs leave them."""
    data = legacy_rows(rows)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in _ddl(schema):
            conn.execute(statement)
        conn.execute(
            "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
            " WHERE hypertable_schema = %s",
            (schema,),
        )
        with (
            conn.cursor() as cursor,
            cursor.copy(
                sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(schema, "access_logs"), sql.SQL(", ").join(map(sql.Identifier, _ACCESS_COLUMNS))
                )
            ) as copy,
        ):
            for row in data:
                copy.write_row([Jsonb(row[c]) if c in _JSON else row[c] for c in _ACCESS_COLUMNS])
        with (
            conn.cursor() as cursor,
            cursor.copy(
                sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(schema, "opentelemetry_buffer"),
                    sql.SQL(", ").join(map(sql.Identifier, _BUFFER_COLUMNS)),
                )
            ) as copy,
        ):
            for row in buffer_rows(buffered):
                copy.write_row([Jsonb(row[c]) if c in _JSON else row[c] for c in _BUFFER_COLUMNS])
        for level in ("hourly", "daily", "monthly"):
            conn.execute(
                "CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
                (
                    _qualified(schema, f"ogc_summary_{level}"),
                    BAD_CLOCK - timedelta(days=62),
                    BUFFERED_AT + timedelta(days=62),
                ),
            )
        conn.execute(
            "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks(%s::regclass) c",
            (_qualified(schema, "access_logs"),),
        )
    return LegacyDatabase(schema=schema, rows=len(data), buffered=buffered)


def database_fingerprint(dsn: str) -> dict[str, Any]:
    """Everything a migration can create or change, database-wide: schemas, relations and their definitions,
    functions, roles, extensions, TimescaleDB's catalog (hypertables, aggregates, jobs) and the bookkeeping."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        user_schemas = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
        fingerprint: dict[str, Any] = {
            "schemas": conn.execute(f"SELECT nspname FROM pg_namespace n WHERE {user_schemas} ORDER BY 1").fetchall(),
            "relations": conn.execute(
                "SELECT n.nspname, c.relname, c.relkind, c.relacl::text FROM pg_class c"
                f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_schemas} ORDER BY 1, 2"
            ).fetchall(),
            "views": conn.execute(
                "SELECT schemaname, viewname, md5(definition) FROM pg_views"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            ).fetchall(),
            "functions": conn.execute(
                "SELECT n.nspname, p.proname, md5(p.prosrc) FROM pg_proc p"
                f" JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_schemas} ORDER BY 1, 2, 3"
            ).fetchall(),
            "roles": conn.execute("SELECT rolname, rolcanlogin FROM pg_roles ORDER BY 1").fetchall(),
            "extensions": conn.execute("SELECT extname, extversion FROM pg_extension ORDER BY 1").fetchall(),
        }
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
            fingerprint["hypertables"] = conn.execute(
                "SELECT hypertable_schema, hypertable_name, compression_enabled"
                " FROM timescaledb_information.hypertables ORDER BY 1, 2"
            ).fetchall()
            fingerprint["jobs"] = conn.execute(
                "SELECT job_id, proc_name, hypertable_name, config::text, schedule_interval"
                " FROM timescaledb_information.jobs ORDER BY 1"
            ).fetchall()
        for table in ("schema_migrations", "settings"):
            if conn.execute("SELECT to_regclass(%s)", (f"analytics.{table}",)).fetchone() != (None,):
                fingerprint[table] = conn.execute(f"SELECT * FROM analytics.{table} ORDER BY 1").fetchall()
    return fingerprint
